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
  std::string damaged;
  MergeGroupMembership(R"({"org":["theirs"],"team":["t"]})", &into, &changed, &damaged);
  EXPECT_TRUE(changed);
  EXPECT_EQ(damaged, "");
  EXPECT_EQ(into, R"({"org":["mine"],"team":["t"]})");
  MergeGroupMembership("", &into, &changed, &damaged);
  EXPECT_FALSE(changed);
}

TEST(GroupMembership, AMergeWithADamagedRecordNeverFails) {
  std::string into = R"({"org":["mine"]})";
  bool changed = true;
  std::string damaged;
  MergeGroupMembership("{not json", &into, &changed, &damaged);  // from: taken as none
  EXPECT_FALSE(changed);
  EXPECT_NE(damaged, "");
  EXPECT_EQ(into, R"({"org":["mine"]})");
  into = "{not json";
  MergeGroupMembership(R"({"team":["t"]})", &into, &changed, &damaged);  // into: kept as is
  EXPECT_FALSE(changed);
  EXPECT_NE(damaged, "");
  EXPECT_EQ(into, "{not json");
}

TEST(GroupMembership, ASetGroupReplacesADamagedRecordSoTheUserStaysWritable) {
  std::string record = "{not json";
  bool changed = false;
  std::string damaged;
  ASSERT_TRUE(SetGroupMembership({{"org", {"acme"}}}, &record, &changed, &damaged).ok());
  EXPECT_TRUE(changed);
  EXPECT_NE(damaged, "");
  EXPECT_EQ(record, R"({"org":["acme"]})");
  ASSERT_TRUE(SetGroupMembership({{"team", {"t"}}}, &record, &changed, &damaged).ok());
  EXPECT_EQ(damaged, "");  // said only when it was damaged
  EXPECT_EQ(record, R"({"org":["acme"],"team":["t"]})");
}

TEST(GroupMembership, AUserIsInAtMostFiveTypesAndTenNamesOfEach) {
  std::string record;
  bool changed = false;
  ASSERT_TRUE(SetGroupMembership({{"a", {"1"}}, {"b", {"1"}}, {"c", {"1"}}, {"d", {"1"}}}, &record,
                                 &changed)
                  .ok());
  const std::string four = record;
  // A sixth type with a fifth: refused whole, the record unchanged.
  Status s = SetGroupMembership({{"e", {"1"}}, {"f", {"1"}}}, &record, &changed);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.message().find("over the limit of 5"), std::string::npos) << s.message();
  EXPECT_FALSE(changed);
  EXPECT_EQ(record, four);
  // Removing one while adding two ends at five: fine.
  ASSERT_TRUE(SetGroupMembership({{"a", {}}, {"e", {"1"}}, {"f", {"1"}}}, &record, &changed).ok());
  EXPECT_EQ(record, R"({"b":["1"],"c":["1"],"d":["1"],"e":["1"],"f":["1"]})");
  std::vector<std::string> names;
  names.reserve(12);
  for (int i = 0; i < 12; ++i) names.push_back("n" + std::to_string(i));
  ASSERT_TRUE(SetGroupMembership({{"b", names}}, &record, &changed).ok());
  EXPECT_EQ(record, R"({"b":["n0","n1","n2","n3","n4","n5","n6","n7","n8","n9"],)"
                    R"("c":["1"],"d":["1"],"e":["1"],"f":["1"]})");
}

TEST(GroupMembership, ARecordOverTheTypeLimitStillChangesAndShrinks) {
  // Written before the limit: its types may change and go, not grow.
  std::string record = R"({"a":["1"],"b":["1"],"c":["1"],"d":["1"],"e":["1"],"f":["1"]})";
  bool changed = false;
  ASSERT_TRUE(SetGroupMembership({{"a", {"2"}}}, &record, &changed).ok());
  EXPECT_TRUE(changed);
  EXPECT_EQ(SetGroupMembership({{"g", {"1"}}}, &record, &changed).code(),
            ErrorCode::kInvalidArgument);
  ASSERT_TRUE(SetGroupMembership({{"b", {}}}, &record, &changed).ok());
  EXPECT_EQ(record, R"({"a":["2"],"c":["1"],"d":["1"],"e":["1"],"f":["1"]})");
}

}  // namespace
}  // namespace profiled::ingest
