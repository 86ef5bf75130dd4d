// Streaming JSON output for hot paths: append tokens to a std::string, no DOM.
//
// Free functions on a caller-owned buffer; thread-safe. The caller is responsible for
// the structure (commas, braces); these only format scalars correctly.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace profiled::api {

// Appends s as a quoted JSON string, escaping per RFC 8259. Bytes are copied as they are
// (the input is UTF-8 from parsed JSON or from our own keys).
void AppendJsonString(std::string* out, std::string_view s);

void AppendJsonInt(std::string* out, int64_t v);
void AppendJsonUint(std::string* out, uint64_t v);

}  // namespace profiled::api
