// `profiled import-ratings`: loads a ratings file (recs/ratings.h) into a running server as
// events, through its /batch endpoint, so they take the normal ingestion path (validation,
// identity, de-duplication, computations and recommendation histories).
//
// Each positive rating (rating >= min_rating; 0 = every rating) becomes one event:
//   {"user_id":"user-<user>","event_type":"<event_type>","time":<ms>,
//    "insert_id":"rating-<user>-<item>","event_properties":{"movie_id":"<item>","rating":<r>}}
// sent in file order, in batches of kImportBatchEvents. `time` is the rating's timestamp in
// milliseconds, moved (by default, --time shifted) so that the newest rating is now and the
// gaps between ratings are kept: ratings from years ago would otherwise fall outside every
// rolling window. The insert_id makes a second import of the same file change nothing.
//
// Thread-compatible free functions.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "recs/ratings.h"

namespace profiled::cli {

inline constexpr size_t kImportBatchEvents = 1000;

// The command line of `profiled import-ratings`, as given.
struct ImportRatingsFlags {
  std::string config_path;
  std::string project;
  std::string ratings_path;
  std::string format;       // movielens-csv | movielens-tsv
  double min_rating = 4.0;  // 0: every rating
  std::string event_type = "Movie Rated";
  std::string time = "shifted";  // shifted | original
  std::string server;            // HOST:PORT; empty: the config's server.listen
  std::string ca_file;  // TLS on in the config: the CA (PEM) the server's certificate chains to
};

// Runs the command: reads the config and the ratings, then POSTs every batch, waiting for
// each answer (the server answers once the batch is durable). Progress, the summary and
// errors go to `err`. Over HTTPS when the config's server has TLS on (ServerTarget). Returns
// the exit code: 0 when every batch was accepted; 2 for bad flags (--ca-file without TLS in
// the config), an unreadable config, CA or ratings file, an unknown project; 1 when the
// server cannot be reached, its certificate is not trusted (at once, a "TLS:" message), or
// it refuses a batch (the message quotes its answer; the batches before it were applied,
// and a run again resends them harmlessly).
int ImportRatings(const ImportRatingsFlags& flags, int64_t now_ms, std::FILE* err);

// The shift added to every rating's time (ms): 0 for original times, else now_ms minus the
// newest timestamp of `ratings`, in ms.
int64_t TimeShiftMs(std::span<const recs::Rating> ratings, bool shifted, int64_t now_ms);

// The /batch body {"api_key":..,"events":[..]} of `ratings`, one event each as above.
std::string BatchBody(std::span<const recs::Rating> ratings, std::string_view api_key,
                      std::string_view event_type, int64_t shift_ms);

}  // namespace profiled::cli
