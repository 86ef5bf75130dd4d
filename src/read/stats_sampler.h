// StatsSampler: the console's plots over time (GET /admin/v1/stats; docs/API.md, "Console
// API"): the ingestion, profile read and request rates, sampled every `rate_seconds` from the
// Metrics counters, and every project's cohort sizes, counted every `cohort_seconds` (a scan
// of the project's users, ProfileReader::CohortSizes).
//
// Samples live in memory only, in rings of at most kMaxRateSamples and kMaxCohortSamples per
// project (the oldest go first): a restart starts the plots afresh. A project's cohort ring keeps
// its cohort ids once and a vector of sizes per sample (1,000 cohorts x 288 samples is ~2.3 MB).
// Start runs two background threads of its own (one per kind, so a long cohort scan never delays a
// rate sample); never an I/O thread or the ingest writer. The first rate sample is one interval
// after Start (a rate needs two readings of the counters); the first cohort sample is taken right
// at Start. A project whose cohort count fails is logged and skipped for that round.
//
// Thread-safe: Snapshot and SetProjects from any thread while the threads sample. Stop (or the
// destructor) ends the threads; call it before the store closes.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/metrics.h"
#include "core/status.h"

namespace profiled::read {

using CohortSizeMap = std::map<std::string, uint64_t, std::less<>>;

// One reading of the rates: per second, over the interval that ended at `t_ms`.
struct RateSample {
  int64_t t_ms = 0;
  double events_ingested_per_second = 0;
  double profile_reads_per_second = 0;
  double requests_per_second = 0;
};

// The rates between two readings of the counters, taken at `before_ms` and `after_ms`.
// A counter that went down (never, in one process) counts as 0. REQUIRES: after_ms > before_ms.
RateSample RatesBetween(const Metrics::Totals& before, int64_t before_ms,
                        const Metrics::Totals& after, int64_t after_ms);

// One count of a project's cohorts: sizes[i] is the size of CohortSeries::ids[i], or
// kNotCounted (the cohort did not exist then); ids past the end were not counted either.
struct CohortSample {
  static constexpr uint64_t kNotCounted = UINT64_MAX;
  int64_t t_ms = 0;
  std::vector<uint64_t> sizes;
};

// A project's cohort sizes over time: every id counted in one of the samples, oldest first.
struct CohortSeries {
  std::vector<std::string> ids;
  std::vector<CohortSample> samples;
  // The sizes of samples[i] by cohort id (the counted ones only).
  CohortSizeMap SizesAt(size_t i) const;
};

// What to copy: every project or one, every sample or only those after a time.
struct StatsFilter {
  std::string project;    // empty: every project
  int64_t since_ms = -1;  // only samples with t_ms > since_ms (-1: all)
};

// What GET /admin/v1/stats serves: copies, oldest sample first.
struct StatsSnapshot {
  int64_t started_ms = 0;  // when the sampler was made: another value means a restart
  int rate_seconds = 0;
  std::vector<RateSample> rates;
  int cohort_seconds = 0;                       // 0: cohort sizes are not sampled
  std::map<std::string, CohortSeries> cohorts;  // every project (or the one asked), by id
};

class StatsSampler {
 public:
  static constexpr size_t kMaxRateSamples = 360;
  static constexpr size_t kMaxCohortSamples = 288;
  // Counts the members of every served cohort of a project (ProfileReader::CohortSizes),
  // giving up soon after `cancel` turns true (Stop sets it, so a long scan never holds a
  // shutdown up).
  using CohortSizer = std::function<Status(std::string_view project, CohortSizeMap* sizes,
                                           const std::atomic<bool>& cancel)>;

  // Borrows `metrics` and `clock` (they must outlive the sampler). REQUIRES: rate_seconds >= 1,
  // cohort_seconds >= 0 (0: never). Nothing is sampled before Start.
  StatsSampler(const Metrics& metrics, const Clock& clock, CohortSizer sizer, int rate_seconds,
               int cohort_seconds, std::vector<std::string> projects);
  ~StatsSampler();
  StatsSampler(const StatsSampler&) = delete;
  StatsSampler& operator=(const StatsSampler&) = delete;

  void Start();
  void Stop();

  // The projects sampled from the next round on (a configuration reload); the samples of a
  // project no longer listed are dropped.
  void SetProjects(std::vector<std::string> projects);

  // Copies, under the lock, only what `filter` asks for. A project the sampler does not list
  // is left out (the caller answers 404 for it).
  StatsSnapshot Snapshot(const StatsFilter& filter = {}) const;

  // One round of each kind at the clock's time, as the threads take them (tests call them
  // directly, without Start). SampleRates' first call only reads the counters.
  void SampleRates();
  void SampleCohorts();

 private:
  // A project's ring: its cohort ids (each counted in a kept sample) and the samples.
  struct CohortRing {
    std::vector<std::string> ids;
    std::deque<CohortSample> samples;
  };

  // Calls `round` at once, then every `seconds` until Stop.
  void Loop(int seconds, void (StatsSampler::*round)());
  static void Push(CohortRing* ring, int64_t t_ms, const CohortSizeMap& sizes);

  const Metrics& metrics_;
  const Clock& clock_;
  const CohortSizer sizer_;
  const int rate_seconds_;
  const int cohort_seconds_;
  const int64_t started_ms_;

  std::atomic<bool> cancel_{false};  // set by Stop: a cohort scan under way gives up
  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;                      // GUARDED_BY mu_
  std::vector<std::string> projects_;          // GUARDED_BY mu_
  bool have_totals_ = false;                   // GUARDED_BY mu_
  Metrics::Totals last_totals_;                // GUARDED_BY mu_
  int64_t last_totals_ms_ = 0;                 // GUARDED_BY mu_
  std::deque<RateSample> rates_;               // GUARDED_BY mu_
  std::map<std::string, CohortRing> cohorts_;  // GUARDED_BY mu_
  std::thread rate_thread_;
  std::thread cohort_thread_;
};

}  // namespace profiled::read
