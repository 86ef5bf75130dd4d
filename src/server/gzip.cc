#include "server/gzip.h"

#include <zlib.h>

namespace profiled::server {

Status Gunzip(std::string_view in, size_t max_output, std::string* out) {
  z_stream zs{};
  // 32 + MAX_WBITS: accept both gzip and zlib headers.
  if (inflateInit2(&zs, 32 + MAX_WBITS) != Z_OK) return Status::Internal("inflateInit2 failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  out->clear();
  char chunk[64 * 1024];
  int rc = Z_OK;
  Status result;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof chunk;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      result = Status::InvalidArgument("Invalid gzip request body");
      break;
    }
    size_t produced = sizeof chunk - zs.avail_out;
    if (out->size() + produced > max_output) {
      result = Status::PayloadTooLarge("Payload too large");
      break;
    }
    out->append(chunk, produced);
    if (rc == Z_OK && produced == 0 && zs.avail_in == 0) {
      result = Status::InvalidArgument("Invalid gzip request body: truncated");
      break;
    }
  }
  inflateEnd(&zs);
  return result;
}

}  // namespace profiled::server
