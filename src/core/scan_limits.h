// ScanLimits: how far one of the console's log scans may go (docs/API.md, "Console API"): at
// most `max_entries` log entries (then the scan stops and answers what it has, marked
// truncated), and not one entry further once `*stop` is true (the worker's shutdown). A value;
// `stop` is borrowed and read with a relaxed load at every entry.
#pragma once

#include <atomic>
#include <cstdint>

namespace profiled {

struct ScanLimits {
  // 5,000,000 entries: a week of a project logging ~8 events/s fits; a busy project's week
  // does not, and the console asks for a shorter window. (How long a scan of that many takes
  // on either backend is not measured.)
  static constexpr uint64_t kDefaultMaxEntries = 5'000'000;
  uint64_t max_entries = kDefaultMaxEntries;
  const std::atomic<bool>* stop = nullptr;  // none: never stopped
  bool Stopped() const { return stop != nullptr && stop->load(std::memory_order_relaxed); }
};

}  // namespace profiled
