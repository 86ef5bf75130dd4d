// The online report of one recommendation (docs/RECS.md, "Online report"): from the
// project's event log of a window, how many users were shown the recommendation in its
// control and treatment groups, and how many of them converted afterwards.
//
//  - An exposure is an event compute::kExposureEventType whose event_properties.rec_id is the
//    recommendation's id; event_properties.is_control (true) puts it in control, anything else
//    in treatment.
//  - A user belongs to the group of their first exposure in the window (the smallest event
//    time; of equal times, the first logged), and all of their exposures count for that group.
//  - A user converted when they have an event of the conversion type whose event time is not
//    before their first exposure.
//  - Users are profiles: an anonymous id merged into another counts as that one (MergedIds).
//
// RecReportCounter is the pure counting (a value; not thread-safe); ScanRecReport feeds it
// from the store's event log on the calling thread (a scan: never call it on an I/O thread).
// The scan keeps exposures and conversions by the logged amplitude_id and resolves the ids at
// the end (MergedIds::ResolveAll, in batches); conversions of users never exposed are dropped
// then, before counting.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "core/scan_limits.h"
#include "core/status.h"
#include "store/store.h"

namespace profiled::ingest {

struct RecGroupFigures {
  int64_t users = 0;            // users whose first exposure was in this group
  int64_t exposures = 0;        // all exposures of those users
  int64_t converted_users = 0;  // those of them who converted after their first exposure
  // converted_users / users; 0 when there are no users.
  double conversion_rate() const {
    return users == 0 ? 0.0 : static_cast<double>(converted_users) / static_cast<double>(users);
  }
};

struct RecReport {
  RecGroupFigures control;
  RecGroupFigures treatment;
  // treatment rate / control rate - 1; none when either group has no users or the control
  // rate is 0 (lift is undefined).
  std::optional<double> lift;
  uint64_t events_scanned = 0;  // log entries read
  bool truncated = false;       // the scan stopped at its cap, before the window's end
};

class RecReportCounter {
 public:
  // An exposure of `user` at event time `time_ms`, in control or not.
  void AddExposure(uint64_t user, int64_t time_ms, bool is_control);
  // `exposures` exposures of `user`, the first of them at `first_ms`: as that many AddExposure
  // calls with the first one first.
  void AddExposures(uint64_t user, int64_t first_ms, bool is_control, int64_t exposures);
  // A conversion event of `user` at event time `time_ms`.
  void AddConversion(uint64_t user, int64_t time_ms);
  // The figures of what was added (events_scanned 0).
  RecReport Figures() const;

 private:
  struct Exposed {
    int64_t first_ms = 0;
    bool is_control = false;
    int64_t exposures = 0;
  };
  std::unordered_map<uint64_t, Exposed> exposed_;
  std::unordered_map<uint64_t, int64_t> last_conversion_ms_;  // per user, the latest
};

// Reads the event log of `project` ingested at or after `since_ms` and counts the report of
// recommendation `rec_id` with conversion event type `conversion_event`. Log entries that do
// not decode are skipped. Fails with the store's error (or Corruption from MergedIds). Reads
// at most limits.max_entries log entries (then `truncated`, the figures of those read);
// Unavailable when limits.stop turns true during the scan (no entry is read after that).
Result<RecReport> ScanRecReport(store::Store& store, std::string_view project,
                                std::string_view rec_id, std::string_view conversion_event,
                                int64_t since_ms, const ScanLimits& limits = {});

}  // namespace profiled::ingest
