// Streaming JSON output for hot paths: append tokens to a std::string, no DOM.
//
// Free functions on a caller-owned buffer; thread-safe. The caller is responsible for
// the structure (commas, braces); these only format scalars correctly.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace profiled {

// Appends s as a quoted JSON string, escaping per RFC 8259. Valid UTF-8 is copied as it
// is; a byte that does not start a valid UTF-8 sequence (text echoed from a URL, say) is
// written as \ufffd, so the output is always valid JSON.
void AppendJsonString(std::string* out, std::string_view s);

// The longest prefix of s of at most max_bytes that does not cut a UTF-8 sequence.
std::string_view Utf8Prefix(std::string_view s, size_t max_bytes);

// Appends items as a JSON array of strings (each as AppendJsonString writes it).
void AppendJsonStringArray(std::string* out, const std::vector<std::string>& items);

void AppendJsonInt(std::string* out, int64_t v);
void AppendJsonUint(std::string* out, uint64_t v);

// Appends a finite double in the shortest form that reads back as the same double,
// laid out as JavaScript's Number#toString does (ECMA-262 Number::toString): plain
// digits from 1e-7 up to 1e21 ("0.1", "100", "18446744073709552000"), exponent form
// outside ("1e+21", "1.5e-7"); -0 is written "0".
// REQUIRES: std::isfinite(v); a non-finite value is written as null (JSON has no
// spelling for it), which callers must never rely on.
void AppendJsonDouble(std::string* out, double v);

}  // namespace profiled
