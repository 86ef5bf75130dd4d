// Credentials in request headers: the schemes of the Authorization header the endpoints
// take (Api-Key for the Profile API, Bearer for the admin API, Basic for the cohort API),
// and a comparison of secrets that does not leak, through its time, how much of a guess
// was right. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace profiled::api {

// What follows `scheme` and a space in an Authorization header (the scheme matched
// case-insensitively), without surrounding spaces; empty when the header is missing, has
// another scheme, or has nothing after it. REQUIRES: `scheme` is lower case.
std::string_view CredentialsOf(std::string_view header, std::string_view scheme);

// Whether a == b, in a time that depends only on their lengths.
bool SameSecret(std::string_view a, std::string_view b);

// Decodes standard base64 (padding optional). False on any other character, or on
// anything after the padding.
bool DecodeBase64(std::string_view in, std::string* out);

}  // namespace profiled::api
