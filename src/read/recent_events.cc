#include "read/recent_events.h"

#include <algorithm>
#include <unordered_set>

#include "store/keys.h"

namespace profiled::read {

Status ReadRecentEvents(store::Store& store, std::string_view project, uint64_t amplitude_id,
                        int64_t since_ms, size_t max_events, RecentEvents* out,
                        const ScanLimits& limits) {
  out->events.clear();
  out->events_scanned = 0;
  out->truncated = false;
  std::unordered_set<uint64_t> ids = {amplitude_id};
  std::string merged;
  Status s = store.Get(store::Table::kProfiles,
                       store::UserRecordKey(project, amplitude_id, store::UserRecord::kMergedIds),
                       &merged);
  if (s.ok()) {
    std::vector<uint64_t> list;
    PROFILED_RETURN_IF_ERROR(store::DecodeIdList(merged, &list));
    ids.insert(list.begin(), list.end());
  } else if (!s.IsNotFound()) {
    return s;
  }
  if (max_events == 0) return Status::Ok();
  // The candidates with their log position; pruned to the newest max_events whenever they
  // reach twice that, so memory stays bounded however many events the user has.
  struct Candidate {
    store::EventRecord record;
    uint64_t position = 0;
  };
  auto newer = [](const Candidate& a, const Candidate& b) {
    return a.record.time_ms != b.record.time_ms ? a.record.time_ms > b.record.time_ms
                                                : a.position > b.position;
  };
  std::vector<Candidate> kept;
  auto prune = [&] {
    if (kept.size() <= max_events) return;
    std::nth_element(kept.begin(), kept.begin() + static_cast<std::ptrdiff_t>(max_events),
                     kept.end(), newer);
    kept.resize(max_events);
  };
  store::EventRecord record;
  const std::string prefix = store::ProjectPrefix(project);
  bool stopped = false;
  PROFILED_RETURN_IF_ERROR(
      store.Scan(store::Table::kEvents, store::EventKeyLowerBound(project, since_ms),
                 store::PrefixEnd(prefix), [&](std::string_view, std::string_view value) {
                   if (limits.Stopped()) {
                     stopped = true;
                     return false;
                   }
                   if (out->events_scanned >= limits.max_entries) {
                     out->truncated = true;
                     return false;
                   }
                   ++out->events_scanned;
                   if (!store::DecodeEvent(value, &record).ok()) return true;
                   if (ids.count(record.amplitude_id) == 0) return true;
                   kept.push_back({std::move(record), out->events_scanned});
                   record = store::EventRecord();
                   if (kept.size() >= 2 * max_events) prune();
                   return true;
                 }));
  if (stopped) return Status::Unavailable("server is shutting down");
  prune();
  std::sort(kept.begin(), kept.end(), newer);
  for (Candidate& c : kept) out->events.push_back(std::move(c.record));
  return Status::Ok();
}

}  // namespace profiled::read
