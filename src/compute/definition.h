// The typed definitions of computed properties, behavioral cohorts and recommendations
// (docs/COMPUTE.md, docs/RECS.md).
//
// These are plain values: src/api parses the admin API's JSON into them (api/definition_wire.h)
// and validates everything a user can get wrong there; the functions here assume a definition
// that passed that validation. An AggregateSpec is what one definition needs counted per user;
// definitions whose specs have the same Canonical() text share one stored state.
// Thread-safe as values are.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace profiled::compute {

inline constexpr int kMaxWindowDays = 365;
// The event type that matches every tracked event but recommendation exposures.
inline constexpr const char* kAnyEvent = "_active";
// The event a served recommendation appends for its user (docs/RECS.md, "Exposure events").
// It is counted by definitions of its own type, and is not activity: `_active` does not match
// it and it moves no first_used/last_used, since the user did nothing.
inline constexpr const char* kExposureEventType = "[Recs] Recommendation Event";

enum class FilterOp {
  kIs,
  kIsNot,
  kContains,
  kDoesNotContain,
  kGreater,
  kGreaterOrEqual,
  kLess,
  kLessOrEqual,
  kSet,
  kNotSet,
};

// A test of one value: an event property in a `where` filter (a name with a leading '$'
// names a top-level event field: `$revenue`, `$platform`, ...), a user property, or a
// computed value. Semantics in compute/match.h.
struct Filter {
  std::string prop;
  FilterOp op = FilterOp::kIs;
  // kIs/kIsNot/kContains/kDoesNotContain: one or more; the ordered ops: exactly one number
  // (validated by the parser); kSet/kNotSet: none.
  std::vector<std::string> values;
};

enum class Metric {
  kCount,          // matching events
  kSum,            // sum of the property's numeric values
  kMin,            // smallest numeric value
  kMax,            // largest numeric value
  kAvg,            // mean of the numeric values
  kFirst,          // the value on the earliest matching event (by event time)
  kLast,           // the value on the latest matching event (by event time)
  kDistinctCount,  // distinct values of the property (capped: kMaxDistinctValues)
  kDistinctDays,   // distinct UTC days with a matching event
  // The property's values (item keys, compute::ItemKey) with the latest time each was seen,
  // at most kMaxItems (compute/aggregate.h); its value is how many are in the window. Only
  // with a kRolling scope. Internal: the history of a Recommendation, never a computation's
  // metric on the wire.
  kItems,
  // New metrics go last: Canonical() writes the enumerator's number.
};

// Which events, by their own `time`, an aggregate covers.
struct TimeScope {
  enum class Kind {
    kAllTime,  // every event
    kRolling,  // UTC days [today - days + 1, today], today being the day of the read
    kRange,    // event time in [start_ms, end_ms] (cohort `absolute` and `since`)
  };
  Kind kind = Kind::kAllTime;
  int days = 0;  // kRolling: 1..kMaxWindowDays
  int64_t start_ms = 0;
  int64_t end_ms = std::numeric_limits<int64_t>::max();
};

// What one definition counts for each user: the events it matches (type and filters), the
// metric over them, and the time scope.
struct AggregateSpec {
  std::string event_type;     // an event type, or "_active" for every tracked event
  std::vector<Filter> where;  // every filter must match
  Metric metric = Metric::kCount;
  std::string property;  // the property the metric reads ('$' = top-level field); empty for
                         // kCount and kDistinctDays
  TimeScope scope;

  // A stable text naming exactly what is counted (every field, in a fixed order), used as
  // the identity of the stored state: equal texts share state, a changed spec gets new state.
  std::string Canonical() const;
};

// A computed property (admin kind `computations`): the seed's comp_id is `id`.
struct Computation {
  uint64_t id = 0;  // > 0
  std::string name;
  AggregateSpec spec;
};

enum class Comparison { kGe, kGt, kEq, kNe, kLt, kLe };  // >= > = != < <=

struct CohortCondition {
  enum class Kind {
    kEvent,             // `spec`'s value for the user compared with `operand`
    kUserProperty,      // `filter` on the user property filter.prop
    kComputedProperty,  // `filter` on the value of computation filter.prop (an id)
    kCohort,            // membership of cohort `cohort_id`
    // `filter` on property filter.prop of the user's groups of type `group_type`: holds when
    // it holds for any of them, or, for a user in no such group, as for a missing property
    kGroupProperty,
  };
  Kind kind = Kind::kEvent;
  AggregateSpec spec;
  Comparison comparison = Comparison::kGe;
  double operand = 0;
  Filter filter;
  std::string cohort_id;
  std::string group_type;  // kGroupProperty
};

// The negation applies to the whole clause (its OR), as in Amplitude.
struct CohortClause {
  bool negated = false;
  std::vector<CohortCondition> any_of;  // non-empty
};

// A cohort (admin kind `cohorts`). A behavioral cohort is the AND of its clauses; a static
// cohort (uploaded through /api/3/cohorts) has no clauses and lists its members instead.
struct Cohort {
  std::string id;
  std::string name;
  bool is_static = false;
  std::vector<CohortClause> all_of;
};

// A recommendation (admin kind `recommendations`, docs/RECS.md): which model to train on
// which item events, and how to serve it. Its only spec is `history`, each user's recent
// items. Validated by src/api (ranges below).
struct Recommendation {
  std::string id;
  std::string title;
  std::string model;  // "ease" | "itemknn" | "popular"
  // The model's parameters: name -> number text, sorted by name.
  std::vector<std::pair<std::string, std::string>> params;
  std::string item_event;
  std::string item_property;
  int history_window_days = 90;              // 1..kMaxWindowDays
  int64_t candidates_top_n = 1000;           // used when candidate_items is empty; 1..100000
  std::vector<std::string> candidate_items;  // a fixed list of candidates; empty = top_n
  std::vector<std::string> exclude_items;
  bool exclude_seen = true;
  int max_items = 50;              // 1..100
  double control_percentage = 0;   // 0..100
  std::string control_group_of;    // empty: the recommendation's own id
  int retrain_every_minutes = 60;  // 0 = on definition and on demand only; else 1..10080
  AggregateSpec history;           // HistorySpecOf(*this)
};

// The spec of a recommendation's history: events `item_event` (no filter), metric kItems of
// `item_property`, rolling `history_window_days`.
AggregateSpec HistorySpecOf(const Recommendation& rec);

// What a recommendation's model learns from, as text (model, params, item_event,
// item_property, history_window_days): equal keys mean a model trained for one version of the
// definition serves the other; a change of anything else (title, candidates, exclusions,
// limits, control share) needs no training.
std::string TrainingKey(const Recommendation& rec);

}  // namespace profiled::compute
