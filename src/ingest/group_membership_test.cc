#include "ingest/group_membership.h"

#include <gtest/gtest.h>

namespace profiled::ingest {
namespace {

TEST(GroupMembership, SettingATypeReplacesItsNamesAndKeepsOtherTypes) {
  std::string record;
  bool changed = false;
  ASSERT_TRUE(
      SetGroupMembership({{"org", {"acme"}}, {"team", {"a", "b"}}}, &record, &changed).ok());
  EXPECT_TRUE(changed);
  EXPECT_EQ(record, R"({"org":["acme"],"team":["a","b"]})");
  ASSERT_TRUE(SetGroupMembership({{"team", {"c"}}}, &record, &changed).ok());
  EXPECT_EQ(record, R"({"org":["acme"],"team":["c"]})");
  ASSERT_TRUE(SetGroupMembership({{"team", {"c"}}}, &record, &changed).ok());
  EXPECT_FALSE(changed);
  ASSERT_TRUE(SetGroupMembership({{"team", {"d", "e", "d"}}}, &record, &changed).ok());
  EXPECT_EQ(record, R"({"org":["acme"],"team":["d","e"]})");
}

TEST(GroupMembership, ATypeWithNoNamesIsRemovedAndNoGroupsLeavesNoRecord) {
  std::string record = R"({"org":["acme"]})";
  bool changed = false;
  ASSERT_TRUE(SetGroupMembership({{"org", {}}}, &record, &changed).ok());
  EXPECT_TRUE(changed);
  EXPECT_EQ(record, "");
}

TEST(GroupMembership, AMergeTakesOnlyTheTypesTheIdentifiedUserLacks) {
  std::string into = R"({"org":["mine"]})";
  bool changed = false;
  ASSERT_TRUE(MergeGroupMembership(R"({"org":["theirs"],"team":["t"]})", &into, &changed).ok());
  EXPECT_TRUE(changed);
  EXPECT_EQ(into, R"({"org":["mine"],"team":["t"]})");
  ASSERT_TRUE(MergeGroupMembership("", &into, &changed).ok());
  EXPECT_FALSE(changed);
}

TEST(GroupMembership, ACorruptRecordIsCorruptionAndStaysAsItWas) {
  std::string record = "not json";
  bool changed = false;
  EXPECT_EQ(SetGroupMembership({{"org", {"a"}}}, &record, &changed).code(), ErrorCode::kCorruption);
  EXPECT_EQ(record, "not json");
  EXPECT_FALSE(changed);
}

}  // namespace
}  // namespace profiled::ingest
