// Status and Result<T>: how every layer below the HTTP edge reports failure.
//
// A Status is either OK or an ErrorCode plus a human-readable message meant for the
// client (it names what was wrong, never internal detail). Result<T> holds a T or a
// non-OK Status. Both are small value types; copy and move freely. Not thread-safe
// to mutate concurrently, like any value.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace profiled {

// The one error vocabulary of the code base. src/api/http_errors.h maps each to HTTP.
enum class ErrorCode {
  kOk = 0,
  kInvalidArgument,  // the caller sent something malformed or out of range
  kNotFound,         // the thing asked for does not exist
  kUnauthenticated,  // missing or wrong credentials
  kPayloadTooLarge,  // a size limit was exceeded
  kThrottled,        // a rate limit was exceeded
  kUnavailable,      // shutting down, or the store refuses writes; retry later
  kIoError,          // the store failed to read or write
  kCorruption,       // stored bytes do not decode
  kInternal,         // a bug
  kAborted,          // a shared store's writer gave up waiting for another; nothing applied, retry
};

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string msg) {
    return {ErrorCode::kInvalidArgument, std::move(msg)};
  }
  static Status NotFound(std::string msg) { return {ErrorCode::kNotFound, std::move(msg)}; }
  static Status Unauthenticated(std::string msg) {
    return {ErrorCode::kUnauthenticated, std::move(msg)};
  }
  static Status PayloadTooLarge(std::string msg) {
    return {ErrorCode::kPayloadTooLarge, std::move(msg)};
  }
  static Status Throttled(std::string msg) { return {ErrorCode::kThrottled, std::move(msg)}; }
  static Status Unavailable(std::string msg) { return {ErrorCode::kUnavailable, std::move(msg)}; }
  static Status IoError(std::string msg) { return {ErrorCode::kIoError, std::move(msg)}; }
  static Status Corruption(std::string msg) { return {ErrorCode::kCorruption, std::move(msg)}; }
  static Status Internal(std::string msg) { return {ErrorCode::kInternal, std::move(msg)}; }
  static Status Aborted(std::string msg) { return {ErrorCode::kAborted, std::move(msg)}; }

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  bool IsNotFound() const { return code_ == ErrorCode::kNotFound; }

  // "InvalidArgument: <message>", for logs and test failure output.
  std::string ToString() const;

 private:
  Status(ErrorCode code, std::string msg) : code_(code), message_(std::move(msg)) {}

  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

// A T or an error. REQUIRES: the Status given to the error constructor is not OK.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  // The error; an OK Status when this holds a value.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

  // REQUIRES: ok().
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

#define PROFILED_RETURN_IF_ERROR(expr) \
  do {                                 \
    ::profiled::Status _st = (expr);   \
    if (!_st.ok()) return _st;         \
  } while (0)

}  // namespace profiled
