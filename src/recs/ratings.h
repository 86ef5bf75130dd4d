// Ratings files as published by GroupLens, and the implicit positives taken from them.
//
//  - movielens-csv: ml-latest(-small)'s ratings.csv, a header line
//    "userId,movieId,rating,timestamp" then one rating per line.
//  - movielens-tsv: ML-100k's u.data, "user<TAB>item<TAB>rating<TAB>timestamp", no header.
//
// Pure functions over text already read; thread-safe.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "recs/interactions.h"

namespace profiled::recs {

enum class RatingsFormat { kMovieLensCsv, kMovieLensTsv };

// "movielens-csv" or "movielens-tsv"; InvalidArgument otherwise.
Result<RatingsFormat> ParseRatingsFormat(std::string_view name);

struct Rating {
  int64_t user = 0;
  int64_t item = 0;
  double rating = 0;
  int64_t timestamp = 0;  // Unix seconds
};

// Every rating of `text`, in file order. Blank lines are skipped (a final newline is optional,
// CRLF accepted). Fails with InvalidArgument naming the line when a line does not have four
// fields, an id or the timestamp is not a non-negative integer, a rating is not a finite
// number, or the csv header is missing; and when the file holds no rating.
Result<std::vector<Rating>> ParseRatings(std::string_view text, RatingsFormat format);

// The implicit positives of a ratings list: (user, item) pairs rated ≥ min_rating. Users and
// items with at least one positive get dense indices in ascending order of their external id;
// user_ids[u] and item_ids[i] give those ids back.
struct Positives {
  Interactions data;
  std::vector<int64_t> user_ids;
  std::vector<int64_t> item_ids;
};
Positives PositivesOf(const std::vector<Rating>& ratings, double min_rating);

}  // namespace profiled::recs
