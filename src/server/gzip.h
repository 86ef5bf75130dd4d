// Request bodies by Content-Encoding: Gunzip decodes a gzip (or zlib) body with a cap on the
// decoded size; DecodeContentEncoding picks what an endpoint sees.
//
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace profiled::server {

// Decodes `in` into *out. PayloadTooLarge once the output would exceed max_output;
// InvalidArgument when `in` is not a complete gzip stream.
Status Gunzip(std::string_view in, size_t max_output, std::string* out);

enum class BodyDecoding {
  kOk,
  kUnsupportedEncoding,  // neither identity, gzip nor deflate (415)
  kTooLarge,             // decodes to more than max_output bytes (413)
  kInvalid,              // not a complete gzip or zlib stream (400)
};

// The body an endpoint sees for a request with Content-Encoding `encoding` (ASCII case
// ignored): `body` itself when the encoding is empty or "identity"; for "gzip" and "deflate",
// `body` decoded by Gunzip into *decoded, held to max_output. On kOk, *out views `body` or
// *decoded.
BodyDecoding DecodeContentEncoding(std::string_view encoding, std::string_view body,
                                   size_t max_output, std::string* decoded, std::string_view* out);

}  // namespace profiled::server
