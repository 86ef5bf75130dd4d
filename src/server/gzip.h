// Gunzip: decodes a gzip (or zlib) request body with a cap on the decoded size.
//
// Pure function; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace profiled::server {

// Decodes `in` into *out. PayloadTooLarge once the output would exceed max_output;
// InvalidArgument when `in` is not a complete gzip stream.
Status Gunzip(std::string_view in, size_t max_output, std::string* out);

}  // namespace profiled::server
