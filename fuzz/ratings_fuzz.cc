// Ratings files (MovieLens CSV or TSV) through recs::ParseRatings, as `profiled import-ratings`
// and `profiled eval` read the file an operator names. Checks that a refusal is an
// InvalidArgument naming a line, and that what is accepted is what the header promises: at
// least one rating, ids and timestamps non-negative, ratings finite.
// The input: the format on the first byte (even: movielens-csv, odd: movielens-tsv), then the
// file.
#include <cmath>
#include <cstdint>

#include "fuzz_input.h"
#include "recs/ratings.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace profiled;  // NOLINT(google-build-using-namespace): a fuzz target's glue
  fuzz::FuzzInput input(data, size);
  recs::RatingsFormat format = input.Byte() % 2 == 0 ? recs::RatingsFormat::kMovieLensCsv
                                                     : recs::RatingsFormat::kMovieLensTsv;
  Result<std::vector<recs::Rating>> ratings = recs::ParseRatings(input.Rest(), format);
  if (!ratings.ok()) {
    FUZZ_CHECK(ratings.status().code() == ErrorCode::kInvalidArgument);
    return 0;
  }
  FUZZ_CHECK(!ratings->empty());
  for (const recs::Rating& r : *ratings) {
    FUZZ_CHECK(r.user >= 0 && r.item >= 0 && r.timestamp >= 0 && std::isfinite(r.rating));
  }
  return 0;
}
