// RecentEvents: a user's newest logged events (the console's profile lookup; docs/API.md,
// "Console API"), found by one scan of the project's event log (store table kEvents) from a
// given ingest time on: every event logged under the user's amplitude_id or under an anonymous
// id merged into it (the user's merged-ids record).
//
// A scan of the log's window: an export's cost, never an I/O thread's work. Pure function
// over a borrowed store; thread-safe as the store is.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/scan_limits.h"
#include "core/status.h"
#include "store/records.h"
#include "store/store.h"

namespace profiled::read {

struct RecentEvents {
  // At most `max_events`, newest first: by event time, then the later logged first.
  std::vector<store::EventRecord> events;
  uint64_t events_scanned = 0;  // log entries the scan read (of every user of the project)
  bool truncated = false;       // the scan stopped at limits.max_entries, before the log's end
};

// The events of user `amplitude_id` of `project` (and of the ids merged into it) logged at or
// after `since_ms` (ingest time). Errors: the store's; Corruption when the merged-ids record
// does not decode. A log entry that does not decode is skipped (and counted as scanned).
// At most limits.max_entries entries are read: then `truncated`, with the events found so far
// (the oldest of the window). Unavailable when limits.stop turns true during the scan (no entry
// is read after that).
Status ReadRecentEvents(store::Store& store, std::string_view project, uint64_t amplitude_id,
                        int64_t since_ms, size_t max_events, RecentEvents* out,
                        const ScanLimits& limits = {});

}  // namespace profiled::read
