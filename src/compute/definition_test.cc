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

}  // namespace
}  // namespace profiled::compute
