#include "recs/ease.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "recs/test_util.h"

namespace profiled::recs {
namespace {

// X = [[1, 1], [1, 0]], λ = 1: G = XᵀX + I = [[3, 1], [1, 2]], P = G⁻¹ = [[2, −1], [−1, 3]] / 5,
// B_01 = −P_01 / P_11 = (1/5) / (3/5) = 1/3 and B_10 = −P_10 / P_00 = (1/5) / (2/5) = 1/2.
TEST(EaseModel, MatchesAHandComputedTwoItemCase) {
  Interactions data = Interactions::FromUserItems(2, {{0, 1}, {0}}).value();
  for (EaseModel::Form form : {EaseModel::Form::kPrimal, EaseModel::Form::kDual}) {
    Result<std::unique_ptr<EaseModel>> model = EaseModel::Train(data, 1.0, 100, form);
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    EXPECT_FLOAT_EQ((*model)->weight(0, 1), 1.0F / 3);
    EXPECT_FLOAT_EQ((*model)->weight(1, 0), 1.0F / 2);
    EXPECT_EQ((*model)->weight(0, 0), 0.0F);
    EXPECT_EQ((*model)->weight(1, 1), 0.0F);
    std::vector<int32_t> history = {0};
    std::vector<float> scores(2);
    (*model)->Score(history, scores);
    EXPECT_FLOAT_EQ(scores[1], 1.0F / 3);
  }
}

// Three items, one user holding all three, λ = 1: G = J + I (J all ones), so G⁻¹ = I − J / 4,
// P_ii = 3/4, P_ij = −1/4, and every off-diagonal B_ij = (1/4) / (3/4) = 1/3.
TEST(EaseModel, MatchesAHandComputedThreeItemCase) {
  Interactions data = Interactions::FromUserItems(3, {{0, 1, 2}}).value();
  Result<std::unique_ptr<EaseModel>> model =
      EaseModel::Train(data, 1.0, 100, EaseModel::Form::kPrimal);
  ASSERT_TRUE(model.ok());
  for (int32_t i = 0; i < 3; ++i) {
    for (int32_t j = 0; j < 3; ++j) {
      EXPECT_FLOAT_EQ((*model)->weight(i, j), i == j ? 0.0F : 1.0F / 3) << i << "," << j;
    }
  }
}

TEST(EaseModel, PrimalAndDualFormsAgree) {
  testing::ClusteredDataOptions o;
  o.users = 30;  // fewer users than items, where the dual form is the cheap one
  o.cluster_size = 10;
  Interactions data = testing::ClusteredData(o);
  auto primal = EaseModel::Train(data, 5.0, 1000, EaseModel::Form::kPrimal);
  auto dual = EaseModel::Train(data, 5.0, 1000, EaseModel::Form::kDual);
  ASSERT_TRUE(primal.ok() && dual.ok());
  for (int32_t i = 0; i < data.num_items(); ++i) {
    for (int32_t j = 0; j < data.num_items(); ++j) {
      EXPECT_NEAR((*primal)->weight(i, j), (*dual)->weight(i, j), 1e-5) << i << "," << j;
    }
  }
}

TEST(EaseModel, AnItemNobodyInteractedWithHasNoWeights) {
  Interactions data = Interactions::FromUserItems(3, {{0, 2}, {0}}).value();
  Result<std::unique_ptr<EaseModel>> model = EaseModel::Train(data, 1.0, 100);
  ASSERT_TRUE(model.ok());
  EXPECT_EQ((*model)->trained_items(), 2);
  EXPECT_EQ((*model)->weight(0, 1), 0.0F);
  EXPECT_EQ((*model)->weight(1, 0), 0.0F);
  // The same B as the two-item data without the empty item: X = [[1, 1], [1, 0]].
  EXPECT_FLOAT_EQ((*model)->weight(0, 2), 1.0F / 3);
  std::vector<int32_t> history = {1};
  std::vector<float> scores(3, 9.0F);
  (*model)->Score(history, scores);
  EXPECT_EQ(scores, (std::vector<float>{0, 0, 0}));
}

// The two-item case above, debiased with β = 1: item 0 has 2 users and item 1 has 1, so
// column 0 of B is halved and column 1 kept: B_01 = 1/3, B_10 = 1/2 / 2 = 1/4.
TEST(EaseModel, PopularityExponentDividesEachColumnByItsCountToThatPower) {
  Interactions data = Interactions::FromUserItems(2, {{0, 1}, {0}}).value();
  Result<std::unique_ptr<EaseModel>> model =
      EaseModel::Train(data, 1.0, 100, EaseModel::Form::kAuto, 1.0);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_FLOAT_EQ((*model)->weight(0, 1), 1.0F / 3);
  EXPECT_FLOAT_EQ((*model)->weight(1, 0), 1.0F / 4);
  Result<std::unique_ptr<EaseModel>> half =
      EaseModel::Train(data, 1.0, 100, EaseModel::Form::kAuto, 0.5);
  ASSERT_TRUE(half.ok());
  EXPECT_FLOAT_EQ((*half)->weight(1, 0), static_cast<float>(0.5 / std::sqrt(2.0)));
}

TEST(EaseModel, RefusesANonPositiveLambdaAndTooManyItems) {
  Interactions data = Interactions::FromUserItems(3, {{0, 1, 2}}).value();
  EXPECT_EQ(EaseModel::Train(data, 0.0, 100).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(EaseModel::Train(data, -1.0, 100).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(EaseModel::Train(data, 1.0, 2).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(EaseModel::Train(data, 1.0, 100, EaseModel::Form::kAuto, -0.1).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(EaseModel::Train(data, 1.0, 100, EaseModel::Form::kAuto, 2.5).status().code(),
            ErrorCode::kInvalidArgument);
}

// λ = 1e308 passes Train's own check (finite, positive) but P ≈ I/λ underflows float to 0,
// and B = −P/P_jj is then 0/0: that must fail, not be served as a model of NaN weights.
TEST(EaseModel, FailsWhenAWeightIsNotFinite) {
  Interactions data = Interactions::FromUserItems(3, {{0, 1}, {1, 2}, {0, 2}}).value();
  for (EaseModel::Form form : {EaseModel::Form::kPrimal, EaseModel::Form::kDual}) {
    Result<std::unique_ptr<EaseModel>> model = EaseModel::Train(data, 1e308, 100, form);
    EXPECT_EQ(model.status().code(), ErrorCode::kInternal) << model.status().ToString();
  }
}

}  // namespace
}  // namespace profiled::recs
