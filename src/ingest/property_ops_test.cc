#include "ingest/property_ops.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace profiled::ingest {
namespace {

namespace json = boost::json;

json::object Apply(json::object start, std::vector<PropertyOp> ops) {
  SortPropertyOps(&ops);
  ApplyPropertyOps(ops, &start);
  return start;
}

json::object Obj(const char* text) { return json::parse(text).as_object(); }

PropertyOp Op(PropertyOpKind k, const char* key, const char* value_json = "null") {
  return {k, key, json::parse(value_json)};
}

TEST(PropertyOps, SetOverwrites) {
  EXPECT_EQ(Apply(Obj(R"({"a":1})"), {Op(PropertyOpKind::kSet, "a", "\"x\"")}),
            Obj(R"({"a":"x"})"));
}

TEST(PropertyOps, SetOnceKeepsAnExistingValue) {
  EXPECT_EQ(Apply(Obj(R"({"a":1})"),
                  {Op(PropertyOpKind::kSetOnce, "a", "2"), Op(PropertyOpKind::kSetOnce, "b", "3")}),
            Obj(R"({"a":1,"b":3})"));
}

TEST(PropertyOps, AddIncrementsFromZeroAndKeepsIntegersExact) {
  EXPECT_EQ(Apply(Obj("{}"), {Op(PropertyOpKind::kAdd, "n", "5")}), Obj(R"({"n":5})"));
  EXPECT_EQ(Apply(Obj(R"({"n":5})"), {Op(PropertyOpKind::kAdd, "n", "-7")}), Obj(R"({"n":-2})"));
  EXPECT_EQ(Apply(Obj(R"({"n":1.5})"), {Op(PropertyOpKind::kAdd, "n", "0.25")}),
            Obj(R"({"n":1.75})"));
  EXPECT_EQ(Apply(Obj(R"({"n":9007199254740993})"), {Op(PropertyOpKind::kAdd, "n", "1")}),
            Obj(R"({"n":9007199254740994})"));
}

TEST(PropertyOps, AddReadsNumericStringsAndLeavesOtherValuesAlone) {
  EXPECT_EQ(Apply(Obj(R"({"n":"10"})"), {Op(PropertyOpKind::kAdd, "n", "2")}), Obj(R"({"n":12})"));
  EXPECT_EQ(Apply(Obj(R"({"n":"abc"})"), {Op(PropertyOpKind::kAdd, "n", "2")}),
            Obj(R"({"n":"abc"})"));
  EXPECT_EQ(Apply(Obj(R"({"n":[1]})"), {Op(PropertyOpKind::kAdd, "n", "2")}), Obj(R"({"n":[1]})"));
  EXPECT_EQ(Apply(Obj("{}"), {Op(PropertyOpKind::kAdd, "n", "\"3\"")}), Obj(R"({"n":3})"));
}

TEST(PropertyOps, AppendCreatesExtendsAndWrapsScalars) {
  EXPECT_EQ(Apply(Obj("{}"), {Op(PropertyOpKind::kAppend, "l", "\"a\"")}), Obj(R"({"l":["a"]})"));
  EXPECT_EQ(Apply(Obj(R"({"l":["a"]})"), {Op(PropertyOpKind::kAppend, "l", R"(["b","a"])")}),
            Obj(R"({"l":["a","b","a"]})"));
  EXPECT_EQ(Apply(Obj(R"({"l":"x"})"), {Op(PropertyOpKind::kAppend, "l", "1")}),
            Obj(R"({"l":["x",1]})"));
}

TEST(PropertyOps, PrependKeepsTheGivenOrderAtTheFront) {
  EXPECT_EQ(Apply(Obj(R"({"l":["c"]})"), {Op(PropertyOpKind::kPrepend, "l", R"(["a","b"])")}),
            Obj(R"({"l":["a","b","c"]})"));
  EXPECT_EQ(Apply(Obj("{}"), {Op(PropertyOpKind::kPrepend, "l", "true")}), Obj(R"({"l":[true]})"));
}

TEST(PropertyOps, PreInsertAddsOnlyAbsentValuesAtTheFront) {
  EXPECT_EQ(
      Apply(Obj(R"({"l":["b","c"]})"), {Op(PropertyOpKind::kPreInsert, "l", R"(["a","b","a"])")}),
      Obj(R"({"l":["a","b","c"]})"));
}

TEST(PropertyOps, PostInsertAddsOnlyAbsentValuesAtTheEnd) {
  EXPECT_EQ(
      Apply(Obj(R"({"l":["a"]})"), {Op(PropertyOpKind::kPostInsert, "l", R"(["a","b","b"])")}),
      Obj(R"({"l":["a","b"]})"));
  EXPECT_EQ(Apply(Obj("{}"), {Op(PropertyOpKind::kPostInsert, "l", "\"z\"")}),
            Obj(R"({"l":["z"]})"));
}

TEST(PropertyOps, RemoveDeletesEveryInstance) {
  EXPECT_EQ(Apply(Obj(R"({"l":["a","b","a",1]})"), {Op(PropertyOpKind::kRemove, "l", "\"a\"")}),
            Obj(R"({"l":["b",1]})"));
  EXPECT_EQ(
      Apply(Obj(R"({"l":["a","b","c"]})"), {Op(PropertyOpKind::kRemove, "l", R"(["a","c"])")}),
      Obj(R"({"l":["b"]})"));
  EXPECT_EQ(Apply(Obj(R"({"l":"a"})"), {Op(PropertyOpKind::kRemove, "l", "\"a\"")}),
            Obj(R"({"l":[]})"));
  EXPECT_EQ(Apply(Obj("{}"), {Op(PropertyOpKind::kRemove, "l", "\"a\"")}), Obj("{}"));
  EXPECT_EQ(Apply(Obj(R"({"l":"pro"})"), {Op(PropertyOpKind::kRemove, "l", "\"free\"")}),
            Obj(R"({"l":"pro"})"));
}

TEST(PropertyOps, UnsetRemovesTheKey) {
  EXPECT_EQ(Apply(Obj(R"({"a":1,"b":2})"), {Op(PropertyOpKind::kUnset, "a", "\"-\"")}),
            Obj(R"({"b":2})"));
}

TEST(PropertyOps, ClearAllRemovesEverything) {
  EXPECT_EQ(Apply(Obj(R"({"a":1,"b":2})"), {{PropertyOpKind::kClearAll, "", {}}}), Obj("{}"));
}

TEST(PropertyOps, CombinedOperationsApplyInAmplitudeOrder) {
  // Given in the "wrong" order, they still apply clearAll, unset, set, setOnce, add,
  // append, prepend, preInsert, postInsert, remove.
  json::object out = Apply(
      Obj(R"({"old":1,"gone":2,"n":1})"),
      {Op(PropertyOpKind::kRemove, "l", "\"x\""), Op(PropertyOpKind::kAppend, "l", R"(["x","y"])"),
       Op(PropertyOpKind::kAdd, "n", "2"), Op(PropertyOpKind::kSetOnce, "s", "\"once\""),
       Op(PropertyOpKind::kSet, "s", "\"set\""), Op(PropertyOpKind::kUnset, "gone"),
       Op(PropertyOpKind::kPrepend, "l", "\"w\"")});
  // set before setOnce: setOnce sees the value and keeps it; remove after append.
  EXPECT_EQ(out, Obj(R"({"old":1,"n":3,"s":"set","l":["w","y"]})"));
}

TEST(PropertyOps, ArraysKeepTheNewestThousandValues) {
  json::array many;
  for (int i = 0; i < 1200; ++i) many.push_back(i);
  json::object out = Apply(Obj("{}"), {{PropertyOpKind::kAppend, "l", many}});
  ASSERT_EQ(out.at("l").as_array().size(), kMaxArrayItems);
  EXPECT_EQ(out.at("l").as_array().front(), 200);  // the oldest 200 were dropped
  EXPECT_EQ(out.at("l").as_array().back(), 1199);
  out = Apply(out, {{PropertyOpKind::kPrepend, "l", -1}});
  EXPECT_EQ(out.at("l").as_array().front(), -1);
  EXPECT_EQ(out.at("l").as_array().back(), 1198);
  out = Apply(Obj("{}"), {{PropertyOpKind::kSet, "l", many}});
  EXPECT_EQ(out.at("l").as_array().size(), kMaxArrayItems);
  EXPECT_EQ(out.at("l").as_array().back(), 999);
}

TEST(PropertyOps, AProfileHoldsAtMostAThousandProperties) {
  json::object props;
  for (size_t i = 0; i < kMaxProperties; ++i) props["p" + std::to_string(i)] = 1;
  json::object out =
      Apply(props, {Op(PropertyOpKind::kSet, "extra", "1"), Op(PropertyOpKind::kSet, "p0", "2"),
                    Op(PropertyOpKind::kAdd, "p1", "5")});
  EXPECT_EQ(out.size(), kMaxProperties);
  EXPECT_FALSE(out.contains("extra"));
  EXPECT_EQ(out.at("p0"), 2);  // existing properties still change
  EXPECT_EQ(out.at("p1"), 6);
}

TEST(PropertyOps, ClearAllComesBeforeSetInOneEvent) {
  EXPECT_EQ(Apply(Obj(R"({"a":1})"),
                  {Op(PropertyOpKind::kSet, "b", "2"), {PropertyOpKind::kClearAll, "", {}}}),
            Obj(R"({"b":2})"));
}

}  // namespace
}  // namespace profiled::ingest
