#include "recs/blend.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "recs/ials.h"
#include "recs/popular.h"
#include "recs/test_util.h"

namespace profiled::recs {
namespace {

std::unique_ptr<ItemModel> Fixed(std::vector<float> scores) {
  return std::make_unique<PopularModel>(std::move(scores));
}

// Two fixed scorers over 4 items, history {0}: the unseen items 1, 2, 3 score (2, 3, 4) and
// (3, 2, 1); standardised over those three (mean 3 and 2, standard deviation √(2/3)) both give
// ±√(3/2) and 0. With w = 1/4: 3/4 · z₁ + 1/4 · z₂.
TEST(BlendModel, SumsTheStandardisedScoresOfItsModels) {
  BlendModel blend(Fixed({1, 2, 3, 4}), Fixed({4, 3, 2, 1}), 0.25);
  std::vector<int32_t> history = {0};
  std::vector<float> scores(4);
  blend.Score(history, scores);
  const float z = std::sqrt(1.5F);
  EXPECT_NEAR(scores[1], 0.75F * -z + 0.25F * z, 1e-6);
  EXPECT_NEAR(scores[2], 0.0F, 1e-6);
  EXPECT_NEAR(scores[3], 0.75F * z + 0.25F * -z, 1e-6);
}

// The history's own scores do not enter the standardisation: a huge score on a seen item
// changes nothing for the unseen ones.
TEST(BlendModel, StandardisesOverTheUnseenItemsOnly) {
  std::vector<int32_t> history = {0};
  std::vector<float> plain(4);
  std::vector<float> outlier(4);
  BlendModel(Fixed({1, 2, 3, 4}), Fixed({4, 3, 2, 1}), 0.5).Score(history, plain);
  BlendModel(Fixed({1000, 2, 3, 4}), Fixed({-1000, 3, 2, 1}), 0.5).Score(history, outlier);
  for (size_t j = 1; j < 4; ++j) EXPECT_NEAR(plain[j], outlier[j], 1e-6) << j;
}

TEST(BlendModel, ConstantScoresContributeNothing) {
  BlendModel blend(Fixed({5, 5, 5}), Fixed({1, 3, 2}), 0.5);
  std::vector<float> scores(3);
  blend.Score({}, scores);
  EXPECT_LT(scores[0], scores[2]);
  EXPECT_LT(scores[2], scores[1]);
  EXPECT_FALSE(std::isnan(scores[0]));
}

TEST(BlendModel, TrainsBothModelsOnTheSameData) {
  Interactions data = testing::ClusteredData({});
  ModelOptions options = DefaultModelOptions(ModelKind::kBlend);
  options.lambda = 200;
  options.ials.factors = 8;
  options.ials_weight = 1.0;
  Result<std::unique_ptr<BlendModel>> blend = BlendModel::Train(data, options);
  ASSERT_TRUE(blend.ok()) << blend.status().ToString();
  EXPECT_EQ((*blend)->num_items(), data.num_items());
  // With w = 1 the blend ranks as its ials part does.
  Result<std::unique_ptr<IalsModel>> ials = IalsModel::Train(data, options.ials);
  ASSERT_TRUE(ials.ok());
  std::vector<int32_t> history = {5, 6, 7};
  Result<std::vector<ScoredItem>> a = Recommend(**blend, history, {}, 10);
  Result<std::vector<ScoredItem>> b = Recommend(**ials, history, {}, 10);
  ASSERT_TRUE(a.ok() && b.ok());
  for (size_t r = 0; r < a->size(); ++r) EXPECT_EQ((*a)[r].item, (*b)[r].item) << r;
}

TEST(BlendModel, RefusesAWeightOutsideZeroToOne) {
  ModelOptions options = DefaultModelOptions(ModelKind::kBlend);
  options.ials_weight = 1.5;
  EXPECT_FALSE(BlendModel::Train(testing::ClusteredData({}), options).ok());
}

}  // namespace
}  // namespace profiled::recs
