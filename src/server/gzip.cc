#include "server/gzip.h"

#include <zlib.h>

#include <boost/beast/core/string.hpp>

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

BodyDecoding DecodeContentEncoding(std::string_view encoding, std::string_view body,
                                   size_t max_output, std::string* decoded, std::string_view* out) {
  namespace beast = boost::beast;
  if (encoding.empty() || beast::iequals(encoding, "identity")) {
    *out = body;
    return BodyDecoding::kOk;
  }
  if (!beast::iequals(encoding, "gzip") && !beast::iequals(encoding, "deflate")) {
    return BodyDecoding::kUnsupportedEncoding;
  }
  Status s = Gunzip(body, max_output, decoded);
  if (!s.ok()) {
    return s.code() == ErrorCode::kPayloadTooLarge ? BodyDecoding::kTooLarge
                                                   : BodyDecoding::kInvalid;
  }
  *out = *decoded;
  return BodyDecoding::kOk;
}

}  // namespace profiled::server
