#include "recs/model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "recs/item_knn.h"
#include "recs/popular.h"
#include "recs/test_util.h"

namespace profiled::recs {
namespace {

using testing::ClusteredData;
using testing::ClusteredDataOptions;
using testing::ClusterItem;
using testing::kBlockbusters;

std::vector<int32_t> Items(const std::vector<ScoredItem>& scored) {
  std::vector<int32_t> out;
  out.reserve(scored.size());
  for (const ScoredItem& s : scored) out.push_back(s.item);
  return out;
}

std::unique_ptr<ItemModel> Trained(ModelKind kind, const Interactions& data,
                                   const std::vector<std::pair<std::string, std::string>>& p = {}) {
  Result<ModelOptions> options = ModelOptionsFrom(kind, p);
  EXPECT_TRUE(options.ok()) << options.status().ToString();
  Result<std::unique_ptr<ItemModel>> model = TrainModel(*options, data);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return std::move(model.value());
}

TEST(PopularModel, RanksByInteractionCountWithTiesToTheLowerItem) {
  // Counts: item 0: 1, item 1: 3, item 2: 2, item 3: 2, item 4: 0.
  Interactions data = Interactions::FromUserItems(5, {{1, 2}, {1, 3}, {0, 1, 2, 3}}).value();
  std::unique_ptr<ItemModel> model = Trained(ModelKind::kPopular, data);
  Result<std::vector<ScoredItem>> top = Recommend(*model, {}, {}, 5);
  ASSERT_TRUE(top.ok());
  EXPECT_EQ(Items(*top), (std::vector<int32_t>{1, 2, 3, 0, 4}));
  EXPECT_EQ((*top)[0].score, 3.0F);
}

TEST(Recommend, NeverReturnsSeenOrExcludedItems) {
  Interactions data = Interactions::FromUserItems(5, {{1, 2}, {1, 3}, {0, 1, 2, 3}}).value();
  std::unique_ptr<ItemModel> model = Trained(ModelKind::kPopular, data);
  std::vector<int32_t> history = {1};
  std::vector<int32_t> exclude = {3};
  Result<std::vector<ScoredItem>> top = Recommend(*model, history, exclude, 10);
  ASSERT_TRUE(top.ok());
  EXPECT_EQ(Items(*top), (std::vector<int32_t>{2, 0, 4}));
}

TEST(Recommend, RefusesAnItemOutsideTheModel) {
  Interactions data = Interactions::FromUserItems(3, {{0, 1}}).value();
  std::unique_ptr<ItemModel> model = Trained(ModelKind::kPopular, data);
  std::vector<int32_t> history = {3};
  EXPECT_FALSE(Recommend(*model, history, {}, 2).ok());
  std::vector<int32_t> exclude = {-1};
  EXPECT_FALSE(Recommend(*model, {}, exclude, 2).ok());
}

TEST(ItemKnnModel, SimilarityIsCosineOfUserSets) {
  // Users of item 0: {0, 1}; item 1: {0, 1, 2}; item 2: {2}.
  Interactions data = Interactions::FromUserItems(3, {{0, 1}, {0, 1}, {1, 2}}).value();
  std::unique_ptr<ItemKnnModel> model = ItemKnnModel::Train(data, 10);
  ASSERT_EQ(model->neighbours_of(1).size(), 2U);
  EXPECT_EQ(model->neighbours_of(1)[0], 0);  // 2 / sqrt(3 * 2) beats 1 / sqrt(3 * 1)
  EXPECT_FLOAT_EQ(model->similarities_of(1)[0], static_cast<float>(2 / std::sqrt(6.0)));
  EXPECT_FLOAT_EQ(model->similarities_of(1)[1], static_cast<float>(1 / std::sqrt(3.0)));
  EXPECT_TRUE(model->neighbours_of(2).size() == 1 && model->neighbours_of(2)[0] == 1);
}

TEST(ItemKnnModel, KeepsOnlyTheConfiguredNumberOfNeighbours) {
  Interactions data = ClusteredData({});
  std::unique_ptr<ItemKnnModel> model = ItemKnnModel::Train(data, 4);
  for (int32_t i = 0; i < data.num_items(); ++i) EXPECT_LE(model->neighbours_of(i).size(), 4U);
  // With 4 neighbours, an in-cluster item's neighbours are its cluster mates.
  ClusteredDataOptions o;
  for (int32_t j : model->neighbours_of(ClusterItem(o, 1, 0))) {
    EXPECT_GE(j, ClusterItem(o, 1, 0));
    EXPECT_LT(j, ClusterItem(o, 2, 0));
  }
}

// The planted-structure check shared by the models that learn item-item structure: a user of
// cluster 2 who has seen three of its items gets the other nine first, before any blockbuster
// and any item of another cluster.
void ExpectInClusterItemsFirst(ModelKind kind,
                               const std::vector<std::pair<std::string, std::string>>& params) {
  ClusteredDataOptions o;
  Interactions data = ClusteredData(o);
  std::unique_ptr<ItemModel> model = Trained(kind, data, params);
  std::vector<int32_t> history = {ClusterItem(o, 2, 0), ClusterItem(o, 2, 5), ClusterItem(o, 2, 7)};
  Result<std::vector<ScoredItem>> top = Recommend(*model, history, {}, 9);
  ASSERT_TRUE(top.ok());
  std::vector<int32_t> got = Items(*top);
  std::sort(got.begin(), got.end());
  std::vector<int32_t> want;
  for (int32_t r = 0; r < o.cluster_size; ++r) {
    if (r != 0 && r != 5 && r != 7) want.push_back(ClusterItem(o, 2, r));
  }
  EXPECT_EQ(got, want) << ModelName(kind);
}

TEST(ItemKnnModel, RanksUnseenInClusterItemsAbovePopularUnrelatedOnes) {
  ExpectInClusterItemsFirst(ModelKind::kItemKnn, {{"neighbours", "20"}});
}

// λ = 200: with 100 users per cluster, a small λ fits the sampling noise between cluster mates
// (at λ = 10 one cluster mate scores below a blockbuster); λ of this order is what EASE uses.
TEST(EaseModel, RanksUnseenInClusterItemsAbovePopularUnrelatedOnes) {
  ExpectInClusterItemsFirst(ModelKind::kEase, {{"lambda", "200"}});
}

TEST(IalsModel, RanksUnseenInClusterItemsAbovePopularUnrelatedOnes) {
  ExpectInClusterItemsFirst(ModelKind::kIals, {{"factors", "8"}});
}

TEST(BlendModel, RanksUnseenInClusterItemsAbovePopularUnrelatedOnes) {
  ExpectInClusterItemsFirst(ModelKind::kBlend, {{"ease_lambda", "200"}, {"factors", "8"}});
}

// The popularity debiasing at the strength docs/RECS.md selects keeps the learnt structure:
// the unseen cluster mates still come before the (3.5 times more popular) blockbusters.
TEST(EaseModel, DebiasedStillRanksUnseenInClusterItemsFirst) {
  ExpectInClusterItemsFirst(ModelKind::kEase, {{"lambda", "200"}, {"popularity_exponent", "0.3"}});
}

TEST(PopularModel, RanksTheBlockbustersFirstWhateverTheHistory) {
  ClusteredDataOptions o;
  Interactions data = ClusteredData(o);
  std::unique_ptr<ItemModel> model = Trained(ModelKind::kPopular, data);
  std::vector<int32_t> history = {ClusterItem(o, 2, 0)};
  Result<std::vector<ScoredItem>> top = Recommend(*model, history, {}, kBlockbusters);
  ASSERT_TRUE(top.ok());
  std::vector<int32_t> got = Items(*top);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int32_t>{0, 1, 2}));
}

TEST(ModelOptions, ParsesEachModelsParameters) {
  Result<ModelOptions> ease = ModelOptionsFrom(ModelKind::kEase, {{"lambda", "250.5"}});
  ASSERT_TRUE(ease.ok());
  EXPECT_EQ(ease->lambda, 250.5);
  Result<ModelOptions> knn = ModelOptionsFrom(ModelKind::kItemKnn, {{"neighbours", "50"}});
  ASSERT_TRUE(knn.ok());
  EXPECT_EQ(knn->neighbours, 50);
  Result<ModelOptions> ials = ModelOptionsFrom(ModelKind::kIals, {{"factors", "32"},
                                                                  {"alpha0", "0.3"},
                                                                  {"lambda", "0.05"},
                                                                  {"reg_exponent", "0"},
                                                                  {"epochs", "4"},
                                                                  {"seed", "9"}});
  ASSERT_TRUE(ials.ok()) << ials.status().ToString();
  EXPECT_EQ(ials->ials.factors, 32);
  EXPECT_EQ(ials->ials.alpha0, 0.3);
  EXPECT_EQ(ials->ials.lambda, 0.05);
  EXPECT_EQ(ials->ials.reg_exponent, 0.0);
  EXPECT_EQ(ials->ials.epochs, 4);
  EXPECT_EQ(ials->ials.seed, 9U);
  EXPECT_EQ(ials->lambda, ModelOptions{}.lambda) << "ials' lambda is not ease's";
  Result<ModelOptions> debiased =
      ModelOptionsFrom(ModelKind::kEase, {{"lambda", "400"}, {"popularity_exponent", "0.25"}});
  ASSERT_TRUE(debiased.ok());
  EXPECT_EQ(debiased->popularity_exponent, 0.25);
  Result<ModelOptions> blend =
      ModelOptionsFrom(ModelKind::kBlend, {{"ease_lambda", "500"},
                                           {"ials_lambda", "0.03"},
                                           {"ials_weight", "0.4"},
                                           {"factors", "16"},
                                           {"popularity_exponent", "0.1"}});
  ASSERT_TRUE(blend.ok()) << blend.status().ToString();
  EXPECT_EQ(blend->lambda, 500);
  EXPECT_EQ(blend->ials.lambda, 0.03);
  EXPECT_EQ(blend->ials_weight, 0.4);
  EXPECT_EQ(blend->ials.factors, 16);
  EXPECT_EQ(blend->popularity_exponent, 0.1);
}

TEST(ModelOptions, BlendStartsFromItsOwnDefaults) {
  ModelOptions blend = DefaultModelOptions(ModelKind::kBlend);
  EXPECT_EQ(blend.kind, ModelKind::kBlend);
  EXPECT_EQ(blend.popularity_exponent, 0.25);
  EXPECT_EQ(blend.ials.factors, 128);
  EXPECT_EQ(blend.ials_weight, 0.7);
  EXPECT_EQ(DefaultModelOptions(ModelKind::kEase).popularity_exponent, 0.0);
}

TEST(ModelOptions, RefusesUnknownMalformedOrOutOfRangeParameters) {
  EXPECT_FALSE(ModelOptionsFrom(ModelKind::kEase, {{"neighbours", "5"}}).ok());
  EXPECT_FALSE(ModelOptionsFrom(ModelKind::kEase, {{"lambda", "abc"}}).ok());
  EXPECT_FALSE(ModelOptionsFrom(ModelKind::kEase, {{"lambda", "0"}}).ok());
  EXPECT_FALSE(ModelOptionsFrom(ModelKind::kEase, {{"lambda", "inf"}}).ok());
  EXPECT_FALSE(ModelOptionsFrom(ModelKind::kEase, {{"lambda", "-1"}}).ok());
  EXPECT_FALSE(ModelOptionsFrom(ModelKind::kItemKnn, {{"neighbours", "2.5"}}).ok());
  EXPECT_FALSE(ModelOptionsFrom(ModelKind::kPopular, {{"lambda", "1"}}).ok());
  EXPECT_FALSE(ModelOptionsFrom(ModelKind::kIals, {{"neighbours", "5"}}).ok());
  EXPECT_FALSE(ModelOptionsFrom(ModelKind::kIals, {{"factors", "0"}}).ok());
  EXPECT_FALSE(ModelOptionsFrom(ModelKind::kIals, {{"epochs", "1.5"}}).ok());
  EXPECT_FALSE(ModelOptionsFrom(ModelKind::kIals, {{"alpha0", "-0.1"}}).ok());
  EXPECT_FALSE(ModelOptionsFrom(ModelKind::kEase, {{"popularity_exponent", "3"}}).ok());
  EXPECT_FALSE(ModelOptionsFrom(ModelKind::kBlend, {{"lambda", "300"}}).ok());  // ease_lambda
  EXPECT_FALSE(ModelOptionsFrom(ModelKind::kBlend, {{"ials_weight", "1.5"}}).ok());
}

TEST(ModelOptions, BoundsLambdaToWhereEaseHasFiniteWeights) {
  Result<ModelOptions> top = ModelOptionsFrom(ModelKind::kEase, {{"lambda", "1e7"}});
  ASSERT_TRUE(top.ok()) << top.status().ToString();
  EXPECT_EQ(top->lambda, 1e7);
  for (const char* lambda : {"1e308", "10000001"}) {
    Result<ModelOptions> options = ModelOptionsFrom(ModelKind::kEase, {{"lambda", lambda}});
    ASSERT_EQ(options.status().code(), ErrorCode::kInvalidArgument) << lambda;
    EXPECT_NE(options.status().message().find("lambda"), std::string::npos);
    EXPECT_NE(options.status().message().find("(0, 10000000]"), std::string::npos)
        << options.status().message();
  }
}

// The largest λ allowed still trains a model whose weights are all finite.
TEST(EaseModel, TrainsFiniteWeightsAtTheLargestLambdaAllowed) {
  Interactions data = ClusteredData({});
  Result<ModelOptions> options = ModelOptionsFrom(ModelKind::kEase, {{"lambda", "1e7"}});
  ASSERT_TRUE(options.ok());
  Result<std::unique_ptr<ItemModel>> model = TrainModel(*options, data);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  std::vector<int32_t> history = {ClusterItem({}, 0, 0)};
  std::vector<float> scores(static_cast<size_t>((*model)->num_items()));
  (*model)->Score(history, scores);
  EXPECT_TRUE(std::all_of(scores.begin(), scores.end(), [](float s) { return std::isfinite(s); }));
}

// Random users over `items` items, of which the last `unused` never occur.
Interactions RandomData(int32_t items, int32_t unused, uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::vector<std::vector<int32_t>> user_items(60);
  for (std::vector<int32_t>& list : user_items) {
    size_t n = 1 + engine() % 15;
    for (size_t k = 0; k < n; ++k) {
      list.push_back(static_cast<int32_t>(engine() % static_cast<uint64_t>(items - unused)));
    }
  }
  return Interactions::FromUserItems(items, std::move(user_items)).value();
}

// ScoreItems(history, items) must equal Score(history) at those items, exactly: on a random
// subset with repeats, on the whole item space, and on one ascending run (ease's fast path).
TEST(ItemModel, ScoreItemsEqualsScoreAtThoseItems) {
  std::mt19937_64 engine(11);
  for (int32_t unused : {0, 7}) {
    Interactions data = RandomData(80, unused, 3 + static_cast<uint64_t>(unused));
    for (ModelKind kind : {ModelKind::kPopular, ModelKind::kItemKnn, ModelKind::kEase,
                           ModelKind::kIals, ModelKind::kBlend}) {
      std::unique_ptr<ItemModel> model = Trained(kind, data);
      const int32_t n = model->num_items();
      std::vector<float> full(static_cast<size_t>(n));
      for (int trial = 0; trial < 20; ++trial) {
        std::vector<int32_t> history;
        for (size_t k = 0, len = engine() % 12; k < len; ++k) {
          history.push_back(static_cast<int32_t>(engine() % static_cast<uint64_t>(n)));
        }
        model->Score(history, full);
        std::vector<int32_t> subset;
        for (size_t k = 0, len = 1 + engine() % 40; k < len; ++k) {
          subset.push_back(static_cast<int32_t>(engine() % static_cast<uint64_t>(n)));
        }
        std::vector<int32_t> all(static_cast<size_t>(n));
        std::iota(all.begin(), all.end(), 0);
        std::vector<int32_t> run(20);
        std::iota(run.begin(), run.end(), static_cast<int32_t>(engine() % 50));
        for (const std::vector<int32_t>& items : {subset, all, run, std::vector<int32_t>{}}) {
          std::vector<float> out(items.size(), -1.0F);
          model->ScoreItems(history, items, out);
          for (size_t k = 0; k < items.size(); ++k) {
            ASSERT_EQ(out[k], full[static_cast<size_t>(items[k])])
                << ModelName(kind) << " unused " << unused << " trial " << trial << " item "
                << items[k];
          }
        }
      }
    }
  }
}

TEST(ModelKind, NamesRoundTrip) {
  for (const char* name : {"ease", "ials", "blend", "itemknn", "popular"}) {
    Result<ModelKind> kind = ParseModelKind(name);
    ASSERT_TRUE(kind.ok());
    EXPECT_EQ(ModelName(*kind), name);
  }
  EXPECT_FALSE(ParseModelKind("svd").ok());
}

}  // namespace
}  // namespace profiled::recs
