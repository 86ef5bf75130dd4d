// Form and query-string decoding: application/x-www-form-urlencoded, URL query strings
// and multipart/form-data, as /identify and the Profile API receive them.
//
// Pure functions; thread-safe.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace profiled::api {

// Calls fn(key, value) for each "key=value" pair of an urlencoded string, percent- and
// '+'-decoded, until fn returns false. Returns false if a pair has bad percent-encoding
// (or fn stopped).
bool ForEachFormField(std::string_view encoded,
                      const std::function<bool(std::string_view, std::string)>& fn);

// Decodes a form body by its Content-Type (urlencoded or multipart/form-data) into
// *fields (the first value of a repeated name wins). Returns an error text, or empty.
std::string ParseFormBody(std::string_view content_type, std::string_view body,
                          std::map<std::string, std::string>* fields);

// Percent-decodes one URL path segment into *out ('+' stays '+'). False on bad
// percent-encoding.
bool DecodePathSegment(std::string_view segment, std::string* out);

// The non-empty segments of a URL path ("/a//b/" is {"a", "b"}), as views into `path`.
std::vector<std::string_view> PathSegments(std::string_view path);

}  // namespace profiled::api
