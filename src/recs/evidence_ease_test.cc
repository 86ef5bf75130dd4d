#include "recs/evidence_ease.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "recs/ease.h"

namespace profiled::recs {
namespace {

using Dense = std::vector<std::vector<double>>;  // row-major, small

Dense Zeros(int32_t rows, int32_t cols) {
  return Dense(static_cast<size_t>(rows), std::vector<double>(static_cast<size_t>(cols), 0.0));
}

// The inverse of a small positive definite matrix by Gauss–Jordan elimination.
Dense Inverse(Dense g) {
  const size_t m = g.size();
  Dense inv = Zeros(static_cast<int32_t>(m), static_cast<int32_t>(m));
  for (size_t i = 0; i < m; ++i) inv[i][i] = 1;
  for (size_t c = 0; c < m; ++c) {
    size_t pivot = c;
    for (size_t r = c + 1; r < m; ++r) {
      if (std::abs(g[r][c]) > std::abs(g[pivot][c])) pivot = r;
    }
    std::swap(g[c], g[pivot]);
    std::swap(inv[c], inv[pivot]);
    const double scale = 1.0 / g[c][c];
    for (size_t k = 0; k < m; ++k) {
      g[c][k] *= scale;
      inv[c][k] *= scale;
    }
    for (size_t r = 0; r < m; ++r) {
      if (r == c || g[r][c] == 0) continue;
      const double f = g[r][c];
      for (size_t k = 0; k < m; ++k) {
        g[r][k] -= f * g[c][k];
        inv[r][k] -= f * inv[c][k];
      }
    }
  }
  return inv;
}

// A training set: 0/1 targets and weighted inputs (the weights in 0.25..1.5).
struct TrainingSet {
  Interactions targets;
  std::vector<std::vector<WeightedItem>> inputs;
};

// Items [0, target_items) may be targets; [0, input_items) may be inputs; items at or beyond
// both are in no row. An item in [target_items, input_items) is input-only; the last target
// item is never an input (target-only) when target_only is set.
TrainingSet RandomSet(uint64_t seed, int32_t users, int32_t items, int32_t target_items,
                      int32_t input_items, bool target_only) {
  std::mt19937_64 engine(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  TrainingSet set;
  std::vector<std::vector<int32_t>> target_rows(static_cast<size_t>(users));
  set.inputs.resize(static_cast<size_t>(users));
  for (int32_t u = 0; u < users; ++u) {
    for (int32_t j = 0; j < std::max(target_items, input_items); ++j) {
      const bool input =
          j < input_items && !(target_only && j == target_items - 1) && unit(engine) < 0.45;
      if (input) {
        set.inputs[static_cast<size_t>(u)].push_back(
            {j, static_cast<float>(0.25 + 1.25 * unit(engine))});
      }
      // Targets lean on inputs so that B has structure to learn.
      if (j < target_items && unit(engine) < (input ? 0.6 : 0.25)) {
        target_rows[static_cast<size_t>(u)].push_back(j);
      }
    }
    // Any order is allowed: reverse some rows.
    if (u % 3 == 0) {
      std::reverse(set.inputs[static_cast<size_t>(u)].begin(),
                   set.inputs[static_cast<size_t>(u)].end());
    }
  }
  set.targets = Interactions::FromUserItems(items, std::move(target_rows)).value();
  return set;
}

// The primal form, straight from the header: P = (XᵀX + Λ)⁻¹, M = P XᵀY, γ_j = M_jj / P_jj,
// B = M − P diag(γ); the score of j is (q B)_j c_j^−β.
Dense PrimalWeights(const TrainingSet& set, const EvidenceEaseOptions& o) {
  const int32_t m = set.targets.num_items();
  const int32_t n = set.targets.num_users();
  Dense x = Zeros(n, m);
  Dense y = Zeros(n, m);
  for (int32_t u = 0; u < n; ++u) {
    for (const WeightedItem& w : set.inputs[static_cast<size_t>(u)]) {
      x[static_cast<size_t>(u)][static_cast<size_t>(w.item)] = w.weight;
    }
    for (int32_t j : set.targets.items_of(u)) {
      y[static_cast<size_t>(u)][static_cast<size_t>(j)] = 1;
    }
  }
  const auto mm = static_cast<size_t>(m);
  Dense g = Zeros(m, m);
  Dense xty = Zeros(m, m);
  for (size_t i = 0; i < mm; ++i) {
    for (size_t j = 0; j < mm; ++j) {
      for (size_t u = 0; u < static_cast<size_t>(n); ++u) {
        g[i][j] += x[u][i] * x[u][j];
        xty[i][j] += x[u][i] * y[u][j];
      }
    }
  }
  for (size_t j = 0; j < mm; ++j) g[j][j] += o.lambda + o.emphasis * g[j][j];
  const Dense p = Inverse(g);
  Dense b = Zeros(m, m);
  for (size_t i = 0; i < mm; ++i) {
    for (size_t j = 0; j < mm; ++j) {
      for (size_t k = 0; k < mm; ++k) b[i][j] += p[i][k] * xty[k][j];  // M
    }
  }
  std::vector<double> gamma(mm);
  for (size_t j = 0; j < mm; ++j) gamma[j] = b[j][j] / p[j][j];
  for (size_t i = 0; i < mm; ++i) {
    for (size_t j = 0; j < mm; ++j) {
      const double c = std::max(1, set.targets.item_counts()[j]);
      b[i][j] = (b[i][j] - p[i][j] * gamma[j]) * std::pow(c, -o.popularity_exponent);
    }
  }
  return b;
}

std::vector<float> Scores(const EvidenceEaseModel& model, const std::vector<WeightedItem>& q) {
  std::vector<float> scores(static_cast<size_t>(model.num_items()), -7.0F);
  model.Score(q, scores);
  return scores;
}

double MaxAbs(const std::vector<float>& v) {
  double most = 0;
  for (float f : v) most = std::max(most, static_cast<double>(std::abs(f)));
  return most;
}

TEST(EvidenceEaseModel, WithInputsEqualToTargetsAndNoEmphasisItIsEase) {
  std::mt19937_64 engine(11);
  std::vector<std::vector<int32_t>> rows(30);
  std::vector<std::vector<WeightedItem>> inputs(30);
  for (size_t u = 0; u < rows.size(); ++u) {
    for (int32_t j = 0; j < 11; ++j) {  // item 11: nobody's
      if (engine() % 100 < 35) {
        rows[u].push_back(j);
        inputs[u].push_back({j, 1.0F});
      }
    }
  }
  Interactions data = Interactions::FromUserItems(12, rows).value();
  const double lambda = 4.0;
  auto ease = EaseModel::Train(data, lambda, 1000);
  ASSERT_TRUE(ease.ok()) << ease.status().ToString();
  EvidenceEaseOptions o;
  o.lambda = lambda;
  auto model = EvidenceEaseModel::Train(data, inputs, o);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  ASSERT_EQ((*model)->num_items(), 12);
  for (size_t u = 0; u < rows.size(); ++u) {
    std::vector<float> want(12);
    (*ease)->Score(rows[u], want);
    std::vector<float> got = Scores(**model, inputs[u]);
    const double scale = std::max(1e-3, MaxAbs(want));
    for (size_t j = 0; j < want.size(); ++j) {
      EXPECT_NEAR(got[j], want[j], 1e-4 * scale) << "row " << u << " item " << j;
    }
    EXPECT_EQ(got[11], 0.0F);
  }
}

EvidenceEaseOptions Options(double lambda, double emphasis, double popularity_exponent) {
  EvidenceEaseOptions o;
  o.lambda = lambda;
  o.emphasis = emphasis;
  o.popularity_exponent = popularity_exponent;
  return o;
}

TEST(EvidenceEaseModel, MatchesTheDensePrimalForm) {
  // Items 0..8 targets (8 never an input), 9..11 input-only, 12..13 in no row.
  TrainingSet set = RandomSet(5, 25, 14, 9, 12, true);
  const EvidenceEaseOptions o = Options(3.0, 0.5, 0.25);
  auto model = EvidenceEaseModel::Train(set.targets, set.inputs, o);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const Dense b = PrimalWeights(set, o);
  std::mt19937_64 engine(99);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<WeightedItem> q;
    for (int32_t i = 0; i < 14; ++i) {
      if (unit(engine) < 0.4) q.push_back({i, static_cast<float>(2.0 * unit(engine) - 0.5)});
    }
    std::vector<double> want(14, 0.0);
    for (const WeightedItem& w : q) {
      for (size_t j = 0; j < 14; ++j) want[j] += w.weight * b[static_cast<size_t>(w.item)][j];
    }
    std::vector<float> got = Scores(**model, q);
    double scale = 1e-3;
    for (double v : want) scale = std::max(scale, std::abs(v));
    for (size_t j = 0; j < 14; ++j) {
      EXPECT_NEAR(got[j], want[j], 1e-5 * scale) << "trial " << trial << " item " << j;
    }
    EXPECT_EQ(got[12], 0.0F);
    EXPECT_EQ(got[13], 0.0F);
  }
}

TEST(EvidenceEaseModel, AnItemsOwnEvidenceDoesNotChangeItsScore) {
  TrainingSet set = RandomSet(8, 30, 10, 8, 10, false);
  const EvidenceEaseOptions o = Options(2.0, 0.5, 0.5);
  auto model = EvidenceEaseModel::Train(set.targets, set.inputs, o);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const std::vector<WeightedItem> base = {{1, 1.0F}, {4, 0.5F}, {6, 1.25F}};
  for (int32_t j : {2, 4, 6}) {
    std::vector<float> without = Scores(**model, base);
    std::vector<WeightedItem> q = base;
    std::erase_if(q, [j](const WeightedItem& w) { return w.item == j; });
    for (float weight : {0.0F, 0.3F, 3.0F}) {
      std::vector<WeightedItem> with = q;
      with.push_back({j, weight});
      std::vector<float> got = Scores(**model, with);
      EXPECT_NEAR(got[static_cast<size_t>(j)], without[static_cast<size_t>(j)],
                  1e-5 * MaxAbs(without))
          << "item " << j << " weight " << weight;
    }
    // The evidence of j does move the other items' scores: the check above is not vacuous.
    std::vector<WeightedItem> heavy = q;
    heavy.push_back({j, 3.0F});
    std::vector<float> moved = Scores(**model, heavy);
    std::vector<float> light = Scores(**model, q);
    double change = 0;
    for (size_t i = 0; i < moved.size(); ++i) {
      if (static_cast<int32_t>(i) != j) change += std::abs(moved[i] - light[i]);
    }
    EXPECT_GT(change, 1e-3) << "item " << j;
  }
}

TEST(EvidenceEaseModel, NoRowsScoreEveryItemZero) {
  Interactions none = Interactions::FromUserItems(4, {}).value();
  auto model = EvidenceEaseModel::Train(none, {}, EvidenceEaseOptions{});
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ(Scores(**model, {{0, 1.0F}, {3, 2.0F}}), std::vector<float>(4, 0.0F));
}

// A training set of two rows over three items, and inputs to break.
struct SmallSet {
  Interactions targets = Interactions::FromUserItems(3, {{0, 1}, {2}}).value();
  std::vector<std::vector<WeightedItem>> inputs = {{{0, 1.0F}, {1, 0.5F}}, {{2, 1.0F}}};
};

void ExpectInvalid(const Interactions& targets,
                   const std::vector<std::vector<WeightedItem>>& inputs,
                   const EvidenceEaseOptions& o, const std::string& mentions) {
  auto model = EvidenceEaseModel::Train(targets, inputs, o);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(model.status().message().rfind("evidence: ", 0), 0U) << model.status().message();
  EXPECT_NE(model.status().message().find(mentions), std::string::npos) << model.status().message();
}

TEST(EvidenceEaseModel, TheSmallSetTrains) {
  SmallSet s;
  EXPECT_TRUE(EvidenceEaseModel::Train(s.targets, s.inputs, EvidenceEaseOptions{}).ok());
}

TEST(EvidenceEaseModel, RefusesAnInputRowCountOtherThanTheTargets) {
  SmallSet s;
  s.inputs.pop_back();
  ExpectInvalid(s.targets, s.inputs, {}, "1 input rows for 2 target rows");
}

TEST(EvidenceEaseModel, RefusesARepeatedInputItem) {
  SmallSet s;
  s.inputs[1].push_back({2, 0.5F});
  ExpectInvalid(s.targets, s.inputs, {}, "repeats item 2");
}

TEST(EvidenceEaseModel, RefusesAnInputItemOutOfRange) {
  SmallSet s;
  s.inputs[0].push_back({3, 1.0F});
  ExpectInvalid(s.targets, s.inputs, {}, "names item 3");
  s.inputs[0].back().item = -1;
  ExpectInvalid(s.targets, s.inputs, {}, "names item -1");
}

TEST(EvidenceEaseModel, RefusesAWeightThatIsNotFinite) {
  SmallSet s;
  s.inputs[1][0].weight = std::numeric_limits<float>::infinity();
  ExpectInvalid(s.targets, s.inputs, {}, "not a finite number");
  s.inputs[1][0].weight = std::numeric_limits<float>::quiet_NaN();
  ExpectInvalid(s.targets, s.inputs, {}, "not a finite number");
}

TEST(EvidenceEaseModel, RefusesAnOptionOutsideItsRange) {
  SmallSet s;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (double lambda : {0.0, -1.0, 2e7, nan}) {
    ExpectInvalid(s.targets, s.inputs, Options(lambda, 0, 0), "lambda");
  }
  for (double beta : {-0.1, 2.5, nan}) {
    ExpectInvalid(s.targets, s.inputs, Options(300, 0, beta), "popularity_exponent");
  }
  for (double a : {-0.5, 101.0, nan}) {
    ExpectInvalid(s.targets, s.inputs, Options(300, a, 0), "emphasis");
  }
}

// Λ_j·P_jj ≥ Λ_j / (Λ_j + d_j): a λ of 1e-300 against weights of about 1 leaves no digit.
TEST(EvidenceEaseModel, RefusesALambdaTooSmallForTheWeights) {
  SmallSet s;
  EvidenceEaseOptions o;
  o.lambda = 1e-300;
  ExpectInvalid(s.targets, s.inputs, o, "is too small for the inputs' weights");
  o.lambda = 1e-5;  // d_j ≤ 1 here, so Λ_j·P_jj ≥ 1e-5: still precise enough
  EXPECT_TRUE(EvidenceEaseModel::Train(s.targets, s.inputs, o).ok());
}

TEST(EvidenceEaseModel, RefusesMoreRowsThanItsLimit) {
  const auto rows = static_cast<size_t>(kMaxEvidenceRows) + 1;
  Interactions targets =
      Interactions::FromUserItems(2, std::vector<std::vector<int32_t>>(rows)).value();
  std::vector<std::vector<WeightedItem>> inputs(rows);
  ExpectInvalid(targets, inputs, {}, "above the limit of 20000");
}

}  // namespace
}  // namespace profiled::recs
