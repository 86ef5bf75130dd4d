#include "recs/ials.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "recs/test_util.h"

namespace profiled::recs {
namespace {

using testing::ClusteredData;
using testing::ClusteredDataOptions;
using testing::ClusterItem;

IalsOptions SmallOptions() {
  IalsOptions o;
  o.factors = 2;
  o.alpha0 = 0.5;
  o.lambda = 0.1;
  o.reg_exponent = 1;
  o.epochs = 3;
  return o;
}

// The fold-in, computed by hand from the trained item embeddings for d = 2:
// A = α₀ Σ_all h hᵀ + Σ_history h hᵀ + λ (|history| + α₀ n)^ν I, w = A⁻¹ Σ_history h,
// score_j = ⟨w, h_j⟩.
TEST(IalsModel, ScoresAHistoryByItsFoldIn) {
  Interactions data = ClusteredData({.users = 40, .clusters = 2, .cluster_size = 4, .seed = 3});
  IalsOptions o = SmallOptions();
  Result<std::unique_ptr<IalsModel>> model = IalsModel::Train(data, o);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const int32_t n = data.num_items();
  std::vector<int32_t> history = {3, 4, 6};
  double a[2][2] = {{0, 0}, {0, 0}};
  double b[2] = {0, 0};
  for (int32_t i = 0; i < n; ++i) {
    std::span<const double> h = (*model)->item_embedding(i);
    for (int r = 0; r < 2; ++r) {
      for (int c = 0; c < 2; ++c) a[r][c] += o.alpha0 * h[r] * h[c];
    }
  }
  for (int32_t i : history) {
    std::span<const double> h = (*model)->item_embedding(i);
    for (int r = 0; r < 2; ++r) {
      b[r] += h[r];
      for (int c = 0; c < 2; ++c) a[r][c] += h[r] * h[c];
    }
  }
  const double reg = o.lambda * (static_cast<double>(history.size()) + o.alpha0 * n);
  a[0][0] += reg;
  a[1][1] += reg;
  const double det = a[0][0] * a[1][1] - a[0][1] * a[1][0];
  const double w0 = (a[1][1] * b[0] - a[0][1] * b[1]) / det;
  const double w1 = (a[0][0] * b[1] - a[1][0] * b[0]) / det;
  std::vector<float> scores(static_cast<size_t>(n));
  (*model)->Score(history, scores);
  for (int32_t j = 0; j < n; ++j) {
    std::span<const double> h = (*model)->item_embedding(j);
    EXPECT_NEAR(scores[static_cast<size_t>(j)], w0 * h[0] + w1 * h[1], 1e-6) << j;
  }
}

TEST(IalsModel, SameDataAndSeedGiveTheSameModel) {
  Interactions data = ClusteredData({});
  IalsOptions o;
  o.factors = 8;
  o.epochs = 2;
  auto first = IalsModel::Train(data, o);
  auto second = IalsModel::Train(data, o);
  o.seed = 2;
  auto other = IalsModel::Train(data, o);
  ASSERT_TRUE(first.ok() && second.ok() && other.ok());
  bool differs = false;
  for (int32_t i = 0; i < data.num_items(); ++i) {
    std::span<const double> a = (*first)->item_embedding(i);
    std::span<const double> b = (*second)->item_embedding(i);
    std::span<const double> c = (*other)->item_embedding(i);
    for (size_t f = 0; f < a.size(); ++f) {
      EXPECT_EQ(a[f], b[f]);
      differs = differs || a[f] != c[f];
    }
  }
  EXPECT_TRUE(differs) << "the seed should change the initial embeddings";
}

TEST(IalsModel, AnItemNobodyInteractedWithScoresZero) {
  Interactions data = Interactions::FromUserItems(4, {{0, 1}, {0, 2}, {1, 2}}).value();
  Result<std::unique_ptr<IalsModel>> model = IalsModel::Train(data, SmallOptions());
  ASSERT_TRUE(model.ok());
  for (double v : (*model)->item_embedding(3)) EXPECT_EQ(v, 0.0);
  std::vector<int32_t> history = {0};
  std::vector<float> scores(4);
  (*model)->Score(history, scores);
  EXPECT_EQ(scores[3], 0.0F);
  EXPECT_NE(scores[1], 0.0F);
}

TEST(IalsModel, AnEmptyHistoryScoresEveryItemZero) {
  Interactions data = ClusteredData({});
  Result<std::unique_ptr<IalsModel>> model = IalsModel::Train(data, SmallOptions());
  ASSERT_TRUE(model.ok());
  std::vector<float> scores(static_cast<size_t>(data.num_items()), 1.0F);
  (*model)->Score({}, scores);
  for (float s : scores) EXPECT_EQ(s, 0.0F);
}

// A history the model never trained on (the strong protocol's fold-in, or a user's newest
// items) is served from the item embeddings alone: one item of cluster 1 is enough to put
// cluster 1's items first.
TEST(IalsModel, FoldsInAHistoryItNeverTrainedOn) {
  ClusteredDataOptions c;
  Interactions data = ClusteredData(c);
  IalsOptions o;
  o.factors = 8;
  Result<std::unique_ptr<IalsModel>> model = IalsModel::Train(data, o);
  ASSERT_TRUE(model.ok());
  std::vector<int32_t> history = {ClusterItem(c, 1, 4)};
  std::vector<float> scores(static_cast<size_t>(data.num_items()));
  (*model)->Score(history, scores);
  float worst_mate = INFINITY;
  float best_other = -INFINITY;
  for (int32_t i = 0; i < data.num_items(); ++i) {
    if (i == history[0]) continue;
    const bool mate = i >= ClusterItem(c, 1, 0) && i < ClusterItem(c, 2, 0);
    float s = scores[static_cast<size_t>(i)];
    if (mate) worst_mate = std::min(worst_mate, s);
    if (!mate) best_other = std::max(best_other, s);
  }
  EXPECT_GT(worst_mate, best_other);
}

TEST(IalsModel, RefusesOptionsOutOfRange) {
  Interactions data = ClusteredData({});
  auto with = [](auto change) {
    IalsOptions o;
    change(&o);
    return o;
  };
  EXPECT_FALSE(IalsModel::Train(data, with([](IalsOptions* o) { o->factors = 0; })).ok());
  EXPECT_FALSE(IalsModel::Train(data, with([](IalsOptions* o) { o->lambda = 0; })).ok());
  EXPECT_FALSE(IalsModel::Train(data, with([](IalsOptions* o) { o->alpha0 = -1; })).ok());
  EXPECT_FALSE(IalsModel::Train(data, with([](IalsOptions* o) { o->epochs = 0; })).ok());
  EXPECT_FALSE(IalsModel::Train(data, with([](IalsOptions* o) { o->reg_exponent = NAN; })).ok());
}

}  // namespace
}  // namespace profiled::recs
