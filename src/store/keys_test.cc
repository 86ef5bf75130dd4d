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

TEST(Keys, GroupKeysNeverCollideAcrossTypeAndNameBoundaries) {
  // The type and name are length-prefixed: ("ab","c") is not ("a","bc").
  EXPECT_NE(GroupKey("p", "ab", "c"), GroupKey("p", "a", "bc"));
  EXPECT_TRUE(GroupKey("p", "org", "acme").starts_with(GroupKeyPrefix("p")));
  EXPECT_FALSE(GroupKey("pq", "org", "acme").starts_with(GroupKeyPrefix("p")));
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

TEST(Keys, EveryRecordOfAUserStartsWithItsPrefixAndTheUsersDoNotInterleave) {
  for (auto record : {UserRecord::kProfile, UserRecord::kAggregates, UserRecord::kStaticCohorts}) {
    std::string key = UserRecordKey("p", 7, record);
    EXPECT_TRUE(key.starts_with(UserKeyPrefix("p", 7)));
    EXPECT_EQ(key.size(), UserKeyPrefix("p", 7).size() + 1);
    EXPECT_GT(key, UserKeyPrefix("p", 7));
    EXPECT_LT(key, UserKeyPrefix("p", 8));
  }
  EXPECT_EQ(ProfileKey("p", 7), UserRecordKey("p", 7, UserRecord::kProfile));
  // 255 is the last byte of be64(255): its records stay below user 256's.
  EXPECT_LT(UserRecordKey("p", 255, UserRecord::kStaticCohorts), UserKeyPrefix("p", 256));
}

TEST(Keys, AUserKeyParsesIntoItsParts) {
  UserKeyParts parts;  // views into the key: it must outlive them
  std::string key = UserRecordKey("proj", 42, UserRecord::kAggregates);
  ASSERT_TRUE(ParseUserKey(key, &parts));
  EXPECT_EQ(parts.project, "proj");
  EXPECT_EQ(parts.amplitude_id, 42u);
  EXPECT_EQ(parts.tail, "a");
  // The untagged key of schema versions 1 and 2.
  std::string untagged = UserKeyPrefix("proj", 42);
  ASSERT_TRUE(ParseUserKey(untagged, &parts));
  EXPECT_EQ(parts.amplitude_id, 42u);
  EXPECT_TRUE(parts.tail.empty());
  EXPECT_FALSE(ParseUserKey(ProjectPrefix("proj") + "short", &parts));
  EXPECT_FALSE(ParseUserKey(std::string("\x09proj"), &parts));
}

TEST(Keys, DedupScopeIsLengthPrefixed) {
  EXPECT_NE(DedupKey("p", "ab", "c"), DedupKey("p", "a", "bc"));
}

}  // namespace
}  // namespace profiled::store
