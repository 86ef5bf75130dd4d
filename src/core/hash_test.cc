#include "core/hash.h"

#include <gtest/gtest.h>

namespace profiled {
namespace {

// Pinned: stored aggregates and control groups depend on these values. They were computed
// by an independent FNV-1a + fmix64 (a few lines of Python), not by this code.
TEST(StableHash, NeverChangesItsValues) {
  EXPECT_EQ(StableHash(""), 0xefd01f60ba992926ULL);
  EXPECT_EQ(StableHash("a"), 0x82a2a958a9bece5bULL);
  EXPECT_EQ(StableHash("\"books\""), 0xc804e3ff6254d603ULL);
}

TEST(StableHasher, HashesANumberAsItsEightLittleEndianBytes) {
  EXPECT_EQ(StableHasher().Add(uint64_t{42}).Add("r1").Finish(), 0xc8dc0faf55cd3242ULL);
  EXPECT_EQ(StableHasher().Add(uint64_t{42}).Finish(),
            StableHash(std::string_view("\x2a\0\0\0\0\0\0\0", 8)));
}

TEST(StableHasher, AddingInPiecesIsAddingTheWhole) {
  EXPECT_EQ(StableHasher().Add("ab").Add("c").Finish(), StableHash("abc"));
  EXPECT_NE(StableHash("abc"), StableHash("acb"));
}

// The paper's test vectors (key 00 01 .. 0f; messages 00 01 .. of each length).
TEST(SipHash24, MatchesTheReferenceVectors) {
  const uint64_t k0 = 0x0706050403020100ULL;
  const uint64_t k1 = 0x0f0e0d0c0b0a0908ULL;
  std::string message;
  for (int i = 0; i < 15; ++i) message.push_back(static_cast<char>(i));
  EXPECT_EQ(SipHash24(k0, k1, ""), 0x726fdb47dd0e0e31ULL);
  EXPECT_EQ(SipHash24(k0, k1, message), 0xa129ca6149be45e5ULL);
}

TEST(SipHash24, DependsOnTheKey) {
  EXPECT_NE(SipHash24(1, 2, "secret"), SipHash24(1, 3, "secret"));
  EXPECT_NE(SipHash24(1, 2, "secret"), SipHash24(1, 2, "secreT"));
  EXPECT_EQ(SipHash24(1, 2, "secret"), SipHash24(1, 2, "secret"));
}

// RFC 1321's test suite (appendix A.5).
TEST(Md5Hex, MatchesTheRfcTestSuite) {
  EXPECT_EQ(Md5Hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(Md5Hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(Md5Hex("message digest"), "f96b697d7cb7938d525a2f31aaf161d0");
  EXPECT_EQ(
      Md5Hex("12345678901234567890123456789012345678901234567890123456789012345678901234567890"),
      "57edf4a22be3c955ac49da2e2107b67a");
}

}  // namespace
}  // namespace profiled
