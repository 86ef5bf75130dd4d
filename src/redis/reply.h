// Reply: one Redis reply (RESP2) as a plain value that owns all its bytes.
//
// The client copies each hiredis reply into a Reply and frees the hiredis one at once, so no
// hiredis memory outlives the call that read it and no hiredis type appears in a header. A
// Reply is a small value type: copy and move freely; not thread-safe to mutate concurrently.
//
// An error reply (kError) is a command's answer, not a failure of the client: WRONGTYPE, a
// script's error, EXECABORT. Failures to get an answer at all are a non-OK Status instead.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace profiled::redis {

enum class ReplyType : uint8_t {
  kNil,      // absent value (a missing key's GET, a null array)
  kString,   // bulk string: arbitrary bytes in `str`
  kStatus,   // simple string such as OK or QUEUED, in `str`
  kError,    // error reply, "CODE message" in `str`
  kInteger,  // in `integer`
  kArray,    // in `elements`
};

struct Reply {
  ReplyType type = ReplyType::kNil;
  std::string str;              // kString, kStatus, kError
  int64_t integer = 0;          // kInteger
  std::vector<Reply> elements;  // kArray

  static Reply Nil() { return {}; }
  static Reply String(std::string s) { return {ReplyType::kString, std::move(s), 0, {}}; }
  static Reply Simple(std::string s) { return {ReplyType::kStatus, std::move(s), 0, {}}; }
  static Reply Error(std::string s) { return {ReplyType::kError, std::move(s), 0, {}}; }
  static Reply Integer(int64_t i) { return {ReplyType::kInteger, {}, i, {}}; }
  static Reply Array(std::vector<Reply> e) { return {ReplyType::kArray, {}, 0, std::move(e)}; }

  bool is_nil() const { return type == ReplyType::kNil; }
  bool is_error() const { return type == ReplyType::kError; }
  // The first word of an error reply ("MOVED", "WRONGTYPE"); empty for other replies.
  std::string_view error_code() const;

  // For logs and test output: "nil", "\"bytes\"" (escaped), "+OK", "-ERR ...", ":12", "[...]".
  std::string ToString() const;
};

}  // namespace profiled::redis
