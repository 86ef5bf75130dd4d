// Per-user aggregate state: what the writer keeps for each user so that every computed
// property and cohort condition is exact at the moment of a read, with no batch job.
//
// One SpecState per (user, AggregateSpec). Its shape follows the spec's time scope:
//  - kAllTime and kRange: one accumulator of the matching events (a kRange spec only takes
//    events whose time is inside its range, so the result never depends on "now");
//  - kRolling: one bucket per UTC day with a matching event, for the last `days` days. A
//    read combines the buckets inside the window ending on the read's day, so a user whose
//    last event leaves the window drops out at that moment. Buckets older than the window
//    are dropped whenever the state is updated; events older than the window are ignored
//    (they can never count again); events dated after the day following now's day (a
//    client clock that is wrong) are ignored by rolling specs, while one dated tomorrow is
//    kept in tomorrow's bucket.
//  - kDistinctCount keeps, per distinct value (a 64-bit hash of its JSON text), the latest
//    UTC day it was seen (a day after now's counts as now's), capped at kMaxDistinctValues values
//    per state (past the cap the value with the oldest day is forgotten, so the count is exact
//    while the user has at most that many distinct values in the scope, and saturates at the cap
//    otherwise).
//  - kDistinctDays keeps the set of days (rolling: within the window; others: capped at
//    kMaxDistinctDays, newest kept).
//  - kItems (rolling only) keeps, per item (ItemKey of the property's value), the latest event
//    time it was seen, at most kMaxItems items: past the cap the least recent is forgotten
//    (ties: the greater key), so the items kept are the first kMaxItems of ItemsOf's order.
//    An item is in the window while the day of its latest time is (one dated tomorrow counts
//    from now on, as its latest time would otherwise hide that it was also seen today).
// An accumulator keeps only the fields its metric needs: count (kCount, and events per day
// for kDistinctDays); sum (kSum); sum and the count of numeric values (kAvg); min or max and
// the count of numeric values; first/last (event time and the value's JSON text, numbers
// written as core/json_writer.h writes them). Values that are absent or null are skipped by
// every metric that reads a property; min/max/sum/avg also skip values that are not numbers
// (AsNumber), which kCount still counts.
//
// Encoding (all integers LEB128 varints, signed ones zigzag, doubles 8 bytes big-endian):
//   UserAggregates: version byte (1), count, then per state ascending by id: id delta (from
//     the previous id; the first from 0), length-prefixed SpecState.
//   SpecState: flags byte (1 total, 2 days, 4 distinct, 8 items), then the parts present:
//     total: accumulator; days: count, first day (zigzag), accumulator, then per further
//     day its (positive) distance from the previous one and its accumulator; distinct:
//     count (<= kMaxDistinctValues), per value ascending its hash (8 bytes) and day (zigzag);
//     items: count (<= kMaxItems), per item ascending by key its latest time_ms (zigzag) and
//     the length-prefixed key (1..kMaxItemKeyBytes bytes).
//   accumulator: flags byte naming the non-default fields (1 count, 2 numeric count, 4 sum,
//     8 min, 16 max, 32 first, 64 last), then those fields; first/last are the time (zigzag)
//     and the length-prefixed JSON text.
// So a rolling count costs about 3 bytes per active day (plus ~3 per state), an all-time
// sum 10 bytes, a distinct value 11 bytes.
//
// Reads evaluate the encoding in place (AggregatesView, EvaluateEncoded): one pass over a
// state's bytes, no decoded SpecState, no allocation but the returned first/last text.
// SpecState::Evaluate encodes the state and evaluates that, so there is one implementation
// of what a state's value is.
//
// Events are passed as EventFields views (extracted by src/api on the I/O threads), only for
// tracked events (not $identify), in any order: late and out-of-order events land in their
// own day. Values are plain data; not thread-safe to share mutably.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "compute/definition.h"
#include "core/status.h"

namespace profiled::compute {

inline constexpr size_t kMaxDistinctValues = 1000;
inline constexpr size_t kMaxDistinctDays = 1000;
inline constexpr size_t kMaxItems = 200;
inline constexpr size_t kMaxItemKeyBytes = 256;

// The fields of one tracked event that specs read. Views; valid during the call only.
struct EventFields {
  std::string_view event_type;
  int64_t time_ms = 0;                              // the event's own time
  const boost::json::object* properties = nullptr;  // event_properties; null = none
  const boost::json::object* fields = nullptr;      // top-level fields, read as `$name`
};

// The UTC day number (days since 1970-01-01) of a time in ms; floor for negative times.
int64_t DayOf(int64_t time_ms);

// Whether events of `event_type` can match the spec: its event type is that one or
// kAnyEvent ("_active": every tracked event but recommendation exposures).
bool MatchesEventType(const AggregateSpec& spec, std::string_view event_type);

// Whether the event has the spec's event type (MatchesEventType) and passes every `where`
// filter.
bool SpecMatches(const AggregateSpec& spec, const EventFields& event);

// Whether a rolling window of `scope` (kRolling) ending on the UTC day of now_ms holds an
// event at time_ms: its day is in [DayOf(now_ms) - days + 1, DayOf(now_ms)], or is the day
// after (a client clock a little ahead; a later day is a wrong clock). What a rolling state
// updated at now_ms keeps.
bool InRollingWindow(const TimeScope& scope, int64_t time_ms, int64_t now_ms);

// The item key of a property value (kItems), the one rule of the writer and the trainer: a
// string is itself (raw, not JSON-quoted), a number its core/json_writer text ("7", "2.5"), a
// bool "true" or "false". False (not an item) for null, objects, arrays, the empty string and
// keys longer than kMaxItemKeyBytes; *out holds the key when true.
bool ItemKey(const boost::json::value& value, std::string* out);

// The item `event` is for the kItems spec `spec` (a Recommendation's history): true, with
// the key in *key, when the event matches the spec (SpecMatches) and the value of the spec's
// property (a '$name' property is the top-level field `name`) is an item (ItemKey). The one
// rule of the writer's kItems states and of the recommendation trainer.
bool ItemOfEvent(const AggregateSpec& spec, const EventFields& event, std::string* key);

// A computed value: none (a user with no matching event, for min/max/avg/first/last), an
// integer (count, distinct_count, distinct days, items), a number (sum, min, max, avg) or the JSON
// text of a property value (first, last).
struct JsonText {
  std::string text;
  bool operator==(const JsonText& other) const = default;
};
using Value = std::variant<std::monostate, int64_t, double, JsonText>;

// The state of one spec for one user. Opaque: use the functions below.
class SpecState {
 public:
  // Adds one event. REQUIRES: SpecMatches(spec, event). now_ms bounds rolling windows
  // (drops buckets that left the window, ignores events too old or too far ahead).
  void Add(const AggregateSpec& spec, const EventFields& event, int64_t now_ms);
  // Folds `other` (the same spec's state of another user, e.g. an anonymous profile that
  // merges into an identified one) into this one, as if its events had been added here.
  void Merge(const AggregateSpec& spec, const SpecState& other, int64_t now_ms);
  // The spec's value at now_ms (count and sum are 0 when nothing matched): that of
  // EvaluateEncoded on this state's encoding.
  Value Evaluate(const AggregateSpec& spec, int64_t now_ms) const;
  // Whether the state holds nothing (it then need not be stored).
  bool empty() const;

  void EncodeTo(std::string* out) const;
  // Replaces *state with the state `bytes` encode, reusing its memory. Corruption when the
  // bytes are not a state this code wrote; *state is then empty.
  static Status Decode(std::string_view bytes, SpecState* state);
  // Empties the state, keeping its memory for reuse.
  void Clear();

  bool operator==(const SpecState& other) const = default;

 private:
  struct Accumulator {
    uint64_t count = 0;
    uint64_t numeric_count = 0;
    double sum = 0;
    double min = 0;
    double max = 0;
    int64_t first_ms = 0;
    int64_t last_ms = 0;
    std::string first_value;  // JSON text; empty = none
    std::string last_value;
    bool operator==(const Accumulator& other) const = default;
  };
  static void MergeAccumulator(Accumulator* a, const Accumulator& b);
  static bool IsDefault(const Accumulator& a);
  static void EncodeAccumulator(const Accumulator& a, std::string* out);
  // Drops what left a rolling window; applies the caps (kMaxDistinctValues, kMaxDistinctDays).
  void Prune(const AggregateSpec& spec, int64_t now_ms);
  // Decode's work, into an empty state.
  Status DecodeFrom(std::string_view bytes);

  // Flat and sorted by key (a state holds few entries, and is decoded, changed and encoded
  // once per event): no allocation per entry.
  using DayBucket = std::pair<int64_t, Accumulator>;
  using DistinctValue = std::pair<uint64_t, int64_t>;
  // The bucket of `day`, created (empty) when missing.
  Accumulator& BucketOf(int64_t day);
  // Records that the value with `hash` was seen on `day` (keeps the latest day).
  void SeeValue(uint64_t hash, int64_t day);
  // Records that item `key` was seen at `time_ms` (keeps the latest time).
  void SeeItem(std::string_view key, int64_t time_ms);

  using Item = std::pair<std::string, int64_t>;
  Accumulator total_;                    // kAllTime and kRange
  std::vector<DayBucket> days_;          // kRolling (day -> bucket) and kDistinctDays
  std::vector<DistinctValue> distinct_;  // kDistinctCount: value hash -> latest day
  std::vector<Item> items_;              // kItems: key -> latest time_ms, by key
};

// The value at now_ms of the encoded SpecState `state` (SpecState::EncodeTo) of `spec`,
// read in one pass over the bytes; an empty `state` is a user with no state for the spec
// (count and sum 0, the others none). Only a first/last value copies text. Corruption, and
// *value untouched, when the bytes are not a state this code wrote (every byte is checked,
// whatever the metric reads).
[[nodiscard]] Status EvaluateEncoded(const AggregateSpec& spec, std::string_view state,
                                     int64_t now_ms, Value* value);

// The items in the window at now_ms of the encoded kItems SpecState `state` of `spec`, newest
// first (ties: the smaller key first), as views into `state`; *out is replaced. An empty
// `state` has none. Corruption, and *out empty, when the bytes are not a state this code
// wrote (every byte is checked). REQUIRES: spec.metric == Metric::kItems.
[[nodiscard]] Status ItemsOf(const AggregateSpec& spec, std::string_view state, int64_t now_ms,
                             std::vector<std::string_view>* out);

// A read-only view of an encoded UserAggregates record: where each spec's encoded state is,
// found without decoding any state. Borrows the record's bytes, which must outlive it (and
// every view Find returns). Parse again to reuse it for another record (its buffer is kept).
// Not thread-safe to share mutably.
class AggregatesView {
 public:
  // Reads the record's header: the version, and every spec id with its state's bytes (the
  // states themselves are checked when evaluated). An empty record is a user without
  // aggregates. Corruption (and an empty view) when the header does not decode.
  [[nodiscard]] Status Parse(std::string_view record);
  // The encoded state of spec `id` (for EvaluateEncoded); empty when the user has none.
  std::string_view Find(uint64_t id) const;
  // The states, ids ascending.
  struct Entry {
    uint64_t id = 0;
    std::string_view state;
  };
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  std::vector<Entry> entries_;
};

// Every spec state of one user, keyed by spec id (ids come from the catalog, never reused).
struct UserAggregates {
  std::map<uint64_t, SpecState> states;

  // The per-user record (store table kProfiles, tag 'a'). Decode: Corruption on bad bytes.
  std::string Encode() const;
  static Status Decode(std::string_view bytes, UserAggregates* out);
  bool operator==(const UserAggregates& other) const = default;
};

}  // namespace profiled::compute
