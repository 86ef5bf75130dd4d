#include "compute/evaluate.h"

#include <gtest/gtest.h>

#include <array>
#include <boost/json.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace profiled::compute {
namespace {

namespace json = boost::json;

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kHour = 3'600'000;
constexpr int64_t kNow = 1'767'225'600'000 + 12 * kHour;  // 2026-01-01T12:00:00Z

// Spec ids of the test catalog.
constexpr uint64_t kPurchases30d = 1;  // count of Purchase, rolling 30 days
constexpr uint64_t kSpend = 2;         // sum of price, all time
constexpr uint64_t kLastSku = 3;       // last sku, all time
constexpr uint64_t kMinPrice = 4;      // min price, all time

AggregateSpec Spec(Metric metric, std::string property, TimeScope scope = {}) {
  AggregateSpec s;
  s.event_type = "Purchase";
  s.metric = metric;
  s.property = std::move(property);
  s.scope = scope;
  return s;
}

AggregateSpec SpecOf(uint64_t id) {
  switch (id) {
    case kPurchases30d: {
      TimeScope rolling;
      rolling.kind = TimeScope::Kind::kRolling;
      rolling.days = 30;
      return Spec(Metric::kCount, "", rolling);
    }
    case kSpend: return Spec(Metric::kSum, "price");
    case kLastSku: return Spec(Metric::kLast, "sku");
    default: return Spec(Metric::kMin, "price");
  }
}

CohortCondition EventCondition(uint64_t spec_id, Comparison comparison, double operand) {
  CohortCondition c;
  c.kind = CohortCondition::Kind::kEvent;
  c.spec = SpecOf(spec_id);
  c.comparison = comparison;
  c.operand = operand;
  return c;
}

CohortCondition PropertyCondition(CohortCondition::Kind kind, std::string prop, FilterOp op,
                                  std::vector<std::string> values) {
  CohortCondition c;
  c.kind = kind;
  c.filter = Filter{std::move(prop), op, std::move(values)};
  return c;
}

CohortCondition CohortRef(std::string id) {
  CohortCondition c;
  c.kind = CohortCondition::Kind::kCohort;
  c.cohort_id = std::move(id);
  return c;
}

// A served cohort; the spec ids of its event conditions are given beside each condition.
struct ClauseSpec {
  bool negated = false;
  std::vector<std::pair<CohortCondition, uint64_t>> conditions;
};

ServedCohort MakeCohort(std::string id, const std::vector<ClauseSpec>& clauses) {
  ServedCohort c;
  c.definition.id = std::move(id);
  for (const ClauseSpec& clause : clauses) {
    CohortClause out;
    out.negated = clause.negated;
    std::vector<uint64_t> ids;
    for (const auto& [condition, spec_id] : clause.conditions) {
      out.any_of.push_back(condition);
      ids.push_back(spec_id);
    }
    c.definition.all_of.push_back(std::move(out));
    c.spec_ids.push_back(std::move(ids));
  }
  return c;
}

ServedCohort StaticCohort(std::string id) {
  ServedCohort c;
  c.definition.id = std::move(id);
  c.definition.is_static = true;
  return c;
}

ServedComputation Computation(uint64_t id, uint64_t spec_id) {
  ServedComputation c;
  c.definition.id = id;
  c.definition.spec = SpecOf(spec_id);
  c.spec_id = spec_id;
  return c;
}

ProjectCatalog MakeCatalog(std::vector<ServedCohort> cohorts,
                           std::vector<ServedComputation> computations = {}) {
  std::vector<SpecEntry> specs;
  for (uint64_t id : {kPurchases30d, kSpend, kLastSku, kMinPrice}) {
    specs.push_back(SpecEntry{id, SpecOf(id), true});
  }
  return ProjectCatalog(std::move(specs), std::move(computations), std::move(cohorts));
}

// A reader's source of a user's properties: the values of the catalog's property names in
// two objects.
class ObjectProperties : public UserPropertySource {
 public:
  ObjectProperties(const std::vector<std::string>& names, const json::object& custom,
                   const json::object& builtins) {
    for (const std::string& name : names) {
      values_[0].push_back(custom.if_contains(name));
      values_[1].push_back(builtins.if_contains(name));
    }
  }
  Status Load(bool builtins, const std::vector<const json::value*>** out) override {
    *out = &values_[builtins ? 1 : 0];
    return Status::Ok();
  }

 private:
  std::array<std::vector<const json::value*>, 2> values_;
};

// A user whose state is built from events, like the writer builds it.
struct User {
  UserAggregates aggregates;
  json::object properties;
  json::object builtins;
  std::vector<std::string> static_cohorts;

  void Buy(int64_t time_ms, const json::object& props) {
    EventFields e{"Purchase", time_ms, &props, nullptr};
    for (uint64_t id : {kPurchases30d, kSpend, kLastSku, kMinPrice}) {
      aggregates.states[id].Add(SpecOf(id), e, kNow);
    }
  }
  // What a reader hands evaluation for `catalog`: the encoded record, read in place, and the
  // properties its cohorts read.
  UserView View(const ProjectCatalog& catalog) const {
    record = aggregates.Encode();
    EXPECT_TRUE(view.Parse(record).ok());
    source =
        std::make_unique<ObjectProperties>(catalog.user_property_names(), properties, builtins);
    UserView v;
    v.aggregates = &view;
    v.static_cohorts = &static_cohorts;
    v.property_source = source.get();
    return v;
  }
  mutable std::string record;
  mutable AggregatesView view;
  mutable std::unique_ptr<ObjectProperties> source;
};

// The functions under test, expected to succeed.
std::vector<std::pair<uint64_t, Value>> ValuesOf(const ProjectCatalog& catalog,
                                                 const UserView& user, int64_t now_ms,
                                                 const std::vector<uint64_t>& only) {
  std::vector<std::pair<uint64_t, Value>> values;
  Status s = ComputedValues(catalog, user, now_ms, only, &values);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return values;
}

std::vector<std::string> CohortsOf(const ProjectCatalog& catalog, const UserView& user,
                                   int64_t now_ms) {
  std::vector<std::string> ids;
  Status s = CohortIds(catalog, user, now_ms, &ids);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return ids;
}

bool IsMember(const ProjectCatalog& catalog, const UserView& user, int64_t now_ms,
              std::string_view cohort_id) {
  bool in = false;
  Status s = InCohort(catalog, user, now_ms, cohort_id, &in);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return in;
}

std::vector<std::string> Ids(const ProjectCatalog& catalog, const User& user,
                             int64_t now_ms = kNow) {
  return CohortsOf(catalog, user.View(catalog), now_ms);
}

using Names = std::vector<std::string>;

// ---- ComputedValues -------------------------------------------------------------------------

TEST(ComputedValues, GivesEveryServedComputationInIdOrder) {
  ProjectCatalog catalog = MakeCatalog(
      {}, {Computation(9, kLastSku), Computation(7, kPurchases30d), Computation(8, kSpend)});
  User user;
  user.Buy(kNow - kDay, {{"price", 5}, {"sku", "a"}});
  user.Buy(kNow, {{"price", "2.5"}, {"sku", "b"}});
  auto values = ValuesOf(catalog, user.View(catalog), kNow, {});
  ASSERT_EQ(values.size(), 3u);
  EXPECT_EQ(values[0].first, 7u);
  EXPECT_EQ(std::get<int64_t>(values[0].second), 2);
  EXPECT_EQ(values[1].first, 8u);
  EXPECT_EQ(std::get<double>(values[1].second), 7.5);
  EXPECT_EQ(values[2].first, 9u);
  EXPECT_EQ(std::get<JsonText>(values[2].second).text, "\"b\"");
}

TEST(ComputedValues, GivesZeroCountsAndLeavesOutValuesThatAreNone) {
  ProjectCatalog catalog = MakeCatalog({}, {Computation(7, kPurchases30d), Computation(8, kSpend),
                                            Computation(9, kLastSku), Computation(10, kMinPrice)});
  User user;
  auto values = ValuesOf(catalog, user.View(catalog), kNow, {});
  ASSERT_EQ(values.size(), 2u);
  EXPECT_EQ(std::get<int64_t>(values[0].second), 0);
  EXPECT_EQ(std::get<double>(values[1].second), 0.0);
  EXPECT_EQ(ValuesOf(catalog, UserView{}, kNow, {}).size(), 2u);
}

TEST(ComputedValues, NarrowsToTheIdsAskedForAndSkipsUnservedOnes) {
  ProjectCatalog catalog = MakeCatalog(
      {}, {Computation(7, kPurchases30d), Computation(8, kSpend), Computation(9, kLastSku)});
  User user;
  user.Buy(kNow, {{"sku", "a"}});
  auto values = ValuesOf(catalog, user.View(catalog), kNow, {9, 42, 7});
  ASSERT_EQ(values.size(), 2u);
  EXPECT_EQ(values[0].first, 7u);
  EXPECT_EQ(values[1].first, 9u);
  EXPECT_TRUE(ValuesOf(catalog, user.View(catalog), kNow, {42}).empty());
}

TEST(ComputedValues, FollowTheClock) {
  ProjectCatalog catalog = MakeCatalog({}, {Computation(7, kPurchases30d)});
  User user;
  user.Buy(kNow, {});
  EXPECT_EQ(std::get<int64_t>(ValuesOf(catalog, user.View(catalog), kNow, {})[0].second), 1);
  EXPECT_EQ(
      std::get<int64_t>(ValuesOf(catalog, user.View(catalog), kNow + 30 * kDay, {})[0].second), 0);
}

// ---- Event conditions -----------------------------------------------------------------------

TEST(CohortIds, EventConditionsCompareWithEveryOperator) {
  User user;
  for (int i = 0; i < 3; ++i) user.Buy(kNow - i, {});
  struct Case {
    Comparison comparison;
    double operand;
    bool in;
  };
  for (const Case& c : std::vector<Case>{{Comparison::kGe, 3, true},
                                         {Comparison::kGe, 4, false},
                                         {Comparison::kGt, 2, true},
                                         {Comparison::kGt, 3, false},
                                         {Comparison::kEq, 3, true},
                                         {Comparison::kEq, 2, false},
                                         {Comparison::kNe, 2, true},
                                         {Comparison::kNe, 3, false},
                                         {Comparison::kLt, 4, true},
                                         {Comparison::kLt, 3, false},
                                         {Comparison::kLe, 3, true},
                                         {Comparison::kLe, 2.5, false}}) {
    ProjectCatalog catalog = MakeCatalog({MakeCohort(
        "c",
        {{false, {{EventCondition(kPurchases30d, c.comparison, c.operand), kPurchases30d}}}})});
    EXPECT_EQ(!Ids(catalog, user).empty(), c.in)
        << static_cast<int>(c.comparison) << " " << c.operand;
  }
}

TEST(CohortIds, TheThirdPurchasePutsTheUserInAndTheWindowTakesThemOut) {
  ProjectCatalog catalog = MakeCatalog({MakeCohort(
      "buyers", {{false, {{EventCondition(kPurchases30d, Comparison::kGe, 3), kPurchases30d}}}})});
  User user;
  user.Buy(kNow - 29 * kDay, {});
  user.Buy(kNow - kDay, {});
  EXPECT_TRUE(Ids(catalog, user).empty());
  user.Buy(kNow, {});
  EXPECT_EQ(Ids(catalog, user), Names{"buyers"});
  EXPECT_TRUE(Ids(catalog, user, kNow + kDay).empty());  // the first left the window
}

TEST(CohortIds, CountsAsZeroWithoutEvents) {
  ProjectCatalog catalog = MakeCatalog(
      {MakeCohort("none",
                  {{false, {{EventCondition(kPurchases30d, Comparison::kEq, 0), kPurchases30d}}}}),
       MakeCohort("spent_nothing",
                  {{false, {{EventCondition(kSpend, Comparison::kLe, 0), kSpend}}}})});
  EXPECT_EQ(CohortsOf(catalog, UserView{}, kNow), (Names{"none", "spent_nothing"}));
}

TEST(CohortIds, NoComparisonHoldsForAValueThatIsNone) {
  User user;
  user.Buy(kNow, {{"price", "n/a"}});
  for (Comparison comparison : {Comparison::kGe, Comparison::kGt, Comparison::kEq, Comparison::kNe,
                                Comparison::kLt, Comparison::kLe}) {
    ProjectCatalog catalog = MakeCatalog(
        {MakeCohort("c", {{false, {{EventCondition(kMinPrice, comparison, 0), kMinPrice}}}})});
    EXPECT_TRUE(Ids(catalog, user).empty()) << static_cast<int>(comparison);
  }
}

// ---- Clauses --------------------------------------------------------------------------------

TEST(CohortIds, AClauseHoldsWhenAnyConditionDoes) {
  ProjectCatalog catalog = MakeCatalog({MakeCohort(
      "either",
      {{false,
        {{EventCondition(kPurchases30d, Comparison::kGe, 3), kPurchases30d},
         {PropertyCondition(CohortCondition::Kind::kUserProperty, "plan", FilterOp::kIs, {"pro"}),
          0}}}})});
  User user;
  EXPECT_TRUE(Ids(catalog, user).empty());
  user.properties["plan"] = "pro";
  EXPECT_EQ(Ids(catalog, user), Names{"either"});
}

// A source of a user's groups, as a reader would give it.
class Groups : public UserPropertySource {
 public:
  std::map<std::string, std::vector<json::object>> by_type;
  Status Load(bool /*builtins*/, const std::vector<const json::value*>** out) override {
    *out = &none_;  // no properties
    return Status::Ok();
  }
  Status LoadGroups(std::string_view type, std::vector<const json::object*>* out) override {
    out->clear();
    if (auto it = by_type.find(std::string(type)); it != by_type.end()) {
      for (const json::object& g : it->second) out->push_back(&g);
    }
    return Status::Ok();
  }

 private:
  std::vector<const json::value*> none_;
};

CohortCondition GroupCondition(std::string type, std::string prop, FilterOp op,
                               std::vector<std::string> values) {
  CohortCondition c = PropertyCondition(CohortCondition::Kind::kGroupProperty, std::move(prop), op,
                                        std::move(values));
  c.group_type = std::move(type);
  return c;
}

TEST(CohortIds, AGroupPropertyConditionHoldsWhenAnyOfTheUsersGroupsOfTheTypeMatches) {
  ProjectCatalog catalog = MakeCatalog(
      {MakeCohort("pro-orgs",
                  {{false, {{GroupCondition("org", "plan", FilterOp::kIs, {"pro"}), 0}}}}),
       MakeCohort("not-pro",
                  {{false, {{GroupCondition("org", "plan", FilterOp::kIsNot, {"pro"}), 0}}}})});
  EXPECT_TRUE(catalog.needs_groups());
  EXPECT_EQ(catalog.group_types(), std::vector<std::string>{"org"});
  User user;
  Groups groups;
  UserView view = user.View(catalog);
  view.property_source = &groups;
  // In no org: the condition reads a missing property.
  EXPECT_EQ(CohortsOf(catalog, view, kNow), Names{"not-pro"});
  groups.by_type["org"] = {json::object{{"plan", "free"}}, json::object{{"plan", "pro"}}};
  EXPECT_EQ(CohortsOf(catalog, view, kNow), (Names{"pro-orgs", "not-pro"}));  // catalog order
  groups.by_type["org"] = {json::object{{"plan", "pro"}}};
  EXPECT_EQ(CohortsOf(catalog, view, kNow), Names{"pro-orgs"});
  // A group of another type with the property does not count.
  groups.by_type = {{"team", {json::object{{"plan", "pro"}}}}};
  EXPECT_EQ(CohortsOf(catalog, view, kNow), Names{"not-pro"});
}

TEST(CohortIds, ACohortNeedsEveryClause) {
  ProjectCatalog catalog = MakeCatalog({MakeCohort(
      "both",
      {{false, {{EventCondition(kPurchases30d, Comparison::kGe, 1), kPurchases30d}}},
       {false,
        {{PropertyCondition(CohortCondition::Kind::kUserProperty, "country", FilterOp::kIs, {"DE"}),
          0}}}})});
  User user;
  user.Buy(kNow, {});
  EXPECT_TRUE(Ids(catalog, user).empty());
  user.properties["country"] = "DE";
  EXPECT_EQ(Ids(catalog, user), Names{"both"});
}

TEST(CohortIds, ANegatedClauseExcludesUsersItMatches) {
  ProjectCatalog catalog = MakeCatalog({MakeCohort(
      "not_german_nor_buyer",
      {{true,
        {{PropertyCondition(CohortCondition::Kind::kUserProperty, "country", FilterOp::kIs, {"DE"}),
          0},
         {EventCondition(kPurchases30d, Comparison::kGe, 1), kPurchases30d}}}})});
  User user;
  EXPECT_EQ(Ids(catalog, user), Names{"not_german_nor_buyer"});
  user.Buy(kNow, {});
  EXPECT_TRUE(Ids(catalog, user).empty());
  User german;
  german.properties["country"] = "DE";
  EXPECT_TRUE(Ids(catalog, german).empty());
}

// ---- User and computed property conditions --------------------------------------------------

TEST(CohortIds, UserPropertyConditionsReadCustomPropertiesThenBuiltIns) {
  ProjectCatalog catalog =
      MakeCatalog({MakeCohort("ios", {{false,
                                       {{PropertyCondition(CohortCondition::Kind::kUserProperty,
                                                           "platform", FilterOp::kIs, {"iOS"}),
                                         0}}}})});
  User user;
  user.builtins["platform"] = "iOS";
  EXPECT_EQ(Ids(catalog, user), Names{"ios"});
  user.properties["platform"] = "Android";
  EXPECT_TRUE(Ids(catalog, user).empty());
  user.properties["platform"] = nullptr;
  EXPECT_EQ(Ids(catalog, user), Names{"ios"});
}

TEST(CohortIds, UserPropertyConditionsSeeAMissingPropertyAsMissing) {
  ProjectCatalog catalog =
      MakeCatalog({MakeCohort("no_plan", {{false,
                                           {{PropertyCondition(CohortCondition::Kind::kUserProperty,
                                                               "plan", FilterOp::kNotSet, {}),
                                             0}}}}),
                   MakeCohort("not_pro", {{false,
                                           {{PropertyCondition(CohortCondition::Kind::kUserProperty,
                                                               "plan", FilterOp::kIsNot, {"pro"}),
                                             0}}}})});
  EXPECT_EQ(CohortsOf(catalog, UserView{}, kNow), (Names{"no_plan", "not_pro"}));
}

ProjectCatalog ComputedCatalog(std::string prop, FilterOp op, std::vector<std::string> values) {
  return MakeCatalog(
      {MakeCohort("c", {{false,
                         {{PropertyCondition(CohortCondition::Kind::kComputedProperty,
                                             std::move(prop), op, std::move(values)),
                           0}}}})},
      {Computation(7, kPurchases30d), Computation(8, kSpend), Computation(9, kLastSku),
       Computation(10, kMinPrice)});
}

TEST(CohortIds, ComputedPropertyConditionsTestTheComputedValue) {
  User user;
  user.Buy(kNow, {{"price", 12.5}, {"sku", "book-1"}});
  user.Buy(kNow, {{"price", "3"}, {"sku", "book-2"}});
  EXPECT_FALSE(Ids(ComputedCatalog("7", FilterOp::kGreaterOrEqual, {"2"}), user).empty());
  EXPECT_TRUE(Ids(ComputedCatalog("7", FilterOp::kGreater, {"2"}), user).empty());
  EXPECT_FALSE(Ids(ComputedCatalog("8", FilterOp::kIs, {"15.5"}), user).empty());
  EXPECT_FALSE(Ids(ComputedCatalog("9", FilterOp::kIs, {"book-2"}), user).empty());
  EXPECT_FALSE(Ids(ComputedCatalog("9", FilterOp::kContains, {"book"}), user).empty());
  EXPECT_TRUE(Ids(ComputedCatalog("9", FilterOp::kIs, {"book-1"}), user).empty());
  EXPECT_FALSE(Ids(ComputedCatalog("10", FilterOp::kLess, {"4"}), user).empty());
}

TEST(CohortIds, ComputedPropertyConditionsSeeNoValueAsMissing) {
  User user;  // no purchase: min price has no value
  EXPECT_TRUE(Ids(ComputedCatalog("10", FilterOp::kSet, {}), user).empty());
  EXPECT_FALSE(Ids(ComputedCatalog("10", FilterOp::kNotSet, {}), user).empty());
  EXPECT_FALSE(Ids(ComputedCatalog("7", FilterOp::kIs, {"0"}), user).empty());
}

TEST(CohortIds, ComputedPropertyConditionsSeeAnUnknownComputationAsMissing) {
  User user;
  user.Buy(kNow, {{"price", 1}});
  for (const char* prop : {"11", "x", "", "7x", "-7"}) {
    EXPECT_TRUE(Ids(ComputedCatalog(prop, FilterOp::kSet, {}), user).empty()) << prop;
    EXPECT_FALSE(Ids(ComputedCatalog(prop, FilterOp::kIsNot, {"1"}), user).empty()) << prop;
  }
}

// ---- Cohort references and static cohorts ---------------------------------------------------

TEST(CohortIds, FollowsNestedCohortReferences) {
  ProjectCatalog catalog = MakeCatalog({
      MakeCohort("buyers",
                 {{false, {{EventCondition(kPurchases30d, Comparison::kGe, 1), kPurchases30d}}}}),
      MakeCohort("german_buyers", {{false, {{CohortRef("buyers"), 0}}},
                                   {false,
                                    {{PropertyCondition(CohortCondition::Kind::kUserProperty,
                                                        "country", FilterOp::kIs, {"DE"}),
                                      0}}}}),
      MakeCohort("others", {{true, {{CohortRef("german_buyers"), 0}}}}),
  });
  User user;
  user.properties["country"] = "DE";
  EXPECT_EQ(Ids(catalog, user), Names{"others"});
  user.Buy(kNow, {});
  EXPECT_EQ(Ids(catalog, user), (Names{"buyers", "german_buyers"}));
  EXPECT_TRUE(IsMember(catalog, user.View(catalog), kNow, "german_buyers"));
  EXPECT_FALSE(IsMember(catalog, user.View(catalog), kNow, "others"));
}

TEST(CohortIds, AReferenceToAnUnservedCohortDoesNotHold) {
  ProjectCatalog catalog = MakeCatalog({MakeCohort("c", {{false, {{CohortRef("gone"), 0}}}}),
                                        MakeCohort("not_c", {{true, {{CohortRef("gone"), 0}}}})});
  EXPECT_EQ(CohortsOf(catalog, UserView{}, kNow), Names{"not_c"});
}

TEST(CohortIds, ACycleEndsInsteadOfRecursingForever) {
  ProjectCatalog catalog = MakeCatalog({MakeCohort("a", {{false, {{CohortRef("b"), 0}}}}),
                                        MakeCohort("b", {{false, {{CohortRef("a"), 0}}}})});
  EXPECT_TRUE(CohortsOf(catalog, UserView{}, kNow).empty());
}

TEST(CohortIds, StaticCohortsHoldTheirUploadedMembers) {
  ProjectCatalog catalog = MakeCatalog({StaticCohort("s1"), StaticCohort("s2"),
                                        MakeCohort("in_s2", {{false, {{CohortRef("s2"), 0}}}}),
                                        MakeCohort("not_in_s1", {{true, {{CohortRef("s1"), 0}}}})});
  User user;
  user.static_cohorts = {"a", "s2", "z"};
  EXPECT_EQ(Ids(catalog, user), (Names{"s2", "in_s2", "not_in_s1"}));
  EXPECT_TRUE(IsMember(catalog, user.View(catalog), kNow, "s2"));
  EXPECT_FALSE(IsMember(catalog, user.View(catalog), kNow, "s1"));
  EXPECT_EQ(CohortsOf(catalog, UserView{}, kNow), Names{"not_in_s1"});
}

TEST(InCohort, IsFalseForACohortThatIsNotServed) {
  ProjectCatalog catalog = MakeCatalog(
      {MakeCohort("c", {{true, {{EventCondition(kSpend, Comparison::kGt, 0), kSpend}}}})});
  EXPECT_TRUE(IsMember(catalog, UserView{}, kNow, "c"));
  EXPECT_FALSE(IsMember(catalog, UserView{}, kNow, "d"));
  User user;
  user.static_cohorts = {"d"};
  EXPECT_FALSE(IsMember(catalog, user.View(catalog), kNow, "d"));
}

}  // namespace
}  // namespace profiled::compute
