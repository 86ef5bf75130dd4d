#include "ingest/property_ops.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>
#include <limits>

#include "core/value_text.h"

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

std::string AddText(const char* start, const char* delta) {
  json::object o = Apply(Obj(start), {Op(PropertyOpKind::kAdd, "n", delta)});
  return ObjectText(o);
}

TEST(PropertyOps, AddKeepsIntegersExactFromMinusTwoToTheSixtyThreeToTwoToTheSixtyFour) {
  EXPECT_EQ(AddText(R"({"n":9223372036854775807})", "1"), R"({"n":9223372036854775808})");
  EXPECT_EQ(AddText(R"({"n":18446744073709551614})", "1"), R"({"n":18446744073709551615})");
  EXPECT_EQ(AddText(R"({"n":18446744073709551615})", "-18446744073709551615"), R"({"n":0})");
  EXPECT_EQ(AddText(R"({"n":-9223372036854775807})", "-1"), R"({"n":-9223372036854775808})");
  EXPECT_EQ(AddText(R"({"n":"18446744073709551615"})", "-1"), R"({"n":18446744073709551614})");
  // Past the range the sum is a double, written in its shortest form.
  EXPECT_EQ(AddText(R"({"n":18446744073709551615})", "1"), R"({"n":18446744073709552000})");
  EXPECT_EQ(AddText(R"({"n":0.1})", "0.2"), R"({"n":0.30000000000000004})");
}

// A profile is kept as its stored text reads back: the writer's copy in memory and the one
// read again from the store (after a restart, on another node) must give the same results.
json::object ReadBack(const json::object& o) {
  json::object out;
  EXPECT_TRUE(ParseStoredObject(ObjectText(o), &out).ok());
  return out;
}

TEST(PropertyOps, NumbersAreKeptAsTheirTextReadsBack) {
  struct Case {
    const char* first;   // applied, then the profile kept in memory or read back from its text
    const char* second;  // applied next
    const char* want;    // the text both ways
  };
  const Case cases[] = {
      // 2.0 is written 2: $remove of 2 removes it, $postInsert of 2 finds it.
      {R"({"$set":{"l":[2.0]}})", R"({"$remove":{"l":2}})", R"({"l":[]})"},
      {R"({"$set":{"l":[2]}})", R"({"$postInsert":{"l":[2.0,"2"]}})", R"({"l":[2,"2"]})"},
      // 9.2e18 is written 9200000000000000000, an integer: $add stays exact.
      {R"({"$set":{"n":9.2e18}})", R"({"$add":{"n":1}})", R"({"n":9200000000000000001})"},
      // 1e-400 reads as 0.0, written 0.
      {R"({"$set":{"n":1e-400}})", R"({"$add":{"n":9007199254740993}})",
       R"({"n":9007199254740993})"},
      // A sum that is a double but written as an integer is that integer.
      {R"({"$add":{"n":4.6e18}})", R"({"$add":{"n":4.6e18}})", R"({"n":9200000000000000000})"},
      {R"({"$add":{"n":"-2.5e3"}})", R"({"$add":{"n":"18446744073709551615"}})",
       R"({"n":18446744073709549115})"},
      // 2^63 as a double is written 9223372036854776000, which reads back as that integer.
      {R"({"$set":{"n":9223372036854775808.0}})", R"({"$add":{"n":-1}})",
       R"({"n":9223372036854775999})"},
  };
  auto ops_of = [](const char* text) {
    std::vector<PropertyOp> ops;
    json::value parsed = json::parse(text);
    for (const auto& [kind_name, body] : parsed.as_object()) {
      PropertyOpKind kind = kind_name == "$set"          ? PropertyOpKind::kSet
                            : kind_name == "$add"        ? PropertyOpKind::kAdd
                            : kind_name == "$remove"     ? PropertyOpKind::kRemove
                            : kind_name == "$postInsert" ? PropertyOpKind::kPostInsert
                                                         : PropertyOpKind::kClearAll;
      for (const auto& [key, value] : body.as_object()) {
        ops.push_back({kind, std::string(key), value});
      }
    }
    return ops;
  };
  for (const Case& c : cases) {
    json::object kept = Apply({}, ops_of(c.first));
    json::object read = ReadBack(kept);
    EXPECT_EQ(kept, read) << c.first;
    EXPECT_EQ(ObjectText(Apply(kept, ops_of(c.second))), c.want) << c.first << " " << c.second;
    EXPECT_EQ(ObjectText(Apply(read, ops_of(c.second))), c.want) << c.first << " " << c.second;
  }
}

TEST(PropertyOps, AddThatWouldOverflowADoubleLeavesTheValueAlone) {
  EXPECT_EQ(AddText(R"({"n":1.7e308})", "1.7e308"), R"({"n":1.7e+308})");
  EXPECT_EQ(AddText(R"({"n":-1.7e308})", "\"-1.7e308\""), R"({"n":-1.7e+308})");
  EXPECT_EQ(AddText(R"({"n":1})", "\"1e400\""), R"({"n":1})");
}

TEST(PropertyOps, ReadNumberRefusesNonFiniteValues) {
  json::value out;
  EXPECT_FALSE(ReadNumber(json::value(std::numeric_limits<double>::infinity()), &out));
  EXPECT_FALSE(ReadNumber(json::value(std::nan("")), &out));
  EXPECT_FALSE(ReadNumber(json::value("1e400"), &out));
  EXPECT_TRUE(ReadNumber(json::value("1e300"), &out));
}

TEST(PropertyOps, GrowthBoundCoversWhatOpsAdd) {
  std::vector<PropertyOp> ops = {Op(PropertyOpKind::kSet, "name", R"("a long enough value")"),
                                 Op(PropertyOpKind::kAppend, "list", R"([1,2,3])"),
                                 Op(PropertyOpKind::kAdd, "n", "1.5")};
  json::object start = Obj(R"({"list":"scalar","n":-1.7976931348623157e308})");
  size_t before = ObjectText(start).size();
  json::object after = Apply(start, ops);
  EXPECT_GE(before + GrowthBound(ops), ObjectText(after).size());
  EXPECT_EQ(GrowthBound({Op(PropertyOpKind::kUnset, "a"), Op(PropertyOpKind::kClearAll, "")}), 0u);
  // $remove of a matching scalar leaves [], two bytes where "1" was one.
  std::vector<PropertyOp> remove = {Op(PropertyOpKind::kRemove, "b", "1")};
  json::object scalar = Obj(R"({"b":1})");
  EXPECT_GE(ObjectText(scalar).size() + GrowthBound(remove),
            ObjectText(Apply(scalar, remove)).size());
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
