// ScanLimits: how far one of the console's log scans may go (docs/API.md, "Console API"): at
// most `max_entries` log entries (then the scan stops and answers what it has, marked
// truncated), and not one entry further once `*stop` is true (the worker's shutdown). A value;
// `stop` is borrowed and read with a relaxed load at every entry.
#pragma once

#include <atomic>
#include <cstdint>

namespace profiled {

struct ScanLimits {
  // 5,000,000 entries: a week of a project logging ~8 events/s fits. A user lookup read
  // 3-8 million small entries/s on RocksDB and 0.9-2.4 million/s on a local Redis Cluster
  // (bench/console_scan.mjs; docs/API.md, "Console API"), so the cap bounds a scan to seconds, not
  // minutes.
  static constexpr uint64_t kDefaultMaxEntries = 5'000'000;
  uint64_t max_entries = kDefaultMaxEntries;
  const std::atomic<bool>* stop = nullptr;  // none: never stopped
  bool Stopped() const { return stop != nullptr && stop->load(std::memory_order_relaxed); }
};

}  // namespace profiled
