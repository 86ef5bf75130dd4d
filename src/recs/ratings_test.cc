#include "recs/ratings.h"

#include <gtest/gtest.h>

namespace profiled::recs {
namespace {

TEST(ParseRatings, ReadsMovieLensCsvWithItsHeader) {
  Result<std::vector<Rating>> r = ParseRatings(
      "userId,movieId,rating,timestamp\r\n1,31,2.5,1260759144\r\n1,1029,3.0,1260759179\n",
      RatingsFormat::kMovieLensCsv);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2U);
  EXPECT_EQ((*r)[0].user, 1);
  EXPECT_EQ((*r)[0].item, 31);
  EXPECT_EQ((*r)[0].rating, 2.5);
  EXPECT_EQ((*r)[1].item, 1029);
  EXPECT_EQ((*r)[1].timestamp, 1260759179);
}

TEST(ParseRatings, ReadsMovieLensTsvWithoutAHeader) {
  Result<std::vector<Rating>> r =
      ParseRatings("196\t242\t3\t881250949\n186\t302\t3\t891717742", RatingsFormat::kMovieLensTsv);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2U);
  EXPECT_EQ((*r)[1].user, 186);
  EXPECT_EQ((*r)[1].rating, 3.0);
}

TEST(ParseRatings, NamesTheLineOfAMalformedRating) {
  auto csv = ParseRatings("userId,movieId,rating,timestamp\n1,2,4,5\n1,x,4,5\n",
                          RatingsFormat::kMovieLensCsv);
  EXPECT_EQ(csv.status().message(), "line 3: bad item id");
  EXPECT_EQ(ParseRatings("1\t2\t3\n", RatingsFormat::kMovieLensTsv).status().message(),
            "line 1: expected 4 fields separated by tabs");
  EXPECT_FALSE(ParseRatings("1,2,3,4\n", RatingsFormat::kMovieLensCsv).ok());  // no header
  EXPECT_FALSE(ParseRatings("1\t2\tnan\t4\n", RatingsFormat::kMovieLensTsv).ok());
  EXPECT_FALSE(ParseRatings("-1\t2\t3\t4\n", RatingsFormat::kMovieLensTsv).ok());
  EXPECT_EQ(ParseRatings("1\t2\t3\t4.5\n", RatingsFormat::kMovieLensTsv).status().message(),
            "line 1: bad timestamp");
  EXPECT_FALSE(ParseRatings("", RatingsFormat::kMovieLensTsv).ok());
  EXPECT_FALSE(ParseRatingsFormat("csv").ok());
}

TEST(PositivesOf, KeepsRatingsAtOrAboveTheThresholdWithDenseIndices) {
  std::vector<Rating> ratings = {
      {10, 500, 4.0}, {10, 7, 3.5}, {3, 7, 5.0}, {3, 500, 4.5}, {8, 9, 1.0}};
  Positives p = PositivesOf(ratings, 4.0);
  EXPECT_EQ(p.user_ids, (std::vector<int64_t>{3, 10}));  // user 8 has no positive
  EXPECT_EQ(p.item_ids, (std::vector<int64_t>{7, 500}));
  EXPECT_EQ(p.data.num_users(), 2);
  EXPECT_EQ(p.data.items_of(0).size(), 2U);  // user 3: items 7 and 500
  ASSERT_EQ(p.data.items_of(1).size(), 1U);  // user 10: item 500 only
  EXPECT_EQ(p.data.items_of(1)[0], 1);
}

}  // namespace
}  // namespace profiled::recs
