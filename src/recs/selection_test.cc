#include "recs/selection.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "recs/test_util.h"

namespace profiled::recs {
namespace {

TEST(ExpandGrid, GivesEveryCombinationFirstParameterSlowest) {
  Result<std::vector<Candidate>> grid =
      ExpandGrid(ModelKind::kIals, {{"factors", {"8", "16"}}, {"lambda", {"0.1", "0.2", "0.3"}}});
  ASSERT_TRUE(grid.ok()) << grid.status().ToString();
  ASSERT_EQ(grid->size(), 6U);
  EXPECT_EQ((*grid)[0].options.ials.factors, 8);
  EXPECT_EQ((*grid)[0].options.ials.lambda, 0.1);
  EXPECT_EQ((*grid)[2].options.ials.lambda, 0.3);
  EXPECT_EQ((*grid)[3].options.ials.factors, 16);
  EXPECT_EQ((*grid)[3].options.ials.lambda, 0.1);
  EXPECT_EQ((*grid)[5].params, (std::vector<std::pair<std::string, std::string>>{
                                   {"factors", "16"}, {"lambda", "0.3"}}));
}

TEST(ExpandGrid, WithoutParametersGivesTheDefaults) {
  Result<std::vector<Candidate>> grid = ExpandGrid(ModelKind::kEase, {});
  ASSERT_TRUE(grid.ok());
  ASSERT_EQ(grid->size(), 1U);
  EXPECT_EQ((*grid)[0].options.lambda, ModelOptions{}.lambda);
}

TEST(ExpandGrid, RefusesARepeatedEmptyOrInvalidParameter) {
  EXPECT_FALSE(ExpandGrid(ModelKind::kEase, {{"lambda", {"1"}}, {"lambda", {"2"}}}).ok());
  EXPECT_FALSE(ExpandGrid(ModelKind::kEase, {{"lambda", {}}}).ok());
  EXPECT_FALSE(ExpandGrid(ModelKind::kEase, {{"lambda", {"1", "-1"}}}).ok());
  EXPECT_FALSE(ExpandGrid(ModelKind::kEase, {{"factors", {"8"}}}).ok());
}

TEST(ValidationSeed, DiffersFromTheSplitSeedAndBetweenFolds) {
  std::set<uint64_t> seeds;
  for (uint64_t seed : {1U, 2U, 3U}) {
    for (int32_t fold = 0; fold < 3; ++fold) seeds.insert(ValidationSeed(seed, fold));
    EXPECT_NE(ValidationSeed(seed, 0), seed);
  }
  EXPECT_EQ(seeds.size(), 9U);
  EXPECT_EQ(ValidationSeed(7, 1), ValidationSeed(7, 1));
}

// Holdout: a validation user's history and held-out items are that user's training items,
// so no test item takes part in validation.
TEST(ValidationSplit, HoldoutIsCarvedFromEachUsersTrainingItems) {
  EvalSplit split = MakeSplit(testing::ClusteredData({}), Protocol::kHoldout, 5);
  EvalSplit validation = ValidationSplit(split, 5, 0);
  ASSERT_FALSE(validation.users.empty());
  EXPECT_EQ(validation.train.num_items(), split.train.num_items());
  for (const EvalUser& v : validation.users) {
    std::span<const int32_t> trained = split.train.items_of(v.user);
    for (const std::vector<int32_t>* part : {&v.history, &v.held_out}) {
      for (int32_t i : *part) {
        EXPECT_TRUE(std::binary_search(trained.begin(), trained.end(), i)) << v.user << " " << i;
      }
    }
    EXPECT_EQ(v.history.size() + v.held_out.size(), trained.size());
  }
}

// Strong: the validation users are drawn from the training users; the test users' items are
// nowhere in the validation split (it is made from split.train alone).
TEST(ValidationSplit, StrongHoldsOutSomeOfTheTrainingUsers) {
  EvalSplit split = MakeSplit(testing::ClusteredData({}), Protocol::kStrong, 5);
  EvalSplit validation = ValidationSplit(split, 5, 0);
  ASSERT_FALSE(validation.users.empty());
  EXPECT_EQ(validation.protocol, Protocol::kStrong);
  size_t eligible = 0;
  for (int32_t u = 0; u < split.train.num_users(); ++u) {
    eligible += split.train.items_of(u).size() >= kMinPositivesToEvaluate ? 1 : 0;
  }
  EXPECT_EQ(validation.users.size(), eligible / kHeldOutShareDivisor);
  EXPECT_EQ(validation.train.num_users() + static_cast<int32_t>(validation.users.size()),
            split.train.num_users());
  for (const EvalUser& v : validation.users) EXPECT_LT(v.user, split.train.num_users());
}

std::vector<Candidate> EaseLambdas() {
  // λ = 0.001 fits the sampling noise of the planted data; λ = 200 does not (model_test.cc).
  return ExpandGrid(ModelKind::kEase, {{"lambda", {"0.001", "200"}}}).value();
}

TEST(SelectOnValidation, PicksTheCandidateThatValidatesBest) {
  EvalSplit split = MakeSplit(testing::ClusteredData({}), Protocol::kHoldout, 3);
  Result<Selection> selection = SelectOnValidation(split, 3, EaseLambdas(), 2);
  ASSERT_TRUE(selection.ok()) << selection.status().ToString();
  ASSERT_EQ(selection->validation_ndcg.size(), 2U);
  EXPECT_EQ(selection->chosen, 1U);
  EXPECT_GT(selection->validation_ndcg[1], selection->validation_ndcg[0]);
  EXPECT_GT(selection->validation_users, 0U);
}

// The test items are not an input of the selection: replacing every held-out item of the
// split changes nothing of it.
TEST(SelectOnValidation, NeverLooksAtTheTestItems) {
  EvalSplit split = MakeSplit(testing::ClusteredData({}), Protocol::kHoldout, 4);
  Result<Selection> before = SelectOnValidation(split, 4, EaseLambdas(), 1);
  for (EvalUser& user : split.users) user.held_out = {0};
  Result<Selection> after = SelectOnValidation(split, 4, EaseLambdas(), 1);
  ASSERT_TRUE(before.ok() && after.ok());
  EXPECT_EQ(before->chosen, after->chosen);
  EXPECT_EQ(before->validation_ndcg, after->validation_ndcg);
}

// Blend candidates share their trained parts within a fold; the scores must be those of
// candidates trained one by one.
TEST(SelectOnValidation, ScoresBlendsAsIfEachWereTrainedAlone) {
  EvalSplit split = MakeSplit(testing::ClusteredData({}), Protocol::kHoldout, 6);
  std::vector<Candidate> grid = ExpandGrid(ModelKind::kBlend, {{"ease_lambda", {"50", "200"}},
                                                               {"factors", {"4"}},
                                                               {"ials_weight", {"0", "0.5", "1"}}})
                                    .value();
  Result<Selection> selection = SelectOnValidation(split, 6, grid, 1);
  ASSERT_TRUE(selection.ok()) << selection.status().ToString();
  EvalSplit validation = ValidationSplit(split, 6, 0);
  const std::vector<size_t> ks = {kSelectionCutoff};
  for (size_t c = 0; c < grid.size(); ++c) {
    Result<EvalReport> alone = Evaluate(validation, grid[c].options, ks);
    ASSERT_TRUE(alone.ok());
    EXPECT_EQ(selection->validation_ndcg[c], alone->cutoffs[0].ndcg) << c;
  }
}

TEST(SelectOnValidation, RefusesNoCandidateOrNoFold) {
  EvalSplit split = MakeSplit(testing::ClusteredData({}), Protocol::kHoldout, 4);
  EXPECT_FALSE(SelectOnValidation(split, 4, {}, 1).ok());
  EXPECT_FALSE(SelectOnValidation(split, 4, EaseLambdas(), 0).ok());
}

}  // namespace
}  // namespace profiled::recs
