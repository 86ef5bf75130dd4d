#include "cli/import_ratings.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace profiled::cli {
namespace {

namespace json = boost::json;

TEST(BatchBody, WritesOneEventPerRating) {
  std::vector<recs::Rating> ratings = {{7, 31, 4.5, 1'000}, {8, 2, 5.0, 2'000}};
  json::value body = json::parse(BatchBody(ratings, "key\"1", "Movie Rated", 500));
  EXPECT_EQ(body, json::parse(R"({"api_key":"key\"1","events":[
      {"user_id":"user-7","event_type":"Movie Rated","time":1000500,"insert_id":"rating-7-31",
       "event_properties":{"movie_id":"31","rating":4.5}},
      {"user_id":"user-8","event_type":"Movie Rated","time":2000500,"insert_id":"rating-8-2",
       "event_properties":{"movie_id":"2","rating":5}}]})"));
}

TEST(TimeShiftMs, MovesTheNewestRatingToNow) {
  std::vector<recs::Rating> ratings = {{1, 1, 4, 100}, {1, 2, 4, 300}, {2, 1, 4, 200}};
  EXPECT_EQ(TimeShiftMs(ratings, /*shifted=*/true, 1'000'000), 1'000'000 - 300'000);
  EXPECT_EQ(TimeShiftMs(ratings, /*shifted=*/false, 1'000'000), 0);
}

}  // namespace
}  // namespace profiled::cli
