#include "server/response_writer.h"

#include <charconv>

namespace profiled::server {

namespace {
const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

void AppendNumber(std::string* out, size_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}
}  // namespace

void WriteResponse(const api::HttpResponse& response, bool keep_alive,
                   std::string_view allow_origin, std::string* out) {
  out->reserve(out->size() + 160 + response.body.size());
  out->append("HTTP/1.1 ");
  AppendNumber(out, static_cast<size_t>(response.status));
  out->push_back(' ');
  out->append(Reason(response.status));
  out->append("\r\nServer: profiled\r\nContent-Type: ");
  out->append(response.content_type);
  out->append("\r\nContent-Length: ");
  AppendNumber(out, response.body.size());
  if (!allow_origin.empty()) {
    out->append("\r\nAccess-Control-Allow-Origin: ");
    out->append(allow_origin);
    if (allow_origin != "*") out->append("\r\nVary: Origin");
  }
  if (response.status == 405) {
    out->append("\r\nAllow: ");
    out->append(response.allow.empty() ? std::string_view("GET, POST, OPTIONS") : response.allow);
  }
  if (response.retry_after_seconds > 0) {
    out->append("\r\nRetry-After: ");
    AppendNumber(out, static_cast<size_t>(response.retry_after_seconds));
  }
  out->append(response.extra_headers);
  if (!keep_alive) out->append("\r\nConnection: close");
  out->append("\r\n\r\n");
  out->append(response.body);
}

void WritePreflight(std::string_view origin, std::string_view requested_headers, bool keep_alive,
                    std::string_view allow_origin, std::string* out) {
  out->append("HTTP/1.1 204 No Content\r\nServer: profiled\r\nAccess-Control-Allow-Origin: ");
  out->append(allow_origin == "*" || origin.empty() ? std::string_view("*") : allow_origin);
  out->append(
      "\r\nAccess-Control-Allow-Methods: GET, POST, OPTIONS\r\nAccess-Control-Allow-Headers: ");
  out->append(requested_headers.empty()
                  ? std::string_view("Content-Type, Content-Encoding, Authorization, Accept")
                  : requested_headers);
  out->append("\r\nAccess-Control-Max-Age: 86400\r\nContent-Length: 0");
  if (!keep_alive) out->append("\r\nConnection: close");
  out->append("\r\n\r\n");
}

}  // namespace profiled::server
