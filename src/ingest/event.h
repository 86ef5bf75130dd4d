// The domain form of what ingestion applies: events and user-property operations.
//
// src/api parses the wire JSON into these; everything in src/ingest works on them and
// never sees the request JSON. Property values are boost::json::value because Amplitude
// properties are dynamically typed (strings, numbers, booleans, arrays, objects); it is
// the value type here, not a wire format. Plain values; not thread-safe to share mutably.
//
// Storage: the JSON values of an Event built from a request (property_ops' values,
// builtins, event_properties, fields) live in that request's arena, a
// boost::json::monotonic_resource shared by all its events and freed when the last of them
// is destroyed (usually on the ingest writer). The values point into the arena without
// counting references, so: keep the Event alive while reading them, and copy a value into
// long-lived state by assignment into a value or container that has its own storage
// (`slot = op.value`, `object[key] = v`, `array.push_back(v)` all copy into the
// destination's storage), never by copy-construction (`json::value kept(op.value)` would
// keep pointing into the arena). The arena is not thread-safe: it is filled on the thread
// that parses the request, and the writer, which receives the events through the ingest
// queue, only reads them.
#pragma once

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace profiled::ingest {

// Amplitude's user-property operations, in the order they apply within one event
// (the order the Amplitude SDKs use for their local identity store: clearAll, unset,
// set, setOnce, add, append, prepend, preInsert, postInsert, remove).
enum class PropertyOpKind {
  kClearAll = 0,
  kUnset,
  kSet,
  kSetOnce,
  kAdd,
  kAppend,
  kPrepend,
  kPreInsert,
  kPostInsert,
  kRemove,
};

struct PropertyOp {
  PropertyOpKind kind;
  std::string key;           // empty for kClearAll
  boost::json::value value;  // unused for kClearAll and kUnset
};

// User-level fields Amplitude tracks itself, as sent on the event.
struct BuiltinUpdate {
  // platform, os_name, os_version, device_brand, device_manufacturer, device_model,
  // carrier: when any is present the whole group is replaced (absent ones are cleared).
  boost::json::object device;
  // country, region, city, dma: the same rule.
  boost::json::object location;
  // app_version, language, library, paying, start_version: each set on its own.
  boost::json::object single;
};

enum class EventOrigin {
  kTrack,             // an ordinary event: counts as activity, is logged
  kIdentify,          // $identify / $groupidentify event: logged, not activity
  kIdentifyApi,       // POST /identify: neither logged nor activity
  kGroupIdentifyApi,  // POST /groupidentify: changes groups only; no user, nothing logged
};

// One group type of an event's `groups` and the group names given for it (at least one).
struct GroupRef {
  std::string type;
  std::vector<std::string> names;
};

struct Event {
  Event() = default;
  // An event whose JSON members allocate from `arena` (see the top of this file).
  explicit Event(std::shared_ptr<boost::json::monotonic_resource> arena)
      : arena_(std::move(arena)),
        builtins{boost::json::object(storage()), boost::json::object(storage()),
                 boost::json::object(storage())},
        event_properties(storage()),
        fields(storage()) {}
  Event(Event&&) = default;
  Event(const Event&) = default;
  // Not assignable: an assignment would release the target's arena before its values were
  // replaced (JSON values assign into the target's storage).
  Event& operator=(Event&&) = delete;
  Event& operator=(const Event&) = delete;

  // The storage of this event's JSON values: the request's arena, or the default resource
  // for an event built without one.
  boost::json::storage_ptr storage() const {
    return arena_ ? boost::json::storage_ptr(arena_.get()) : boost::json::storage_ptr();
  }

 private:
  // Shared by every event of one request: the arena lives until the last of them is
  // destroyed, which is on the writer for accepted ones. Declared first, destroyed last.
  std::shared_ptr<boost::json::monotonic_resource> arena_;

 public:
  EventOrigin origin = EventOrigin::kTrack;
  std::string user_id;    // empty = none
  std::string device_id;  // empty = none
  std::string event_type;
  std::string insert_id;  // empty = none
  int64_t time_ms = 0;    // the event's time, epoch ms (defaulted to upload time)
  // Already in application order (sorted by kind, stable within a kind).
  std::vector<PropertyOp> property_ops;
  bool skip_user_properties = false;  // $skip_user_properties_sync
  // The event's `groups`, within Amplitude's limits (5 types, 10 names). Read by the writer
  // for $groupidentify events and POST /groupidentify; empty otherwise.
  std::vector<GroupRef> groups;
  // What a $groupidentify (or POST /groupidentify) does to each group of `groups`, in
  // application order like property_ops. Empty for other events.
  std::vector<PropertyOp> group_ops;
  BuiltinUpdate builtins;
  std::string json;  // the event object as received, for the event log
  // Typed views of what definitions read (compute::EventFields), taken from the parsed
  // event on the I/O thread so that the writer never parses `json`. Both are empty for
  // events of POST /identify, which are neither logged nor counted.
  //  - event_properties: the event's event_properties object, normalised as in `json`
  //    (long strings cut); empty when absent, null or not an object.
  //  - fields: every top-level field whose value is a string, number or boolean (revenue,
  //    price, quantity, platform, os_name, country, city, language, app_version, user_id,
  //    device_id, event_type, time, ...), read by definitions as `$name`. Ids are the
  //    cleaned ones, and `time` is filled in when it was missing, as in `json`.
  boost::json::object event_properties;
  boost::json::object fields;
};

// Leaves in *o only the fields definitions read as `$name`: those whose value is a string,
// a number or a boolean (Event::fields). The writer's events get them from src/api; a
// backfill, from the logged JSON.
inline void KeepScalarFields(boost::json::object* o) {
  for (auto it = o->begin(); it != o->end();) {
    const boost::json::value& v = it->value();
    if (v.is_string() || v.is_number() || v.is_bool()) {
      ++it;
    } else {
      it = o->erase(it);  // moves the last field here: `it` is the next one to look at
    }
  }
}

}  // namespace profiled::ingest
