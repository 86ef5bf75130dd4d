#include "recs/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace profiled::recs {
namespace {

constexpr int32_t kRanked[] = {5, 1, 9, 3};
constexpr int32_t kHeldOut[] = {1, 3, 7};  // hits at ranks 2 and 4 (positions 1 and 3)

TEST(RecallAtK, DividesHitsByTheSmallerOfKAndTheHeldOutCount) {
  EXPECT_DOUBLE_EQ(RecallAtK(kRanked, kHeldOut, 1), 0.0);
  EXPECT_DOUBLE_EQ(RecallAtK(kRanked, kHeldOut, 2), 1.0 / 2);  // 1 hit / min(2, 3)
  EXPECT_DOUBLE_EQ(RecallAtK(kRanked, kHeldOut, 4), 2.0 / 3);  // 2 hits / min(4, 3)
  EXPECT_DOUBLE_EQ(RecallAtK(kRanked, kHeldOut, 20), 2.0 / 3);
}

TEST(RecallAtK, IsOneWhenTheTopKIsAllHeldOut) {
  std::vector<int32_t> ranked = {3, 1};
  EXPECT_DOUBLE_EQ(RecallAtK(ranked, kHeldOut, 2), 1.0);
}

TEST(NdcgAtK, DiscountsHitsByLogOfTheirRank) {
  const double l3 = std::log2(3.0), l5 = std::log2(5.0);
  EXPECT_DOUBLE_EQ(NdcgAtK(kRanked, kHeldOut, 1), 0.0);
  EXPECT_DOUBLE_EQ(NdcgAtK(kRanked, kHeldOut, 2), (1 / l3) / (1 + 1 / l3));
  EXPECT_DOUBLE_EQ(NdcgAtK(kRanked, kHeldOut, 4), (1 / l3 + 1 / l5) / (1 + 1 / l3 + 0.5));
}

TEST(NdcgAtK, IsOneForAPerfectRanking) {
  std::vector<int32_t> ranked = {7, 3, 1, 8};
  EXPECT_DOUBLE_EQ(NdcgAtK(ranked, kHeldOut, 3), 1.0);
  EXPECT_DOUBLE_EQ(NdcgAtK(ranked, kHeldOut, 10), 1.0);
}

TEST(Metrics, AreZeroWithoutHeldOutItems) {
  EXPECT_EQ(RecallAtK(kRanked, {}, 10), 0.0);
  EXPECT_EQ(NdcgAtK(kRanked, {}, 10), 0.0);
}

}  // namespace
}  // namespace profiled::recs
