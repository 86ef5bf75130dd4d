#include "api/http_errors.h"

#include "core/json_writer.h"

namespace profiled::api {

int HttpStatusOf(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return 200;
    case ErrorCode::kInvalidArgument: return 400;
    case ErrorCode::kUnauthenticated: return 401;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kPayloadTooLarge: return 413;
    case ErrorCode::kThrottled: return 429;
    case ErrorCode::kUnavailable:
    case ErrorCode::kAborted:
    case ErrorCode::kIoError: return 503;
    case ErrorCode::kCorruption:
    case ErrorCode::kInternal: return 500;
  }
  return 500;
}

std::string PublicMessage(const Status& status) {
  switch (status.code()) {
    case ErrorCode::kIoError: return "storage unavailable; nothing was applied, retry later";
    case ErrorCode::kCorruption:
    case ErrorCode::kInternal: return "internal error";
    default: return status.message();
  }
}

std::string ProfileErrorBody(std::string_view message) {
  std::string out = "{\"error\":";
  AppendJsonString(&out, message);
  out += '}';
  return out;
}

}  // namespace profiled::api
