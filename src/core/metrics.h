// Metrics: process-wide counters and latency histograms, rendered in the Prometheus
// text format for GET /metrics.
//
// Thread-safe and lock-free on the recording side: every series is a relaxed atomic in a
// fixed array, so recording costs a few increments. Routes are registered once at start-up
// (RegisterRoute is not safe to call concurrently with recording).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace profiled {

class Metrics {
 public:
  static constexpr int kMaxRoutes = 32;
  // Upper bounds in seconds of the latency histogram buckets (plus +Inf).
  // Fine below 250 µs, where a profile read answers.
  static constexpr std::array<double, 19> kBucketBounds = {
      0.000025, 0.00005, 0.000075, 0.0001, 0.00015, 0.0002, 0.00025, 0.0005, 0.001, 0.0025,
      0.005,    0.01,    0.025,    0.05,   0.1,     0.25,   0.5,     1.0,    2.5};
  // HTTP status codes with their own series; any other lands in "other".
  static constexpr std::array<int, 13> kStatuses = {200, 204, 400, 401, 403, 404, 405,
                                                    413, 414, 429, 431, 500, 503};

  Metrics();

  // Returns the index to pass to RecordRequest. REQUIRES: fewer than kMaxRoutes routes,
  // called before any request is recorded.
  int RegisterRoute(std::string_view name);

  void RecordRequest(int route, int status, double seconds);
  void AddEventsIngested(uint64_t n) { events_ingested_.fetch_add(n, std::memory_order_relaxed); }
  void AddEventsRejected(uint64_t n) { events_rejected_.fetch_add(n, std::memory_order_relaxed); }
  void AddEventsDeduplicated(uint64_t n) {
    events_deduplicated_.fetch_add(n, std::memory_order_relaxed);
  }
  void AddEventsThrottled(uint64_t n) { events_throttled_.fetch_add(n, std::memory_order_relaxed); }
  // A commit group applied again because a shared store's lock could not be had in time.
  void AddCommitRetry() { commit_retries_.fetch_add(1, std::memory_order_relaxed); }
  void AddBackfilledEvents(uint64_t n) {
    events_backfilled_.fetch_add(n, std::memory_order_relaxed);
  }
  // A profile read made on its I/O thread's event loop, or one made on a read thread (a shared
  // store's reads: docs/SCALING.md, "Reads").
  void AddProfileReadOnLoop() { profile_reads_on_loop_.fetch_add(1, std::memory_order_relaxed); }
  void AddProfileReadOnThread() {
    profile_reads_on_thread_.fetch_add(1, std::memory_order_relaxed);
  }
  void SetConnections(int64_t n) { connections_.store(n, std::memory_order_relaxed); }
  // Called at render time; returns the store's approximate size on disk in bytes.
  void SetStoreSizeSource(std::function<uint64_t()> fn) { store_size_ = std::move(fn); }

  std::string RenderPrometheus() const;

  // Running totals since start-up, for rates over time (the console's stats sampler): events
  // ingested, requests answered on the Profile API's routes (those registered under a name
  // starting with "/v1/userprofile"), and every request answered. Each is a relaxed read, so
  // the three are not one atomic snapshot.
  struct Totals {
    uint64_t events_ingested = 0;
    uint64_t profile_reads = 0;
    uint64_t requests = 0;
  };
  Totals ReadTotals() const;

 private:
  static constexpr int kStatusSlots = static_cast<int>(kStatuses.size()) + 1;
  static constexpr int kBuckets = static_cast<int>(kBucketBounds.size()) + 1;
  struct Series {
    std::array<std::atomic<uint64_t>, kBuckets> buckets{};
    std::atomic<uint64_t> count{0};
    std::atomic<uint64_t> sum_micros{0};
  };

  std::vector<std::string> routes_;
  std::vector<Series> series_;  // kMaxRoutes * kStatusSlots
  std::atomic<uint64_t> events_ingested_{0};
  std::atomic<uint64_t> events_rejected_{0};
  std::atomic<uint64_t> events_deduplicated_{0};
  std::atomic<uint64_t> events_throttled_{0};
  std::atomic<uint64_t> events_backfilled_{0};
  std::atomic<uint64_t> commit_retries_{0};
  std::atomic<uint64_t> profile_reads_on_loop_{0};
  std::atomic<uint64_t> profile_reads_on_thread_{0};
  std::atomic<int64_t> connections_{0};
  std::function<uint64_t()> store_size_;
};

}  // namespace profiled
