// AggregatesEditor: the ingest writer's update of one user's aggregates record (store tag
// 'a', the encoding of UserAggregates in compute/aggregate.h) for one event, made on the
// encoded bytes.
//
// An event changes a few of a user's spec states (those of the specs it matches); the
// record holds every spec the user ever matched. Decoding the whole record into a
// UserAggregates and encoding it back for each event cost more than the rest of applying
// the event. The editor walks the record once, decodes, changes and re-encodes only the
// states of the matched specs, and copies the other states' bytes as they are. The result is
// the record UserAggregates::Encode writes for the same change (see AddEvent), so a record
// written either way reads the same, and the stored format does not change.
//
// It owns scratch buffers that it reuses from one call to the next (no allocation per event
// once warm). Not thread-safe: one per writer thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "compute/aggregate.h"
#include "compute/catalog.h"
#include "core/status.h"

namespace profiled::compute {

class AggregatesEditor {
 public:
  // Adds `event` to the states of `matched` in *record, a user's encoded aggregates (empty =
  // none). The new record is what decoding *record, dropping the states of specs `catalog`
  // does not have, calling states[id].Add(spec, event, now_ms) for every spec of `matched`,
  // dropping the states left empty and encoding would give; it is empty when no state
  // remains (the record is then deleted). *changed (when not null) tells whether the bytes
  // changed.
  // REQUIRES: every spec of `matched` is one of `catalog`'s, appears once, and matches the
  // event (SpecMatches).
  // Errors: Corruption when the record's framing or the stored state of a matched spec does
  // not decode; *record is then unchanged. The other states are copied without being decoded.
  Status AddEvent(const ProjectCatalog& catalog, std::span<const SpecEntry* const> matched,
                  const EventFields& event, int64_t now_ms, std::string* record,
                  bool* changed = nullptr);

 private:
  // Decodes `stored` (empty = a new state) into state_, adds the event, and appends the
  // result to body_ unless it is empty.
  Status AddTo(const SpecEntry& spec, std::string_view stored, const EventFields& event,
               int64_t now_ms);
  void Append(uint64_t id, std::string_view state_bytes);

  std::vector<const SpecEntry*> sorted_;  // `matched` by ascending id
  std::string body_;                      // the new record's states
  uint64_t count_ = 0;                    // how many states body_ holds
  uint64_t last_id_ = 0;                  // the id of the last one
  std::string state_bytes_;
  std::string out_;
  SpecState state_;
};

}  // namespace profiled::compute
