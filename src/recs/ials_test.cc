#include "recs/ials.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <utility>
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

// Solves the d × d system a x = b (a row-major) by Gaussian elimination with partial pivoting.
std::vector<double> SolveByHand(std::vector<double> a, std::vector<double> b) {
  const size_t d = b.size();
  for (size_t col = 0; col < d; ++col) {
    size_t pivot = col;
    for (size_t r = col + 1; r < d; ++r) {
      if (std::abs(a[r * d + col]) > std::abs(a[pivot * d + col])) pivot = r;
    }
    for (size_t c = 0; c < d; ++c) std::swap(a[col * d + c], a[pivot * d + c]);
    std::swap(b[col], b[pivot]);
    for (size_t r = col + 1; r < d; ++r) {
      const double f = a[r * d + col] / a[col * d + col];
      for (size_t c = col; c < d; ++c) a[r * d + c] -= f * a[col * d + c];
      b[r] -= f * b[col];
    }
  }
  std::vector<double> x(d);
  for (size_t r = d; r-- > 0;) {
    double v = b[r];
    for (size_t c = r + 1; c < d; ++c) v -= a[r * d + c] * x[c];
    x[r] = v / a[r * d + r];
  }
  return x;
}

// One row of an iALS step written out from the loss in ials.h: with `fixed` the other side's
// embeddings and `row` the row's (index into fixed, confidence c) pairs,
//   (α₀ Σ_all f fᵀ + Σ_row c f fᵀ + λ (|row| + α₀·|fixed|)^ν I) x = Σ_row c f.
std::vector<double> RowStepByHand(const std::vector<std::vector<double>>& fixed,
                                  const std::vector<std::pair<int32_t, double>>& row,
                                  const IalsOptions& o) {
  const size_t d = fixed[0].size();
  std::vector<double> a(d * d, 0.0);
  std::vector<double> b(d, 0.0);
  for (const std::vector<double>& f : fixed) {
    for (size_t r = 0; r < d; ++r) {
      for (size_t c = 0; c < d; ++c) a[r * d + c] += o.alpha0 * f[r] * f[c];
    }
  }
  for (const auto& [index, weight] : row) {
    const std::vector<double>& f = fixed[static_cast<size_t>(index)];
    for (size_t r = 0; r < d; ++r) {
      b[r] += weight * f[r];
      for (size_t c = 0; c < d; ++c) a[r * d + c] += weight * f[r] * f[c];
    }
  }
  const double reg = o.lambda * std::pow(static_cast<double>(row.size()) +
                                             o.alpha0 * static_cast<double>(fixed.size()),
                                         o.reg_exponent);
  for (size_t r = 0; r < d; ++r) a[r * d + r] += reg;
  return SolveByHand(std::move(a), std::move(b));
}

std::vector<std::vector<double>> ItemEmbeddings(const IalsModel& model) {
  std::vector<std::vector<double>> h;
  for (int32_t i = 0; i < model.num_items(); ++i) {
    std::span<const double> e = model.item_embedding(i);
    h.emplace_back(e.begin(), e.end());
  }
  return h;
}

// Confidences 1, 4 or 7 by (user + item) % 3: far from uniform, and the same on every run.
std::vector<std::vector<float>> UnevenConfidences(const Interactions& data) {
  std::vector<std::vector<float>> c(static_cast<size_t>(data.num_users()));
  for (int32_t u = 0; u < data.num_users(); ++u) {
    for (int32_t i : data.items_of(u)) {
      c[static_cast<size_t>(u)].push_back(1.0F + 3.0F * static_cast<float>((u + i) % 3));
    }
  }
  return c;
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

TEST(IalsModel, ConfidencesOfOneGiveTheModelWithoutConfidences) {
  Interactions data = ClusteredData({.users = 60, .clusters = 3, .cluster_size = 4, .seed = 5});
  IalsOptions o = SmallOptions();
  o.factors = 4;
  std::vector<std::vector<float>> ones(static_cast<size_t>(data.num_users()));
  for (int32_t u = 0; u < data.num_users(); ++u) {
    ones[static_cast<size_t>(u)].assign(data.items_of(u).size(), 1.0F);
  }
  auto plain = IalsModel::Train(data, o);
  auto weighted = IalsModel::Train(data, o, ones);
  ASSERT_TRUE(plain.ok() && weighted.ok());
  for (int32_t i = 0; i < data.num_items(); ++i) {
    std::span<const double> a = (*plain)->item_embedding(i);
    std::span<const double> b = (*weighted)->item_embedding(i);
    for (size_t f = 0; f < a.size(); ++f) EXPECT_EQ(a[f], b[f]) << i << " " << f;
  }
  std::vector<int32_t> history = {1, 5, 6};
  std::vector<float> a(static_cast<size_t>(data.num_items()));
  std::vector<float> b(a.size());
  (*plain)->Score(history, a);
  (*weighted)->Score(history, b);
  EXPECT_EQ(a, b);
}

TEST(IalsModel, ScoreWeightedWithWeightsOfOneIsScore) {
  Interactions data = ClusteredData({.users = 60, .clusters = 3, .cluster_size = 4, .seed = 5});
  auto model = IalsModel::Train(data, SmallOptions(), UnevenConfidences(data));
  ASSERT_TRUE(model.ok());
  std::vector<int32_t> history = {0, 4, 9, 11};
  std::vector<WeightedItem> weighted;
  weighted.reserve(history.size());
  for (int32_t i : history) weighted.push_back({.item = i, .weight = 1.0F});
  std::vector<float> plain(static_cast<size_t>(data.num_items()));
  std::vector<float> scores(plain.size(), -1.0F);
  (*model)->Score(history, plain);
  (*model)->ScoreWeighted(weighted, scores);
  EXPECT_EQ(plain, scores);
  (*model)->ScoreWeighted({}, scores);
  for (float s : scores) EXPECT_EQ(s, 0.0F);
}

// The weighted fold-in against the header's formula written out by hand (d = 3): weights 4,
// 1 and 0.5 move the scores far beyond the tolerance from the unweighted fold-in's.
TEST(IalsModel, ScoreWeightedFoldsInTheWeightedHistory) {
  Interactions data = ClusteredData({.users = 60, .clusters = 3, .cluster_size = 4, .seed = 5});
  IalsOptions o = SmallOptions();
  o.factors = 3;
  auto model = IalsModel::Train(data, o);
  ASSERT_TRUE(model.ok());
  const std::vector<std::vector<double>> h = ItemEmbeddings(**model);
  std::vector<WeightedItem> history = {
      {.item = 3, .weight = 4.0F}, {.item = 4, .weight = 1.0F}, {.item = 9, .weight = 0.5F}};
  std::vector<std::pair<int32_t, double>> row;
  row.reserve(history.size());
  for (const WeightedItem& e : history) row.emplace_back(e.item, e.weight);
  const std::vector<double> w = RowStepByHand(h, row, o);
  std::vector<float> scores(h.size());
  (*model)->ScoreWeighted(history, scores);
  for (size_t j = 0; j < h.size(); ++j) {
    EXPECT_NEAR(scores[j], w[0] * h[j][0] + w[1] * h[j][1] + w[2] * h[j][2], 1e-6) << j;
  }
}

// Training alternates exact user and item steps, so once it has converged its item
// embeddings H are a fixed point of one more round: W = the user step from H, then the item
// step from W gives H back. The test runs that round by hand from the loss in ials.h, each
// pair (u, i) weighing c_ui in both steps. Had training's user step or its item step ignored
// the confidences, H would be the fixed point of other equations, and the round by hand
// would move it (by ~0.1 or more; it moves a converged H by ~1e-15).
TEST(IalsModel, ConfidencesWeighBothStepsOfTraining) {
  Interactions data = Interactions::FromUserItems(6, {{0, 1, 2},
                                                      {0, 1},
                                                      {1, 2, 3},
                                                      {2, 3, 4},
                                                      {3, 4, 5},
                                                      {0, 4, 5},
                                                      {0, 2, 5},
                                                      {1, 3, 5},
                                                      {0, 3},
                                                      {2, 4}})
                          .value();
  std::vector<std::vector<float>> confidences = UnevenConfidences(data);
  IalsOptions o = SmallOptions();
  o.factors = 3;
  o.alpha0 = 0.2;
  o.epochs = 400;
  auto model = IalsModel::Train(data, o, confidences);
  ASSERT_TRUE(model.ok());
  const std::vector<std::vector<double>> h = ItemEmbeddings(**model);
  std::vector<std::vector<double>> w;
  std::vector<std::vector<std::pair<int32_t, double>>> users_of(h.size());
  for (int32_t u = 0; u < data.num_users(); ++u) {
    std::vector<std::pair<int32_t, double>> row;
    std::span<const int32_t> items = data.items_of(u);
    for (size_t k = 0; k < items.size(); ++k) {
      const double c = confidences[static_cast<size_t>(u)][k];
      row.emplace_back(items[k], c);
      users_of[static_cast<size_t>(items[k])].emplace_back(u, c);
    }
    w.push_back(RowStepByHand(h, row, o));
  }
  for (size_t i = 0; i < h.size(); ++i) {
    const std::vector<double> again = RowStepByHand(w, users_of[i], o);
    for (size_t f = 0; f < again.size(); ++f) EXPECT_NEAR(again[f], h[i][f], 1e-7) << i;
  }
}

// Users of cluster 1 weigh their pairs with blockbuster 0 heavily (a purchase, say, where
// the rest are views). For such a user who also has blockbuster 1 (weight 1), the model
// trained and folded in with those weights fits blockbuster 0 more closely than blockbuster
// 1, where the uniform model treats the two alike.
TEST(IalsModel, AHeavierConfidenceRaisesThePairsItem) {
  ClusteredDataOptions c{.users = 120, .clusters = 3, .cluster_size = 4, .seed = 11};
  Interactions data = ClusteredData(c);
  std::vector<std::vector<float>> confidences(static_cast<size_t>(data.num_users()));
  int32_t user = -1;
  for (int32_t u = 0; u < data.num_users(); ++u) {
    std::span<const int32_t> items = data.items_of(u);
    for (int32_t i : items) {
      const bool heavy = u % c.clusters == 1 && i == 0;
      confidences[static_cast<size_t>(u)].push_back(heavy ? 20.0F : 1.0F);
    }
    const bool both = items.size() > 1 && items[0] == 0 && items[1] == 1;
    if (user < 0 && u % c.clusters == 1 && both) user = u;
  }
  ASSERT_GE(user, 0) << "no user of cluster 1 has both blockbusters";
  IalsOptions o;
  o.factors = 8;
  auto uniform = IalsModel::Train(data, o);
  auto weighted = IalsModel::Train(data, o, confidences);
  ASSERT_TRUE(uniform.ok() && weighted.ok());
  std::span<const int32_t> items = data.items_of(user);
  std::vector<WeightedItem> history;
  for (size_t k = 0; k < items.size(); ++k) {
    history.push_back({.item = items[k], .weight = confidences[static_cast<size_t>(user)][k]});
  }
  std::vector<float> before(static_cast<size_t>(data.num_items()));
  std::vector<float> after(before.size());
  (*uniform)->Score(items, before);
  (*weighted)->ScoreWeighted(history, after);
  EXPECT_GT(after[0] - after[1], before[0] - before[1] + 0.05F)
      << "uniform " << before[0] << " vs " << before[1] << "; weighted " << after[0] << " vs "
      << after[1];
}

TEST(IalsModel, RefusesConfidencesThatDoNotFitTheData) {
  Interactions data = Interactions::FromUserItems(3, {{0, 1}, {1, 2}}).value();
  auto refusal = [&data](std::vector<std::vector<float>> confidences) {
    auto model = IalsModel::Train(data, SmallOptions(), confidences);
    return model.ok() ? std::string("accepted") : model.status().message();
  };
  EXPECT_EQ(refusal({{1, 1}}), "ials: confidences hold 1 lists for 2 users");
  EXPECT_EQ(refusal({{1, 1}, {1, 1, 1}}), "ials: user 1 has 3 confidences for 2 items");
  EXPECT_EQ(refusal({{1, 1}, {}}), "ials: user 1 has 0 confidences for 2 items");
  for (float bad : {0.0F, -1.0F, NAN, INFINITY}) {
    const std::string message = refusal({{1, 1}, {1, bad}});
    EXPECT_TRUE(message.starts_with("ials: confidence 1 of user 1 is ")) << message;
    EXPECT_TRUE(message.ends_with("; it must be finite and > 0")) << message;
  }
  EXPECT_EQ(refusal({{1, 1}, {2, 0.5}}), "accepted");
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
