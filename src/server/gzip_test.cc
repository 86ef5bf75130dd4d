#include "server/gzip.h"

#include <gtest/gtest.h>
#include <zlib.h>

namespace profiled::server {
namespace {

std::string Gzip(const std::string& in) {
  z_stream zs{};
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, in.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

TEST(Gzip, RoundTrips) {
  std::string text(300000, 'a');
  std::string out;
  ASSERT_TRUE(Gunzip(Gzip(text), 1 << 20, &out).ok());
  EXPECT_EQ(out, text);
}

TEST(Gzip, StopsAtTheOutputCap) {
  std::string out;
  EXPECT_EQ(Gunzip(Gzip(std::string(2 << 20, 'a')), 1 << 20, &out).code(),
            ErrorCode::kPayloadTooLarge);
}

TEST(Gzip, RejectsGarbageAndTruncation) {
  std::string out;
  EXPECT_EQ(Gunzip("not gzip at all", 1 << 20, &out).code(), ErrorCode::kInvalidArgument);
  std::string z = Gzip("hello world, hello world");
  EXPECT_EQ(Gunzip(z.substr(0, z.size() - 6), 1 << 20, &out).code(), ErrorCode::kInvalidArgument);
}

TEST(ContentEncoding, IdentityAndNoEncodingPassTheBodyThrough) {
  std::string decoded;
  std::string_view out;
  for (std::string_view encoding : {"", "identity", "IDENTITY"}) {
    EXPECT_EQ(DecodeContentEncoding(encoding, "body", 10, &decoded, &out), BodyDecoding::kOk);
    EXPECT_EQ(out, "body");
  }
}

TEST(ContentEncoding, GzipAndDeflateAreDecodedWithinTheLimit) {
  std::string decoded;
  std::string_view out;
  for (std::string_view encoding : {"gzip", "GZip", "deflate"}) {
    EXPECT_EQ(DecodeContentEncoding(encoding, Gzip("hello"), 5, &decoded, &out), BodyDecoding::kOk);
    EXPECT_EQ(out, "hello");
  }
  EXPECT_EQ(DecodeContentEncoding("gzip", Gzip("hello!"), 5, &decoded, &out),
            BodyDecoding::kTooLarge);
  EXPECT_EQ(DecodeContentEncoding("gzip", "hello", 5, &decoded, &out), BodyDecoding::kInvalid);
}

TEST(ContentEncoding, OtherEncodingsAreUnsupported) {
  std::string decoded;
  std::string_view out;
  for (std::string_view encoding : {"br", "gzip, br", "x-gzip"}) {
    EXPECT_EQ(DecodeContentEncoding(encoding, "x", 10, &decoded, &out),
              BodyDecoding::kUnsupportedEncoding)
        << encoding;
  }
}

}  // namespace
}  // namespace profiled::server
