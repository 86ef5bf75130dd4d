#include "api/definition_wire.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <functional>
#include <string>
#include <vector>

namespace profiled::api {
namespace {

namespace json = boost::json;
using compute::Cohort;
using compute::CohortCondition;
using compute::Comparison;
using compute::Computation;
using compute::FilterOp;
using compute::Metric;
using compute::Recommendation;
using compute::TimeScope;

// The issue's examples, verbatim.
constexpr const char* kComputationExample =
    R"({"id":7,"name":"purchases_30d","type":"count","event_type":"Purchase",
 "property":null,"where":[{"prop":"category","op":"is","values":["books"]}],"window_days":30})";

constexpr const char* kCohortExample =
    R"({"id":"c9xk2","name":"Engaged German buyers","definition":{"andClauses":[
  {"negated":false,"orClauses":[{"type":"event","type_value":"Purchase","time_type":"rolling",
     "time_value":30,"operator":">=","operator_value":3,
     "filters":[{"prop":"category","op":"is","values":["books"]}],"metric":null}]},
  {"negated":false,"orClauses":[{"type":"user_property","prop":"country","op":"is","values":["DE"]}]},
  {"negated":true,"orClauses":[{"type":"cohort","type_value":"c1"}]}]}})";

// The definition Amplitude's /api/3/cohorts returns (reference/amplitude.md §3.1).
constexpr const char* kAmplitudeDefinition =
    R"({"version":3,"countGroup":{"name":"User","is_computed":false},"cohortType":"UNIQUES",
   "andClauses":[{"negated":false,"orClauses":[{"type":"event","time_type":"rolling","time_value":30,
   "offset":0,"interval":1,"type_value":"_active","operator":">=","operator_value":1,"group_by":[],"metric":null}]}],
   "referenceFrameTimeParams":{}})";

json::object Obj(const char* text) { return json::parse(text).as_object(); }

// ---- Computations ---------------------------------------------------------------------------

TEST(ParseComputation, ReadsTheIssueExample) {
  Computation c;
  ASSERT_TRUE(ParseComputation(kComputationExample, "7", &c).ok());
  EXPECT_EQ(c.id, 7u);
  EXPECT_EQ(c.name, "purchases_30d");
  EXPECT_EQ(c.spec.metric, Metric::kCount);
  EXPECT_EQ(c.spec.event_type, "Purchase");
  EXPECT_EQ(c.spec.property, "");
  ASSERT_EQ(c.spec.where.size(), 1u);
  EXPECT_EQ(c.spec.where[0].prop, "category");
  EXPECT_EQ(c.spec.where[0].op, FilterOp::kIs);
  EXPECT_EQ(c.spec.where[0].values, std::vector<std::string>{"books"});
  EXPECT_EQ(c.spec.scope.kind, TimeScope::Kind::kRolling);
  EXPECT_EQ(c.spec.scope.days, 30);
}

TEST(ParseComputation, ReadsEveryType) {
  constexpr std::pair<const char*, Metric> kTypes[] = {{"sum", Metric::kSum},
                                                       {"min", Metric::kMin},
                                                       {"max", Metric::kMax},
                                                       {"avg", Metric::kAvg},
                                                       {"first", Metric::kFirst},
                                                       {"last", Metric::kLast},
                                                       {"distinct_count", Metric::kDistinctCount}};
  for (const auto& [type, metric] : kTypes) {
    json::object body{
        {"name", "n"}, {"type", type}, {"event_type", "_active"}, {"property", "$revenue"}};
    Computation c;
    Status s = ParseComputation(json::serialize(body), "12", &c);
    ASSERT_TRUE(s.ok()) << type << ": " << s.ToString();
    EXPECT_EQ(c.spec.metric, metric);
    EXPECT_EQ(c.spec.property, "$revenue");
    EXPECT_EQ(c.spec.event_type, "_active");
    EXPECT_EQ(c.spec.scope.kind, TimeScope::Kind::kAllTime);
    EXPECT_TRUE(c.spec.where.empty());
  }
}

TEST(ParseComputation, ReadsEveryFilterOperatorAndTurnsNumbersIntoText) {
  Computation c;
  Status s = ParseComputation(R"({"name":"n","type":"count","event_type":"E","where":[
      {"prop":"a","op":"is","values":["x",2,2.5]},
      {"prop":"a","op":"is_not","values":["x"]},
      {"prop":"a","op":"is not","values":["x"]},
      {"prop":"a","op":"contains","values":["x"]},
      {"prop":"a","op":"does_not_contain","values":["x"]},
      {"prop":"a","op":"greater","values":[1]},
      {"prop":"a","op":"greater_or_equal","values":["1.5"]},
      {"prop":"a","op":"less","values":[-1]},
      {"prop":"a","op":"less_or_equal","values":[1e3]},
      {"prop":"a","op":"set"},
      {"prop":"$platform","op":"not_set","values":[]}],"window_days":null})",
                              "1", &c);
  ASSERT_TRUE(s.ok()) << s.ToString();
  const std::vector<FilterOp> ops = {FilterOp::kIs,
                                     FilterOp::kIsNot,
                                     FilterOp::kIsNot,
                                     FilterOp::kContains,
                                     FilterOp::kDoesNotContain,
                                     FilterOp::kGreater,
                                     FilterOp::kGreaterOrEqual,
                                     FilterOp::kLess,
                                     FilterOp::kLessOrEqual,
                                     FilterOp::kSet,
                                     FilterOp::kNotSet};
  ASSERT_EQ(c.spec.where.size(), ops.size());
  for (size_t i = 0; i < ops.size(); ++i) EXPECT_EQ(c.spec.where[i].op, ops[i]) << i;
  EXPECT_EQ(c.spec.where[0].values, (std::vector<std::string>{"x", "2", "2.5"}));
  EXPECT_EQ(c.spec.where[7].values, std::vector<std::string>{"-1"});
  EXPECT_EQ(c.spec.where[8].values, std::vector<std::string>{"1000"});
  EXPECT_TRUE(c.spec.where[9].values.empty());
  EXPECT_EQ(c.spec.where[10].prop, "$platform");
  EXPECT_EQ(c.spec.scope.kind, TimeScope::Kind::kAllTime);
}

TEST(ParseComputation, AcceptsTheLimits) {
  json::array values(1000, json::value("v"));
  json::array filters(32, json::object{{"prop", "p"}, {"op", "is"}, {"values", values}});
  json::object body{{"id", 9223372036854775807LL},
                    {"name", std::string(256, 'n')},
                    {"type", "sum"},
                    {"event_type", std::string(1024, 'e')},
                    {"property", std::string(1024, 'p')},
                    {"where", filters},
                    {"window_days", 365},
                    {"description", "d"}};
  Computation c;
  Status s = ParseComputation(json::serialize(body), "9223372036854775807", &c);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(c.id, 9223372036854775807ULL);
  EXPECT_EQ(c.spec.scope.days, 365);
  body["window_days"] = 1;
  std::string accented;  // 1024 characters in 2048 bytes: characters are counted
  for (int i = 0; i < 1024; ++i) accented += "\xc3\xa9";
  body["event_type"] = accented;
  EXPECT_TRUE(ParseComputation(json::serialize(body), "9223372036854775807", &c).ok());
}

TEST(ParseComputation, RefusesAPathIdThatIsNotAPositiveInteger) {
  for (const char* id : {"", "0", "-1", "+5", "01", "abc", "7a", "1.0", " 7", "9223372036854775808",
                         "99999999999999999999"}) {
    Computation c;
    Status s = ParseComputation(R"({"name":"n","type":"count","event_type":"E"})", id, &c);
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument) << id;
    EXPECT_TRUE(s.message().starts_with("id: ")) << s.message();
  }
}

TEST(ParseComputation, RefusesABodyThatIsNotAJsonObject) {
  for (const char* body : {"", "{", "[]", "7", "null", R"({"a":1}x)"}) {
    Computation c;
    Status s = ParseComputation(body, "7", &c);
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument) << body;
    EXPECT_TRUE(s.message().starts_with("body: ")) << s.message();
  }
}

TEST(ParseComputation, RefusesANumberBeyondADouble) {
  Computation c;
  Status s = ParseComputation(
      R"({"name":"n","type":"count","event_type":"E","description":null,"window_days":1e999})", "7",
      &c);
  EXPECT_EQ(s.message(), "body: holds a number too large for a double");
}

// Each case changes one thing of a valid body and names the path the message must start with.
struct Mutation {
  std::function<void(json::object&)> change;
  std::string path;
};

void ExpectComputationRefused(const std::vector<Mutation>& cases) {
  for (const Mutation& m : cases) {
    json::object body{{"id", 7},
                      {"name", "n"},
                      {"type", "sum"},
                      {"event_type", "Purchase"},
                      {"property", "price"},
                      {"where", json::array{json::object{
                                    {"prop", "category"}, {"op", "is"}, {"values", {"books"}}}}},
                      {"window_days", 30}};
    m.change(body);
    Computation c;
    Status s = ParseComputation(json::serialize(body), "7", &c);
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument) << json::serialize(body);
    EXPECT_TRUE(s.message().starts_with(m.path + ": "))
        << "wanted " << m.path << ", got " << s.message();
  }
}

json::object& Where0(json::object& body) { return body["where"].as_array()[0].as_object(); }

TEST(ParseComputation, RefusesEachBadField) {
  ExpectComputationRefused({
      {[](json::object& b) { b["wher"] = json::array{}; }, "wher"},
      {[](json::object& b) { b["status"] = "ready"; }, "status"},
      {[](json::object& b) { b["id"] = 8; }, "id"},
      {[](json::object& b) { b["id"] = "7"; }, "id"},
      {[](json::object& b) { b["id"] = 7.5; }, "id"},
      {[](json::object& b) { b.erase("name"); }, "name"},
      {[](json::object& b) { b["name"] = nullptr; }, "name"},
      {[](json::object& b) { b["name"] = 3; }, "name"},
      {[](json::object& b) { b["name"] = ""; }, "name"},
      {[](json::object& b) { b["name"] = std::string(257, 'n'); }, "name"},
      {[](json::object& b) { b["description"] = 1; }, "description"},
      {[](json::object& b) { b.erase("type"); }, "type"},
      {[](json::object& b) { b["type"] = "median"; }, "type"},
      {[](json::object& b) { b["type"] = "COUNT"; }, "type"},
      {[](json::object& b) { b.erase("event_type"); }, "event_type"},
      {[](json::object& b) { b["event_type"] = ""; }, "event_type"},
      {[](json::object& b) { b["event_type"] = json::array{"a"}; }, "event_type"},
      {[](json::object& b) { b["event_type"] = std::string(1025, 'e'); }, "event_type"},
      {[](json::object& b) { b.erase("property"); }, "property"},
      {[](json::object& b) { b["property"] = ""; }, "property"},
      {[](json::object& b) { b["property"] = "$"; }, "property"},
      {[](json::object& b) { b["property"] = std::string(1025, 'p'); }, "property"},
      {[](json::object& b) {
         b["type"] = "count";
         b["property"] = "price";
       },
       "property"},
      {[](json::object& b) { b["where"] = json::object{}; }, "where"},
      {[](json::object& b) {
         b["where"] = json::array(33, json::object{{"prop", "p"}, {"op", "set"}});
       },
       "where"},
      {[](json::object& b) { b["where"].as_array()[0] = "category"; }, "where[0]"},
      {[](json::object& b) { Where0(b)["then"] = 1; }, "where[0].then"},
      {[](json::object& b) { Where0(b).erase("prop"); }, "where[0].prop"},
      {[](json::object& b) { Where0(b)["prop"] = "$"; }, "where[0].prop"},
      {[](json::object& b) { Where0(b).erase("op"); }, "where[0].op"},
      {[](json::object& b) { Where0(b)["op"] = "~"; }, "where[0].op"},
      {[](json::object& b) { Where0(b)["op"] = 1; }, "where[0].op"},
      {[](json::object& b) { Where0(b)["values"] = "books"; }, "where[0].values"},
      {[](json::object& b) { Where0(b)["values"] = json::array(1001, json::value("v")); },
       "where[0].values"},
      {[](json::object& b) {
         Where0(b)["values"] = json::array{"a", true};
       },
       "where[0].values[1]"},
      {[](json::object& b) { Where0(b)["values"] = json::array{nullptr}; }, "where[0].values[0]"},
      {[](json::object& b) { Where0(b)["values"] = json::array{std::string(1025, 'v')}; },
       "where[0].values[0]"},
      {[](json::object& b) { Where0(b)["values"] = json::array{}; }, "where[0].values"},
      {[](json::object& b) { Where0(b).erase("values"); }, "where[0].values"},
      {[](json::object& b) {
         Where0(b)["op"] = "greater";
         Where0(b)["values"] = json::array{1, 2};
       },
       "where[0].values"},
      {[](json::object& b) {
         Where0(b)["op"] = "less_or_equal";
         Where0(b)["values"] = json::array{"ten"};
       },
       "where[0].values"},
      {[](json::object& b) {
         Where0(b)["op"] = "less";
         Where0(b).erase("values");
       },
       "where[0].values"},
      {[](json::object& b) { Where0(b)["op"] = "set"; }, "where[0].values"},
      {[](json::object& b) { Where0(b)["op"] = "not_set"; }, "where[0].values"},
      {[](json::object& b) { b["window_days"] = 0; }, "window_days"},
      {[](json::object& b) { b["window_days"] = 366; }, "window_days"},
      {[](json::object& b) { b["window_days"] = 1.5; }, "window_days"},
      {[](json::object& b) { b["window_days"] = "30"; }, "window_days"},
  });
}

TEST(ParseComputation, NamesTheOperatorItDoesNotKnow) {
  Computation c;
  Status s = ParseComputation(
      R"({"name":"n","type":"count","event_type":"E","where":[{"prop":"a","op":"is"},
          {"prop":"a","op":"~","values":["x"]}]})",
      "7", &c);
  // The first filter is refused first: it has no values.
  EXPECT_TRUE(s.message().starts_with("where[0].values: ")) << s.message();
  s = ParseComputation(
      R"({"name":"n","type":"count","event_type":"E","where":[{"prop":"a","op":"~","values":["x"]}]})",
      "7", &c);
  EXPECT_TRUE(s.message().starts_with("where[0].op: unknown operator \"~\"")) << s.message();
}

// ---- Cohorts --------------------------------------------------------------------------------

TEST(ParseCohort, ReadsTheIssueExample) {
  Cohort c;
  Status s = ParseCohort(kCohortExample, "c9xk2", &c);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(c.id, "c9xk2");
  EXPECT_EQ(c.name, "Engaged German buyers");
  EXPECT_FALSE(c.is_static);
  ASSERT_EQ(c.all_of.size(), 3u);

  ASSERT_EQ(c.all_of[0].any_of.size(), 1u);
  EXPECT_FALSE(c.all_of[0].negated);
  const CohortCondition& event = c.all_of[0].any_of[0];
  EXPECT_EQ(event.kind, CohortCondition::Kind::kEvent);
  EXPECT_EQ(event.spec.event_type, "Purchase");
  EXPECT_EQ(event.spec.metric, Metric::kCount);
  EXPECT_EQ(event.spec.scope.kind, TimeScope::Kind::kRolling);
  EXPECT_EQ(event.spec.scope.days, 30);
  EXPECT_EQ(event.comparison, Comparison::kGe);
  EXPECT_EQ(event.operand, 3);
  ASSERT_EQ(event.spec.where.size(), 1u);
  EXPECT_EQ(event.spec.where[0].prop, "category");
  EXPECT_EQ(event.spec.where[0].values, std::vector<std::string>{"books"});

  const CohortCondition& country = c.all_of[1].any_of[0];
  EXPECT_EQ(country.kind, CohortCondition::Kind::kUserProperty);
  EXPECT_EQ(country.filter.prop, "country");
  EXPECT_EQ(country.filter.op, FilterOp::kIs);
  EXPECT_EQ(country.filter.values, std::vector<std::string>{"DE"});

  EXPECT_TRUE(c.all_of[2].negated);
  EXPECT_EQ(c.all_of[2].any_of[0].kind, CohortCondition::Kind::kCohort);
  EXPECT_EQ(c.all_of[2].any_of[0].cohort_id, "c1");
}

TEST(ParseCohort, ReadsAnAmplitudeExport) {
  json::object body{{"appId", 123456},
                    {"archived", false},
                    {"definition", Obj(kAmplitudeDefinition)},
                    {"description", "exported"},
                    {"id", "abc123"},
                    {"name", "Active users"},
                    {"owners", json::array{"someone@example.com"}},
                    {"published", true},
                    {"size", 4242},
                    {"type", "redshift"},
                    {"lastMod", 1700000000},
                    {"createdAt", 1690000000},
                    {"lastComputed", 1700000000},
                    {"syncMetadata", json::array{}}};
  Cohort c;
  Status s = ParseCohort(json::serialize(body), "abc123", &c);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(c.all_of.size(), 1u);
  const CohortCondition& active = c.all_of[0].any_of[0];
  EXPECT_EQ(active.spec.event_type, "_active");
  EXPECT_EQ(active.spec.metric, Metric::kCount);
  EXPECT_EQ(active.comparison, Comparison::kGe);
  EXPECT_EQ(active.operand, 1);
  EXPECT_EQ(active.spec.scope.days, 30);
}

TEST(ParseCohort, ReadsTheDefinitionAloneWithoutIdOrName) {
  Cohort c;
  std::string body = std::string(R"({"definition":)") + kAmplitudeDefinition + "}";
  ASSERT_TRUE(ParseCohort(body, "x.y-z_1", &c).ok());
  EXPECT_EQ(c.id, "x.y-z_1");
  EXPECT_EQ(c.name, "");
}

Cohort ParseOneCondition(const std::string& condition) {
  Cohort c;
  std::string body = R"({"definition":{"andClauses":[{"orClauses":[)" + condition + "]}]}}";
  Status s = ParseCohort(body, "c", &c);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return c;
}

TEST(ParseCohort, ReadsEveryMetricAndTimeType) {
  CohortCondition sum =
      ParseOneCondition(
          R"({"type":"event","type_value":"Purchase","time_type":"absolute","start":1700000000,
          "end":1700086400,"operator":">","operator_value":99.5,"metric":{"type":"sum","prop":"$revenue"}})")
          .all_of[0]
          .any_of[0];
  EXPECT_EQ(sum.spec.metric, Metric::kSum);
  EXPECT_EQ(sum.spec.property, "$revenue");
  EXPECT_EQ(sum.spec.scope.kind, TimeScope::Kind::kRange);
  EXPECT_EQ(sum.spec.scope.start_ms, 1700000000000);
  EXPECT_EQ(sum.spec.scope.end_ms, 1700086400999);
  EXPECT_EQ(sum.comparison, Comparison::kGt);
  EXPECT_EQ(sum.operand, 99.5);

  CohortCondition distinct =
      ParseOneCondition(
          R"({"type":"event","type_value":"View","time_type":"since","start":1700000000,
          "operator":"=","operator_value":2,"metric":{"type":"distinct","prop":"sku"}})")
          .all_of[0]
          .any_of[0];
  EXPECT_EQ(distinct.spec.metric, Metric::kDistinctCount);
  EXPECT_EQ(distinct.spec.property, "sku");
  EXPECT_EQ(distinct.spec.scope.kind, TimeScope::Kind::kRange);
  EXPECT_EQ(distinct.spec.scope.start_ms, 1700000000000);
  EXPECT_EQ(distinct.spec.scope.end_ms, std::numeric_limits<int64_t>::max());
  EXPECT_EQ(distinct.comparison, Comparison::kEq);

  CohortCondition days =
      ParseOneCondition(
          R"({"type":"event","type_value":"_active","time_type":"rolling","time_value":7,
          "operator":"<=","operator_value":3,"metric":{"type":"days"}})")
          .all_of[0]
          .any_of[0];
  EXPECT_EQ(days.spec.metric, Metric::kDistinctDays);
  EXPECT_EQ(days.spec.property, "");
  EXPECT_EQ(days.comparison, Comparison::kLe);
}

TEST(ParseCohort, ReadsEveryComparison) {
  constexpr std::pair<const char*, Comparison> kComparisons[] = {
      {">=", Comparison::kGe}, {">", Comparison::kGt}, {"=", Comparison::kEq},
      {"!=", Comparison::kNe}, {"<", Comparison::kLt}, {"<=", Comparison::kLe}};
  for (const auto& [text, comparison] : kComparisons) {
    CohortCondition c =
        ParseOneCondition(
            std::string(
                R"({"type":"event","type_value":"E","time_type":"rolling","time_value":1,"operator":")") +
            text + R"(","operator_value":0})")
            .all_of[0]
            .any_of[0];
    EXPECT_EQ(c.comparison, comparison) << text;
  }
}

TEST(ParseCohort, ReadsAGroupPropertyCondition) {
  Cohort c = ParseOneCondition(
      R"({"type":"group_property","group_type":"org","prop":"plan","op":"is","values":["pro"]})");
  const CohortCondition& g = c.all_of[0].any_of[0];
  EXPECT_EQ(g.kind, CohortCondition::Kind::kGroupProperty);
  EXPECT_EQ(g.group_type, "org");
  EXPECT_EQ(g.filter.prop, "plan");
  EXPECT_EQ(g.filter.op, FilterOp::kIs);
  EXPECT_EQ(g.filter.values, std::vector<std::string>{"pro"});
}

TEST(ParseCohort, ReadsPropertyAndCohortConditions) {
  Cohort c = ParseOneCondition(
      R"({"type":"user_property","prop":"gp:plan","op":"is not","values":["free"]},
         {"type":"computed_property","prop":7,"op":"greater","values":[3]},
         {"type":"computed_property","prop":"8","op":"set"},
         {"type":"cohort","type_value":"other-1"})");
  const auto& any = c.all_of[0].any_of;
  ASSERT_EQ(any.size(), 4u);
  EXPECT_EQ(any[0].kind, CohortCondition::Kind::kUserProperty);
  EXPECT_EQ(any[0].filter.prop, "plan");  // Amplitude's "gp:" prefix dropped
  EXPECT_EQ(any[0].filter.op, FilterOp::kIsNot);
  EXPECT_EQ(any[1].kind, CohortCondition::Kind::kComputedProperty);
  EXPECT_EQ(any[1].filter.prop, "7");
  EXPECT_EQ(any[1].filter.values, std::vector<std::string>{"3"});
  EXPECT_EQ(any[2].filter.prop, "8");
  EXPECT_EQ(any[2].filter.op, FilterOp::kSet);
  EXPECT_EQ(any[3].kind, CohortCondition::Kind::kCohort);
  EXPECT_EQ(any[3].cohort_id, "other-1");
}

TEST(ParseCohort, RefusesAPathIdOutsideTheAlphabet) {
  for (const std::string& id : {std::string(), std::string("a b"), std::string("a/b"),
                                std::string("\xc3\xa9"), std::string(129, 'a')}) {
    Cohort c;
    Status s = ParseCohort(kCohortExample, id, &c);
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument) << id;
    EXPECT_TRUE(s.message().starts_with("id: ")) << s.message();
  }
  Cohort c;
  EXPECT_TRUE(ParseCohort(R"({"definition":)" + std::string(kAmplitudeDefinition) + "}",
                          std::string(128, 'a'), &c)
                  .ok());
}

void ExpectCohortRefused(const std::vector<Mutation>& cases) {
  for (const Mutation& m : cases) {
    json::object body = Obj(kCohortExample);
    m.change(body);
    Cohort c;
    Status s = ParseCohort(json::serialize(body), "c9xk2", &c);
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument) << json::serialize(body);
    EXPECT_TRUE(s.message().starts_with(m.path + ": "))
        << "wanted " << m.path << ", got " << s.message();
  }
}

json::object& Def(json::object& b) { return b["definition"].as_object(); }
json::array& And(json::object& b) { return Def(b)["andClauses"].as_array(); }
json::object& Clause(json::object& b, size_t i) { return And(b)[i].as_object(); }
json::object& Cond(json::object& b, size_t i) {
  return Clause(b, i)["orClauses"].as_array()[0].as_object();
}
json::object& Event(json::object& b) { return Cond(b, 0); }

constexpr const char* kClause0 = "definition.andClauses[0]";
constexpr const char* kEvent = "definition.andClauses[0].orClauses[0]";
constexpr const char* kUser = "definition.andClauses[1].orClauses[0]";
constexpr const char* kRef = "definition.andClauses[2].orClauses[0]";

std::string At(const char* base, const char* field) { return std::string(base) + "." + field; }

TEST(ParseCohort, RefusesEachBadEnvelopeField) {
  ExpectCohortRefused({
      {[](json::object& b) { b["id"] = "other"; }, "id"},
      {[](json::object& b) { b["id"] = 7; }, "id"},
      {[](json::object& b) { b["name"] = 7; }, "name"},
      {[](json::object& b) { b["name"] = std::string(257, 'n'); }, "name"},
      {[](json::object& b) { b["bogus"] = 1; }, "bogus"},
      {[](json::object& b) { b["is_static"] = true; }, "is_static"},
      {[](json::object& b) { b.erase("definition"); }, "definition"},
      {[](json::object& b) { b["definition"] = json::array{}; }, "definition"},
      {[](json::object& b) { Def(b)["then"] = json::array{}; }, "definition.then"},
      {[](json::object& b) { Def(b)["version"] = 2; }, "definition.version"},
      {[](json::object& b) { Def(b)["countGroup"] = "User"; }, "definition.countGroup"},
      {[](json::object& b) {
         Def(b)["countGroup"] = json::object{{"name", "Company"}};
       },
       "definition.countGroup.name"},
      {[](json::object& b) {
         Def(b)["countGroup"] = json::object{{"name", "User"}, {"is_computed", true}};
       },
       "definition.countGroup.is_computed"},
      {[](json::object& b) {
         Def(b)["countGroup"] = json::object{{"kind", "x"}};
       },
       "definition.countGroup.kind"},
      {[](json::object& b) { Def(b)["cohortType"] = "PROPENSITY"; }, "definition.cohortType"},
      {[](json::object& b) {
         Def(b)["referenceFrameTimeParams"] = json::object{{"a", 1}};
       },
       "definition.referenceFrameTimeParams"},
      {[](json::object& b) { Def(b).erase("andClauses"); }, "definition.andClauses"},
      {[](json::object& b) { Def(b)["andClauses"] = json::array{}; }, "definition.andClauses"},
      {[](json::object& b) { Def(b)["andClauses"] = json::object{}; }, "definition.andClauses"},
      {[](json::object& b) {
         json::value clause = And(b)[1];
         And(b) = json::array(33, clause);
       },
       "definition.andClauses"},
      {[](json::object& b) { And(b)[0] = true; }, kClause0},
      {[](json::object& b) { Clause(b, 0)["negated"] = "no"; }, At(kClause0, "negated")},
      {[](json::object& b) { Clause(b, 0)["and"] = 1; }, At(kClause0, "and")},
      {[](json::object& b) { Clause(b, 0).erase("orClauses"); }, At(kClause0, "orClauses")},
      {[](json::object& b) { Clause(b, 0)["orClauses"] = json::array{}; },
       At(kClause0, "orClauses")},
      {[](json::object& b) {
         json::value condition = Cond(b, 1);
         Clause(b, 0)["orClauses"] = json::array(33, condition);
       },
       At(kClause0, "orClauses")},
      {[](json::object& b) { Clause(b, 0)["orClauses"].as_array()[0] = 1; }, kEvent},
  });
}

TEST(ParseCohort, RefusesEachBadConditionField) {
  ExpectCohortRefused({
      {[](json::object& b) { Event(b).erase("type"); }, At(kEvent, "type")},
      {[](json::object& b) { Event(b)["type"] = "propensity"; }, At(kEvent, "type")},
      {[](json::object& b) { Event(b)["type"] = "event_then"; }, At(kEvent, "type")},
      {[](json::object& b) { Event(b)["then"] = json::array{}; }, At(kEvent, "then")},
      {[](json::object& b) { Event(b)["prop"] = "x"; }, At(kEvent, "prop")},
      {[](json::object& b) { Event(b).erase("type_value"); }, At(kEvent, "type_value")},
      {[](json::object& b) { Event(b)["type_value"] = ""; }, At(kEvent, "type_value")},
      {[](json::object& b) { Event(b).erase("time_type"); }, At(kEvent, "time_type")},
      {[](json::object& b) { Event(b)["time_type"] = "within"; }, At(kEvent, "time_type")},
      {[](json::object& b) { Event(b).erase("time_value"); }, At(kEvent, "time_value")},
      {[](json::object& b) { Event(b)["time_value"] = 0; }, At(kEvent, "time_value")},
      {[](json::object& b) { Event(b)["time_value"] = 366; }, At(kEvent, "time_value")},
      {[](json::object& b) { Event(b)["time_value"] = 2.5; }, At(kEvent, "time_value")},
      {[](json::object& b) { Event(b)["start"] = 1700000000; }, At(kEvent, "start")},
      {[](json::object& b) {
         Event(b)["time_type"] = "absolute";
         Event(b).erase("time_value");
         Event(b)["start"] = 1700000000;
       },
       At(kEvent, "end")},
      {[](json::object& b) {
         Event(b)["time_type"] = "absolute";
         Event(b).erase("time_value");
         Event(b)["end"] = 1700000000;
       },
       At(kEvent, "start")},
      {[](json::object& b) {
         Event(b)["time_type"] = "absolute";
         Event(b).erase("time_value");
         Event(b)["start"] = 1700000000;
         Event(b)["end"] = 1700000000;
       },
       At(kEvent, "end")},
      {[](json::object& b) {
         Event(b)["time_type"] = "absolute";
         Event(b)["start"] = 1;
         Event(b)["end"] = 2;
       },
       At(kEvent, "time_value")},
      {[](json::object& b) {
         Event(b)["time_type"] = "since";
         Event(b).erase("time_value");
         Event(b)["start"] = -1;
       },
       At(kEvent, "start")},
      {[](json::object& b) {
         Event(b)["time_type"] = "since";
         Event(b).erase("time_value");
         Event(b)["start"] = 1;
         Event(b)["end"] = 2;
       },
       At(kEvent, "end")},
      {[](json::object& b) {
         Event(b)["time_type"] = "since";
         Event(b).erase("time_value");
         Event(b)["start"] = 253402300800LL;  // year 10000
       },
       At(kEvent, "start")},
      {[](json::object& b) { Event(b).erase("operator"); }, At(kEvent, "operator")},
      {[](json::object& b) { Event(b)["operator"] = "=="; }, At(kEvent, "operator")},
      {[](json::object& b) { Event(b)["operator"] = 1; }, At(kEvent, "operator")},
      {[](json::object& b) { Event(b).erase("operator_value"); }, At(kEvent, "operator_value")},
      {[](json::object& b) { Event(b)["operator_value"] = -1; }, At(kEvent, "operator_value")},
      {[](json::object& b) { Event(b)["operator_value"] = "3"; }, At(kEvent, "operator_value")},
      {[](json::object& b) { Event(b)["filters"] = "x"; }, At(kEvent, "filters")},
      {[](json::object& b) { Event(b)["filters"].as_array()[0].as_object()["op"] = "like"; },
       At(kEvent, "filters[0].op")},
      {[](json::object& b) { Event(b)["metric"] = "sum"; }, At(kEvent, "metric")},
      {[](json::object& b) {
         Event(b)["metric"] = json::object{{"type", "avg"}, {"prop", "p"}};
       },
       At(kEvent, "metric.type")},
      {[](json::object& b) {
         Event(b)["metric"] = json::object{{"prop", "p"}};
       },
       At(kEvent, "metric.type")},
      {[](json::object& b) {
         Event(b)["metric"] = json::object{{"type", "sum"}};
       },
       At(kEvent, "metric.prop")},
      {[](json::object& b) {
         Event(b)["metric"] = json::object{{"type", "distinct"}, {"prop", ""}};
       },
       At(kEvent, "metric.prop")},
      {[](json::object& b) {
         Event(b)["metric"] = json::object{{"type", "days"}, {"prop", "p"}};
       },
       At(kEvent, "metric.prop")},
      {[](json::object& b) {
         Event(b)["metric"] = json::object{{"type", "sum"}, {"prop", "p"}, {"nth", 2}};
       },
       At(kEvent, "metric.nth")},
      {[](json::object& b) { Event(b)["offset"] = 1; }, At(kEvent, "offset")},
      {[](json::object& b) { Event(b)["interval"] = 7; }, At(kEvent, "interval")},
      {[](json::object& b) { Event(b)["group_by"] = json::array{"country"}; },
       At(kEvent, "group_by")},
      {[](json::object& b) { Event(b)["group_by"] = "country"; }, At(kEvent, "group_by")},
      {[](json::object& b) { Cond(b, 1)["time_type"] = "rolling"; }, At(kUser, "time_type")},
      {[](json::object& b) { Cond(b, 1).erase("prop"); }, At(kUser, "prop")},
      {[](json::object& b) { Cond(b, 1)["op"] = "~"; }, At(kUser, "op")},
      {[](json::object& b) { Cond(b, 1)["values"] = json::array{}; }, At(kUser, "values")},
      {[](json::object& b) {
         Cond(b, 1)["type"] = "computed_property";
         Cond(b, 1)["prop"] = "purchases";
       },
       At(kUser, "prop")},
      {[](json::object& b) {
         Cond(b, 1)["type"] = "computed_property";
         Cond(b, 1)["prop"] = 0;
       },
       At(kUser, "prop")},
      {[](json::object& b) {
         Cond(b, 1)["type"] = "computed_property";
         Cond(b, 1).erase("prop");
       },
       At(kUser, "prop")},
      {[](json::object& b) {
         Cond(b, 1)["type"] = "computed_property";
         Cond(b, 1)["prop"] = "7";
         Cond(b, 1)["op"] = "greater";
       },
       At(kUser, "values")},
      {[](json::object& b) { Cond(b, 2).erase("type_value"); }, At(kRef, "type_value")},
      {[](json::object& b) { Cond(b, 2)["type_value"] = "a b"; }, At(kRef, "type_value")},
      {[](json::object& b) { Cond(b, 2)["type_value"] = 7; }, At(kRef, "type_value")},
      {[](json::object& b) { Cond(b, 2)["negated"] = true; }, At(kRef, "negated")},
  });
}

TEST(ParseCohort, NamesTheOperatorItDoesNotKnow) {
  json::object body = Obj(kCohortExample);
  json::object condition = Event(body);
  condition["operator"] = "~";
  Clause(body, 1)["orClauses"] = json::array{condition};
  Cohort c;
  Status s = ParseCohort(json::serialize(body), "c9xk2", &c);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(s.message().starts_with(
      R"(definition.andClauses[1].orClauses[0].operator: unknown operator "~")"))
      << s.message();
}

TEST(ParseCohort, QuotesLongTextShortly) {
  json::object body = Obj(kCohortExample);
  Event(body)["operator"] = std::string(5000, '~');
  Cohort c;
  Status s = ParseCohort(json::serialize(body), "c9xk2", &c);
  EXPECT_LT(s.message().size(), 300u) << s.message();
}

// ---- Recommendations ------------------------------------------------------------------------

// The issue's example, verbatim.
constexpr const char* kRecommendationExample =
    R"({"id":"r1","title":"Recommended for you","model":"ease",
 "item_event":"Product Viewed","item_property":"product_id",
 "history_window_days":90,"candidates":{"top_n":1000},"exclude_items":[],"exclude_seen":true,
 "max_items":50,"control_percentage":10,"control_group_of":null,
 "retrain_every_minutes":60,"params":{"lambda":300}})";

TEST(ParseRecommendation, ReadsTheIssueExample) {
  Recommendation r;
  std::string source;
  Status s = ParseRecommendation(kRecommendationExample, "r1", &r, &source);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(r.id, "r1");
  EXPECT_EQ(r.title, "Recommended for you");
  EXPECT_EQ(r.model, "ease");
  EXPECT_EQ(r.params, (std::vector<std::pair<std::string, std::string>>{{"lambda", "300"}}));
  EXPECT_EQ(r.item_event, "Product Viewed");
  EXPECT_EQ(r.item_property, "product_id");
  EXPECT_EQ(r.history_window_days, 90);
  EXPECT_EQ(r.candidates_top_n, 1000);
  EXPECT_TRUE(r.candidate_items.empty());
  EXPECT_TRUE(r.exclude_items.empty());
  EXPECT_TRUE(r.exclude_seen);
  EXPECT_EQ(r.max_items, 50);
  EXPECT_EQ(r.control_percentage, 10);
  EXPECT_EQ(r.control_group_of, "");
  EXPECT_EQ(r.retrain_every_minutes, 60);
  EXPECT_EQ(r.history.event_type, "Product Viewed");
  EXPECT_EQ(r.history.metric, Metric::kItems);
  EXPECT_EQ(r.history.property, "product_id");
  EXPECT_TRUE(r.history.where.empty());
  EXPECT_EQ(r.history.scope.kind, TimeScope::Kind::kRolling);
  EXPECT_EQ(r.history.scope.days, 90);
  // The normalised text is the example, compact.
  EXPECT_EQ(source, json::serialize(json::parse(kRecommendationExample)));
}

TEST(ParseRecommendation, FillsInTheDefaults) {
  Recommendation r;
  std::string source;
  Status s = ParseRecommendation(
      R"({"model":"popular","item_event":"Movie Rated","item_property":"movie_id",
          "title":null,"params":null,"candidates":null,"exclude_items":null,"exclude_seen":null,
          "max_items":null,"control_percentage":null,"history_window_days":null,
          "retrain_every_minutes":null})",
      "movies", &r, &source);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(r.id, "movies");
  EXPECT_EQ(r.title, "");
  EXPECT_TRUE(r.params.empty());
  EXPECT_EQ(r.history_window_days, 90);
  EXPECT_EQ(r.candidates_top_n, 1000);
  EXPECT_TRUE(r.exclude_seen);
  EXPECT_EQ(r.max_items, 50);
  EXPECT_EQ(r.control_percentage, 0);
  EXPECT_EQ(r.retrain_every_minutes, 60);
  EXPECT_EQ(r.history.scope.days, 90);
  EXPECT_EQ(source,
            R"({"id":"movies","title":"","model":"popular","item_event":"Movie Rated",)"
            R"("item_property":"movie_id","history_window_days":90,"candidates":{"top_n":1000},)"
            R"("exclude_items":[],"exclude_seen":true,"max_items":50,"control_percentage":0,)"
            R"("control_group_of":null,"retrain_every_minutes":60,"params":{}})");
}

TEST(ParseRecommendation, ReadsAFixedCandidateListAndEveryOtherField) {
  Recommendation r;
  std::string source;
  Status s = ParseRecommendation(
      R"({"id":"r.2","title":"Ähnliche Filme","model":"itemknn","params":{"neighbours":20.0},
          "item_event":"_active","item_property":"$product_id","history_window_days":1,
          "candidates":{"items":["b","a","\"x\""]},"exclude_items":["a"],"exclude_seen":false,
          "max_items":100,"control_percentage":12.5,"control_group_of":"r1",
          "retrain_every_minutes":0})",
      "r.2", &r, &source);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(r.model, "itemknn");
  EXPECT_EQ(r.params, (std::vector<std::pair<std::string, std::string>>{{"neighbours", "20"}}));
  EXPECT_EQ(r.item_property, "$product_id");
  EXPECT_EQ(r.candidate_items, (std::vector<std::string>{"b", "a", "\"x\""}));
  EXPECT_EQ(r.exclude_items, std::vector<std::string>{"a"});
  EXPECT_FALSE(r.exclude_seen);
  EXPECT_EQ(r.max_items, 100);
  EXPECT_EQ(r.control_percentage, 12.5);
  EXPECT_EQ(r.control_group_of, "r1");
  EXPECT_EQ(r.retrain_every_minutes, 0);
  EXPECT_EQ(r.history.scope.days, 1);
  EXPECT_EQ(r.history.event_type, "_active");
  EXPECT_EQ(r.history.property, "$product_id");
  EXPECT_EQ(json::parse(source), json::parse(R"({"id":"r.2","title":"Ähnliche Filme",
      "model":"itemknn","item_event":"_active","item_property":"$product_id",
      "history_window_days":1,"candidates":{"items":["b","a","\"x\""]},"exclude_items":["a"],
      "exclude_seen":false,"max_items":100,"control_percentage":12.5,"control_group_of":"r1",
      "retrain_every_minutes":0,"params":{"neighbours":20}})"));
}

TEST(ParseRecommendation, SortsParamsByName) {
  Recommendation r;
  std::string source;
  ASSERT_TRUE(ParseRecommendation(R"({"model":"ease","item_event":"E","item_property":"p",
                                      "params":{"max_items":500,"lambda":0.5}})",
                                  "r", &r, &source)
                  .ok());
  EXPECT_EQ(r.params, (std::vector<std::pair<std::string, std::string>>{{"lambda", "0.5"},
                                                                        {"max_items", "500"}}));
  EXPECT_NE(source.find(R"("params":{"lambda":0.5,"max_items":500})"), std::string::npos);
}

TEST(ParseRecommendation, ParsesItsOwnSourceToTheSameDefinition) {
  for (const char* body :
       {kRecommendationExample,
        R"({"model":"itemknn","item_event":"E","item_property":"p","title":"\u00e9\n",
            "candidates":{"items":["x","y"]},"exclude_items":["z"],"control_percentage":0.1,
            "params":{"neighbours":3},"control_group_of":"other"})"}) {
    Recommendation first;
    std::string source;
    ASSERT_TRUE(ParseRecommendation(body, "r1", &first, &source).ok()) << body;
    Recommendation second;
    std::string again;
    Status s = ParseRecommendation(source, "r1", &second, &again);
    ASSERT_TRUE(s.ok()) << source << ": " << s.ToString();
    EXPECT_EQ(again, source);
    EXPECT_EQ(second.params, first.params);
    EXPECT_EQ(second.candidate_items, first.candidate_items);
    EXPECT_EQ(second.control_percentage, first.control_percentage);
    EXPECT_EQ(second.title, first.title);
    EXPECT_EQ(second.history.Canonical(), first.history.Canonical());
  }
}

TEST(ParseRecommendation, AcceptsTheLimits) {
  json::object body{{"model", "popular"},
                    {"item_event", std::string(1024, 'e')},
                    {"item_property", std::string(1024, 'p')},
                    {"title", std::string(200, 't')},
                    {"history_window_days", 365},
                    {"candidates", json::object{{"top_n", 100000}}},
                    {"exclude_items", json::array(10000, json::value(std::string(256, 'x')))},
                    {"max_items", 1},
                    {"control_percentage", 100},
                    {"control_group_of", std::string(128, 'g')},
                    {"retrain_every_minutes", 10080}};
  Recommendation r;
  std::string source;
  Status s = ParseRecommendation(json::serialize(body), std::string(128, 'r'), &r, &source);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(r.candidates_top_n, 100000);
  EXPECT_EQ(r.exclude_items.size(), 10000u);
  body["candidates"] = json::object{{"items", json::array(10000, json::value("i"))}};
  ASSERT_TRUE(ParseRecommendation(json::serialize(body), "r", &r, &source).ok());
  EXPECT_EQ(r.candidate_items.size(), 10000u);
}

TEST(ParseRecommendation, RefusesAPathIdOutsideTheAlphabet) {
  Recommendation r;
  std::string source;
  for (const std::string& id :
       {std::string(), std::string("a,b"), std::string("a b"), std::string(129, 'r')}) {
    Status s = ParseRecommendation(kRecommendationExample, id, &r, &source);
    EXPECT_TRUE(s.message().starts_with("id: the id in the path")) << id << ": " << s.message();
  }
}

void ExpectRecommendationRefused(const std::vector<Mutation>& cases) {
  for (const Mutation& m : cases) {
    json::object body = json::parse(kRecommendationExample).as_object();
    m.change(body);
    Recommendation r;
    std::string source = "unchanged";
    Status s = ParseRecommendation(json::serialize(body), "r1", &r, &source);
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument) << json::serialize(body);
    EXPECT_TRUE(s.message().starts_with(m.path + ": "))
        << "wanted " << m.path << ", got " << s.message();
    EXPECT_EQ(source, "unchanged");
  }
}

TEST(ParseRecommendation, RefusesEachBadField) {
  ExpectRecommendationRefused({
      {[](json::object& b) { b["modle"] = "ease"; }, "modle"},
      {[](json::object& b) { b["status"] = "ready"; }, "status"},
      {[](json::object& b) { b["id"] = "r2"; }, "id"},
      {[](json::object& b) { b["id"] = 1; }, "id"},
      {[](json::object& b) { b["title"] = 1; }, "title"},
      {[](json::object& b) { b["title"] = std::string(201, 't'); }, "title"},
      {[](json::object& b) { b.erase("model"); }, "model"},
      {[](json::object& b) { b["model"] = "EASE"; }, "model"},
      {[](json::object& b) { b["model"] = "svd"; }, "model"},
      {[](json::object& b) { b["model"] = 1; }, "model"},
      {[](json::object& b) { b["params"] = json::array{}; }, "params"},
      {[](json::object& b) {
         b["params"] = json::object{{"alpha", 1}};
       },
       "params.alpha"},
      {[](json::object& b) {
         b["params"] = json::object{{"lambda", 0}};
       },
       "params.lambda"},
      {[](json::object& b) {
         b["params"] = json::object{{"lambda", "300"}};
       },
       "params.lambda"},
      {[](json::object& b) {
         b["params"] = json::object{{"neighbours", 10}};
       },
       "params.neighbours"},
      {[](json::object& b) {
         b["params"] = json::object{{"max_items", 1.5}};
       },
       "params.max_items"},
      {[](json::object& b) {
         b["model"] = "popular";  // popular has no parameter at all
       },
       "params.lambda"},
      {[](json::object& b) { b.erase("item_event"); }, "item_event"},
      {[](json::object& b) { b["item_event"] = ""; }, "item_event"},
      {[](json::object& b) { b["item_event"] = json::array{"E"}; }, "item_event"},
      {[](json::object& b) { b["item_event"] = std::string(1025, 'e'); }, "item_event"},
      {[](json::object& b) { b.erase("item_property"); }, "item_property"},
      {[](json::object& b) { b["item_property"] = nullptr; }, "item_property"},
      {[](json::object& b) { b["item_property"] = ""; }, "item_property"},
      {[](json::object& b) { b["item_property"] = "$"; }, "item_property"},
      {[](json::object& b) { b["item_property"] = 7; }, "item_property"},
      {[](json::object& b) { b["history_window_days"] = 0; }, "history_window_days"},
      {[](json::object& b) { b["history_window_days"] = 366; }, "history_window_days"},
      {[](json::object& b) { b["history_window_days"] = 1.5; }, "history_window_days"},
      {[](json::object& b) { b["history_window_days"] = "90"; }, "history_window_days"},
      {[](json::object& b) { b["candidates"] = 1000; }, "candidates"},
      {[](json::object& b) { b["candidates"] = json::object{}; }, "candidates"},
      {[](json::object& b) {
         b["candidates"] = json::object{{"top_n", 10}, {"items", json::array{"a"}}};
       },
       "candidates"},
      {[](json::object& b) {
         b["candidates"] = json::object{{"top", 10}};
       },
       "candidates.top"},
      {[](json::object& b) {
         b["candidates"] = json::object{{"top_n", 0}};
       },
       "candidates.top_n"},
      {[](json::object& b) {
         b["candidates"] = json::object{{"top_n", 100001}};
       },
       "candidates.top_n"},
      {[](json::object& b) {
         b["candidates"] = json::object{{"top_n", "10"}};
       },
       "candidates.top_n"},
      {[](json::object& b) {
         b["candidates"] = json::object{{"items", json::array{}}};
       },
       "candidates.items"},
      {[](json::object& b) {
         b["candidates"] = json::object{{"items", "a"}};
       },
       "candidates.items"},
      {[](json::object& b) {
         b["candidates"] = json::object{{"items", json::array(10001, json::value("i"))}};
       },
       "candidates.items"},
      {[](json::object& b) {
         b["candidates"] = json::object{{"items", json::array{"a", 2}}};
       },
       "candidates.items[1]"},
      {[](json::object& b) {
         b["candidates"] = json::object{{"items", json::array{""}}};
       },
       "candidates.items[0]"},
      {[](json::object& b) {
         b["candidates"] = json::object{{"items", json::array{std::string(257, 'i')}}};
       },
       "candidates.items[0]"},
      {[](json::object& b) { b["exclude_items"] = "a"; }, "exclude_items"},
      {[](json::object& b) {
         b["exclude_items"] = json::array{"a", nullptr};
       },
       "exclude_items[1]"},
      {[](json::object& b) { b["exclude_items"] = json::array(10001, json::value("i")); },
       "exclude_items"},
      {[](json::object& b) { b["exclude_seen"] = "true"; }, "exclude_seen"},
      {[](json::object& b) { b["exclude_seen"] = 1; }, "exclude_seen"},
      {[](json::object& b) { b["max_items"] = 0; }, "max_items"},
      {[](json::object& b) { b["max_items"] = 101; }, "max_items"},
      {[](json::object& b) { b["control_percentage"] = -0.5; }, "control_percentage"},
      {[](json::object& b) { b["control_percentage"] = 100.5; }, "control_percentage"},
      {[](json::object& b) { b["control_percentage"] = "10"; }, "control_percentage"},
      {[](json::object& b) { b["control_group_of"] = 1; }, "control_group_of"},
      {[](json::object& b) { b["control_group_of"] = ""; }, "control_group_of"},
      {[](json::object& b) { b["control_group_of"] = "a b"; }, "control_group_of"},
      {[](json::object& b) { b["retrain_every_minutes"] = -1; }, "retrain_every_minutes"},
      {[](json::object& b) { b["retrain_every_minutes"] = 10081; }, "retrain_every_minutes"},
      {[](json::object& b) { b["retrain_every_minutes"] = true; }, "retrain_every_minutes"},
  });
}

TEST(ParseRecommendation, NamesTheUnknownParameterAndTheModelsOwn) {
  Recommendation r;
  std::string source;
  Status s = ParseRecommendation(
      R"({"model":"ease","item_event":"E","item_property":"p","params":{"alpha":1}})", "r", &r,
      &source);
  EXPECT_EQ(s.message(),
            "params.alpha: model ease has no parameter \"alpha\" (its parameters: lambda, "
            "popularity_exponent, max_items)");
  s = ParseRecommendation(R"({"model":"knn","item_event":"E","item_property":"p"})", "r", &r,
                          &source);
  EXPECT_EQ(s.message(), "model: unknown model \"knn\" (expected ease, itemknn or popular)");
}

// ials and blend are models of profiled eval; a read cannot serve them (recs::Servable).
TEST(ParseRecommendation, RefusesModelsThatAreNotServed) {
  for (const char* model : {"ials", "blend"}) {
    Recommendation r;
    std::string source;
    Status s = ParseRecommendation(
        std::string(R"({"model":")") + model + R"(","item_event":"E","item_property":"p"})", "r",
        &r, &source);
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument) << model;
    EXPECT_EQ(s.message(), std::string("model: model \"") + model +
                               "\" is for profiled eval only and cannot be served (expected "
                               "ease, itemknn or popular)");
  }
}

TEST(ParseRecommendation, RefusesABodyThatIsNotAJsonObject) {
  Recommendation r;
  std::string source;
  for (const char* body : {"", "[]", "{", "1", "{\"model\":1e999}"}) {
    Status s = ParseRecommendation(body, "r1", &r, &source);
    EXPECT_TRUE(s.message().starts_with("body: ")) << body << ": " << s.message();
  }
}

}  // namespace
}  // namespace profiled::api
