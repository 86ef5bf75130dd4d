#include "recs/evaluation.h"

#include <gtest/gtest.h>

#include "recs/test_util.h"

namespace profiled::recs {
namespace {

EvalReport EvaluateModel(const EvalSplit& split, ModelKind kind) {
  ModelOptions options;
  options.kind = kind;
  options.lambda = 200;
  options.neighbours = 20;
  const std::vector<size_t> ks = {10, 20};
  Result<EvalReport> report = Evaluate(split, options, ks);
  EXPECT_TRUE(report.ok()) << report.status().ToString();
  return report.value();
}

// On data with planted clusters, the models that learn item-item structure beat popularity
// under both protocols.
TEST(Evaluate, ModelsThatLearnStructureBeatPopularityOnPlantedClusters) {
  Interactions data = testing::ClusteredData({});
  for (Protocol protocol : {Protocol::kHoldout, Protocol::kStrong}) {
    EvalSplit split = MakeSplit(data, protocol, 11);
    EvalReport popular = EvaluateModel(split, ModelKind::kPopular);
    EvalReport knn = EvaluateModel(split, ModelKind::kItemKnn);
    EvalReport ease = EvaluateModel(split, ModelKind::kEase);
    EXPECT_GT(knn.cutoffs[0].ndcg, popular.cutoffs[0].ndcg + 0.1) << ProtocolName(protocol);
    EXPECT_GT(ease.cutoffs[0].ndcg, popular.cutoffs[0].ndcg + 0.1) << ProtocolName(protocol);
    // Popularity recommends the same ten items to everyone who has not seen them.
    EXPECT_LT(popular.coverage_at_10, ease.coverage_at_10);
    EXPECT_EQ(ease.users, split.users.size());
    EXPECT_EQ(ease.items, split.train.num_items());
  }
}

TEST(Evaluate, ReportsEachCutoffInOrder) {
  EvalSplit split = MakeSplit(testing::ClusteredData({}), Protocol::kHoldout, 1);
  EvalReport report = EvaluateModel(split, ModelKind::kPopular);
  ASSERT_EQ(report.cutoffs.size(), 2U);
  EXPECT_EQ(report.cutoffs[0].k, 10U);
  EXPECT_EQ(report.cutoffs[1].k, 20U);
  EXPECT_GE(report.cutoffs[1].recall, report.cutoffs[0].recall);
}

TEST(Evaluate, RefusesAZeroCutoff) {
  EvalSplit split = MakeSplit(testing::ClusteredData({}), Protocol::kHoldout, 1);
  const std::vector<size_t> ks = {0};
  EXPECT_FALSE(Evaluate(split, ModelOptions{}, ks).ok());
}

}  // namespace
}  // namespace profiled::recs
