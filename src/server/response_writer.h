// Response bytes: status line, headers and body in one buffer, written with one send.
//
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "api/endpoints.h"

namespace profiled::server {

// Appends a complete HTTP/1.1 response to *out. allow_origin non-empty adds
// Access-Control-Allow-Origin (sent when the request carried an Origin).
void WriteResponse(const api::HttpResponse& response, bool keep_alive,
                   std::string_view allow_origin, std::string* out);

// Appends the 204 answer to a CORS preflight.
void WritePreflight(std::string_view origin, std::string_view requested_headers, bool keep_alive,
                    std::string_view allow_origin, std::string* out);

}  // namespace profiled::server
