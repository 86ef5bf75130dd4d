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

}  // namespace
}  // namespace profiled
