// LoggedEvent: what definitions read of an event from the event log (store table kEvents),
// read back as the writer saw it when it arrived, so that a backfill and the recommendation
// trainer see the same compute::EventFields as the writer did (docs/COMPUTE.md, backfill).
//
// A plain value; its JSON allocates from the storage it is made with (e.g. a per-event
// arena). Not thread-safe to share mutably.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/storage_ptr.hpp>
#include <string>
#include <string_view>

#include "compute/aggregate.h"
#include "store/records.h"

namespace profiled::ingest {

// The parts of a logged event that specs read, parsed from its JSON.
struct LoggedEvent {
  explicit LoggedEvent(boost::json::storage_ptr storage = {})
      : properties(storage), fields(std::move(storage)) {}

  std::string event_type;          // the JSON's "event_type"; empty when absent
  boost::json::object properties;  // "event_properties" (empty when absent or not an object)
  boost::json::object fields;      // the top-level fields read as `$name` (KeepScalarFields)
};

// Parses record.json into *out (written by any version of profiled, ParseStoredObject).
// False, with *out unspecified, when the JSON is not an object.
bool ParseLoggedEvent(const store::EventRecord& record, LoggedEvent* out);

// The fields definitions read of a logged event: its type is the record's, or for a version-1
// record (which has it only in the JSON) `logged`'s; properties and fields are `logged`'s, or
// none when `logged` is null (the JSON was not parsed: the specs read no property). Views into
// `record` and *logged, valid while they are.
compute::EventFields FieldsOfLoggedEvent(const store::EventRecord& record,
                                         const LoggedEvent* logged);

// Whether definitions count events of this type: every type but $identify and $groupidentify
// (the writer adds only tracked events to aggregates).
bool IsTracked(std::string_view event_type);

}  // namespace profiled::ingest
