#include "store/keys.h"

#include <gtest/gtest.h>

namespace profiled::store {
namespace {

TEST(Keys, ProjectPrefixesNeverNestInsideEachOther) {
  // "ab" + user "c" must not equal "a" + user "bc" in any table.
  EXPECT_NE(UserKey("ab", "c"), UserKey("a", "bc"));
  EXPECT_NE(ProfileKey("a", 1).substr(0, 3), ProfileKey("ab", 1).substr(0, 3));
  EXPECT_FALSE(UserKey("ab", "x").starts_with(ProjectPrefix("a")));
}

TEST(Keys, UserAndDeviceKeysDiffer) {
  EXPECT_NE(UserKey("p", "same-id"), DeviceKey("p", "same-id"));
}

TEST(Keys, EventKeysSortByIngestTimeThenSequence) {
  EXPECT_LT(EventKey("p", 1000, 5), EventKey("p", 1001, 0));
  EXPECT_LT(EventKey("p", 1000, 5), EventKey("p", 1000, 6));
  EXPECT_LE(EventKeyLowerBound("p", 1000), EventKey("p", 1000, 0));
  EXPECT_GT(EventKeyLowerBound("p", 1001), EventKey("p", 1000, ~0ull));
}

TEST(Keys, DedupScopeIsLengthPrefixed) {
  EXPECT_NE(DedupKey("p", "ab", "c"), DedupKey("p", "a", "bc"));
}

}  // namespace
}  // namespace profiled::store
