#include "compute/definition.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace profiled::compute {
namespace {

AggregateSpec Base() {
  AggregateSpec s;
  s.event_type = "Purchase";
  s.metric = Metric::kSum;
  s.property = "price";
  s.where = {Filter{"category", FilterOp::kIs, {"books"}}};
  s.scope.kind = TimeScope::Kind::kRolling;
  s.scope.days = 30;
  return s;
}

TEST(Canonical, IsStableForEqualSpecs) { EXPECT_EQ(Base().Canonical(), Base().Canonical()); }

TEST(Canonical, ChangesWithEveryField) {
  std::vector<AggregateSpec> variants(12, Base());
  variants[1].event_type = "Purchased";
  variants[2].metric = Metric::kAvg;
  variants[3].property = "$price";
  variants[4].scope.kind = TimeScope::Kind::kAllTime;
  variants[5].scope.days = 31;
  variants[6].scope.start_ms = 1;
  variants[7].scope.end_ms = 5;
  variants[8].where[0].prop = "kind";
  variants[9].where[0].op = FilterOp::kIsNot;
  variants[10].where[0].values.push_back("music");
  variants[11].where.clear();
  std::set<std::string> texts;
  for (const AggregateSpec& s : variants) texts.insert(s.Canonical());
  EXPECT_EQ(texts.size(), variants.size());
}

TEST(Canonical, IsUnambiguousWhenStringsHoldSeparators) {
  AggregateSpec a = Base();
  AggregateSpec b = Base();
  a.where[0].values = {"a", "b"};
  b.where[0].values = {"a2:b"};
  EXPECT_NE(a.Canonical(), b.Canonical());
  a = Base();
  b = Base();
  a.event_type = "x;metric=";
  b.event_type = "x";
  EXPECT_NE(a.Canonical(), b.Canonical());
  a = Base();
  b = Base();
  a.where = {Filter{"a", FilterOp::kIs, {"1"}}, Filter{"b", FilterOp::kIs, {}}};
  b.where = {Filter{"a", FilterOp::kIs, {"1", "b"}}};
  EXPECT_NE(a.Canonical(), b.Canonical());
}

TEST(Canonical, KeepsTheNumbersOfExistingMetrics) {
  // Stored spec records hold these texts: a new metric must not renumber the old ones.
  AggregateSpec spec = Base();
  spec.metric = Metric::kDistinctDays;
  EXPECT_NE(spec.Canonical().find("metric=8;"), std::string::npos);
  spec.metric = Metric::kItems;
  EXPECT_NE(spec.Canonical().find("metric=9;"), std::string::npos);
}

TEST(HistorySpecOf, CountsTheItemPropertyOfItemEventsInTheHistoryWindow) {
  Recommendation rec;
  rec.id = "home";
  rec.item_event = "Movie Rated";
  rec.item_property = "movie_id";
  rec.history_window_days = 45;
  AggregateSpec spec = HistorySpecOf(rec);
  EXPECT_EQ(spec.event_type, "Movie Rated");
  EXPECT_TRUE(spec.where.empty());
  EXPECT_EQ(spec.metric, Metric::kItems);
  EXPECT_EQ(spec.property, "movie_id");
  EXPECT_EQ(spec.scope.kind, TimeScope::Kind::kRolling);
  EXPECT_EQ(spec.scope.days, 45);
  // Recommendations with the same history share its state, whatever else differs.
  Recommendation other = rec;
  other.id = "other";
  other.model = "popular";
  EXPECT_EQ(HistorySpecOf(other).Canonical(), spec.Canonical());
}

}  // namespace
}  // namespace profiled::compute
