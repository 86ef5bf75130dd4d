#include "core/coding.h"

#include <gtest/gtest.h>

#include <span>
#include <string>
#include <vector>

namespace profiled {
namespace {

TEST(Coding, VarintRoundTripsEdgeValues) {
  for (uint64_t v : {0ull, 1ull, 127ull, 128ull, 300ull, 1ull << 35, ~0ull}) {
    std::string buf;
    PutVarint64(&buf, v);
    std::string_view in = buf;
    uint64_t out = 0;
    ASSERT_TRUE(GetVarint64(&in, &out));
    EXPECT_EQ(out, v);
    EXPECT_TRUE(in.empty());
  }
}

TEST(Coding, TruncatedVarintIsRejected) {
  std::string buf;
  PutVarint64(&buf, 1ull << 40);
  std::string_view in(buf.data(), buf.size() - 1);
  uint64_t out = 0;
  EXPECT_FALSE(GetVarint64(&in, &out));
}

TEST(Coding, BigEndianOrderMatchesNumericOrder) {
  std::string a, b;
  PutFixed64BE(&a, 255);
  PutFixed64BE(&b, 256);
  EXPECT_LT(a, b);
  std::string_view in = b;
  uint64_t v = 0;
  ASSERT_TRUE(GetFixed64BE(&in, &v));
  EXPECT_EQ(v, 256u);
}

TEST(Coding, LengthPrefixedRejectsLengthsPastTheEnd) {
  std::string buf;
  PutLengthPrefixed(&buf, "hello");
  std::string_view in(buf.data(), buf.size() - 1);
  std::string_view s;
  EXPECT_FALSE(GetLengthPrefixed(&in, &s));
  in = buf;
  ASSERT_TRUE(GetLengthPrefixed(&in, &s));
  EXPECT_EQ(s, "hello");
}

TEST(Coding, LittleEndianArraysRoundTripLeastSignificantByteFirst) {
  std::string buf;
  const std::vector<int32_t> ints = {1, -2, 0x01020304};
  const std::vector<float> floats = {0.5F, -3.25F};
  PutArrayLE(&buf, std::span<const int32_t>(ints));
  PutArrayLE(&buf, std::span<const float>(floats));
  PutFixed64LE(&buf, 0x0102030405060708ULL);
  ASSERT_EQ(buf.size(), 12U + 8U + 8U);
  EXPECT_EQ(buf.substr(8, 4), std::string("\x04\x03\x02\x01", 4));
  EXPECT_EQ(buf.substr(20, 1), "\x08");
  std::string_view in = buf;
  std::vector<int32_t> ints_out(3);
  std::vector<float> floats_out(2);
  uint64_t v = 0;
  ASSERT_TRUE(GetArrayLE(&in, std::span<int32_t>(ints_out)));
  ASSERT_TRUE(GetArrayLE(&in, std::span<float>(floats_out)));
  ASSERT_TRUE(GetFixed64LE(&in, &v));
  EXPECT_EQ(ints_out, ints);
  EXPECT_EQ(floats_out, floats);
  EXPECT_EQ(v, 0x0102030405060708ULL);
  EXPECT_TRUE(in.empty());
}

TEST(Coding, LittleEndianArraysPastTheEndAreRejectedWithoutReading) {
  std::string buf;
  PutFixed64LE(&buf, 7);
  std::string_view in(buf.data(), 7);
  uint64_t v = 0;
  EXPECT_FALSE(GetFixed64LE(&in, &v));
  EXPECT_EQ(in.size(), 7U);
  EXPECT_TRUE(HasArrayLE<uint8_t>(in, 7));
  EXPECT_FALSE(HasArrayLE<int32_t>(in, 2));
  EXPECT_FALSE(HasArrayLE<float>(in, uint64_t{1} << 62));  // no overflow in the check
}

}  // namespace
}  // namespace profiled
