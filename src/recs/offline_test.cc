#include "recs/offline.h"

#include <gtest/gtest.h>

#include <string>

namespace profiled::recs {
namespace {

ModelOptions Options(ModelKind kind) { return DefaultModelOptions(kind); }

// Users of two clusters of 3 items; each user views the 3 items of their cluster, the
// newest one being `newest_of(u)`.
struct Clustered {
  TrainingSet data;
  std::unordered_map<uint64_t, int32_t> newest;
};

int32_t IndexOf(const TrainingSet& data, const std::string& key) {
  for (size_t i = 0; i < data.keys().size(); ++i) {
    if (data.keys()[i] == key) return static_cast<int32_t>(i);
  }
  return -1;
}

Clustered TwoClusters(uint64_t users) {
  Clustered c;
  for (uint64_t u = 0; u < users; ++u) {
    const std::string cluster = u % 2 == 0 ? "a" : "b";
    for (int i = 0; i < 3; ++i) c.data.Add(u, cluster + std::to_string(i));
  }
  for (uint64_t u = 0; u < users; ++u) {
    const std::string cluster = u % 2 == 0 ? "a" : "b";
    c.newest[u] = IndexOf(c.data, cluster + std::to_string(u % 3));
  }
  return c;
}

TEST(MeasureOffline, FindsTheHeldOutItemOfThePlantedClusterFirst) {
  Clustered c = TwoClusters(40);
  for (ModelKind kind : {ModelKind::kItemKnn, ModelKind::kEase}) {
    auto r = MeasureOffline(Options(kind), c.data, c.newest, 0);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_TRUE(r->has_value());
    EXPECT_EQ((*r)->users, 40);
    EXPECT_EQ((*r)->k, 10u);
    EXPECT_DOUBLE_EQ((*r)->hit_rate, 1.0) << ModelName(kind);
    EXPECT_DOUBLE_EQ((*r)->ndcg, 1.0) << ModelName(kind);
  }
}

TEST(MeasureOffline, AHeldOutItemOnlyDrawnUsersHadIsAMiss) {
  TrainingSet data;
  std::unordered_map<uint64_t, int32_t> newest;
  for (uint64_t u = 0; u < 3; ++u) {
    data.Add(u, "old");
    data.Add(u, "new");
    newest[u] = IndexOf(data, "new");
  }
  auto r = MeasureOffline(Options(ModelKind::kPopular), data, newest, 0);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->users, 3);
  EXPECT_EQ((*r)->hit_rate, 0.0);
  EXPECT_EQ((*r)->ndcg, 0.0);
}

TEST(MeasureOffline, IsNoneWithFewerThanTwoUsersOfTwoItems) {
  TrainingSet data;
  std::unordered_map<uint64_t, int32_t> newest;
  data.Add(1, "x");
  data.Add(1, "y");
  data.Add(2, "x");
  data.Add(2, "x");  // one distinct item
  newest[1] = IndexOf(data, "y");
  newest[2] = IndexOf(data, "x");
  auto r = MeasureOffline(Options(ModelKind::kPopular), data, newest, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
}

TEST(MeasureOffline, DrawsAtMostAThousandUsersTheSameOnesEveryTime) {
  Clustered c = TwoClusters(1500);
  auto a = MeasureOffline(Options(ModelKind::kPopular), c.data, c.newest, 0);
  auto b = MeasureOffline(Options(ModelKind::kPopular), c.data, c.newest, 0);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(a->has_value() && b->has_value());
  EXPECT_EQ((*a)->users, 1000);
  EXPECT_EQ((*a)->hit_rate, (*b)->hit_rate);
  EXPECT_EQ((*a)->ndcg, (*b)->ndcg);
  // Popular ranks all 6 items within the top 10: every held-out item is found.
  EXPECT_DOUBLE_EQ((*a)->hit_rate, 1.0);
  EXPECT_LT((*a)->ndcg, 1.0);
}

TEST(MeasureOffline, ACancelIsSeenBetweenUsersAndEndsTheMeasurement) {
  Clustered c = TwoClusters(40);
  const ModelOptions options = Options(ModelKind::kItemKnn);
  int asked = 0;
  auto never = [&asked] {
    ++asked;
    return false;
  };
  auto whole = MeasureOffline(options, c.data, c.newest, 0, UINT64_MAX, never);
  ASSERT_TRUE(whole.ok() && whole->has_value());
  EXPECT_DOUBLE_EQ((*whole)->hit_rate, 1.0);
  EXPECT_EQ(asked, 2 + 40);  // before and after the training, then before each drawn user
  // A shutdown during the ranking: the next user is not ranked.
  asked = 0;
  auto after_five_users = [&asked] { return ++asked > 2 + 5; };
  auto cancelled = MeasureOffline(options, c.data, c.newest, 0, UINT64_MAX, after_five_users);
  EXPECT_EQ(cancelled.status().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(asked, 2 + 5 + 1);
}

}  // namespace
}  // namespace profiled::recs
