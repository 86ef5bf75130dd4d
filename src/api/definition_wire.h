// The wire formats of definitions (admin API kinds `computations`, `cohorts` and
// `recommendations`, docs/API.md): JSON bodies parsed into compute::Computation,
// compute::Cohort and compute::Recommendation, with every rule a user can break checked here,
// so compute and recs only ever see valid definitions.
//
// A computation:
//   {"id":7,"name":"purchases_30d","type":"count","event_type":"Purchase","property":null,
//    "where":[{"prop":"category","op":"is","values":["books"]}],"window_days":30}
// A cohort, in the shape of Amplitude's cohort definition (version 3), so that supported
// definitions exported from Amplitude load as they are:
//   {"id":"c9xk2","name":"...","definition":{"andClauses":[{"negated":false,"orClauses":[
//     {"type":"event","type_value":"Purchase","time_type":"rolling","time_value":30,
//      "operator":">=","operator_value":3,"filters":[...],"metric":null}, ...]}, ...]}}
// Event conditions' `absolute` ranges are [start, end] in Unix seconds, both ends included
// (an event in the second `end` counts); `since` has no end. Fields of Amplitude's exports
// that change nothing (version 3, countGroup "User", cohortType "UNIQUES", offset 0,
// interval 1, an empty group_by or referenceFrameTimeParams, the cohort's metadata such as
// description, owners, size) are accepted and ignored; anything else that is not understood
// is refused. References to other cohorts are parsed, not resolved: the registry knows the
// other cohorts and checks for unknown ones and cycles.
// A recommendation (docs/API.md "Recommendations"; defaults where a field is absent or null):
//   {"id":"r1","title":"Recommended for you","model":"ease","item_event":"Product Viewed",
//    "item_property":"product_id","history_window_days":90,"candidates":{"top_n":1000},
//    "exclude_items":[],"exclude_seen":true,"max_items":50,"control_percentage":10,
//    "control_group_of":null,"retrain_every_minutes":60,"params":{"lambda":300}}
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "compute/definition.h"
#include "core/status.h"

namespace profiled::api {

// Limits of a definition, beyond which it is refused.
inline constexpr size_t kMaxDefinitionNameLength = 256;
inline constexpr size_t kMaxDefinitionStringLength = 1024;  // event types, property names, values
inline constexpr size_t kMaxFilters = 32;                   // per `where` or `filters`
inline constexpr size_t kMaxFilterValues = 1000;
inline constexpr size_t kMaxCohortClauses = 32;    // andClauses, and orClauses in each
inline constexpr size_t kMaxCohortIdLength = 128;  // and of recommendation ids
inline constexpr size_t kMaxRecommendationTitleLength = 200;
inline constexpr size_t kMaxRecommendationItems = 10'000;         // candidates.items, exclude_items
inline constexpr int64_t kMaxRecommendationCandidates = 100'000;  // candidates.top_n
inline constexpr int64_t kMaxRecommendedItems = 100;              // max_items
inline constexpr int64_t kMaxRetrainEveryMinutes = 10'080;        // a week

// Parses the body of a computation stored under `path_id` (the id in the URL: a positive
// decimal integer up to 2^63-1). On success fills *out. InvalidArgument, whose message starts
// with the JSON path of the offending field (`where[2].op: unknown operator "~"`), when the
// body is not such a definition or its `id` differs from path_id. *out is unspecified then.
Status ParseComputation(std::string_view body, std::string_view path_id, compute::Computation* out);

// Parses the body of a behavioral cohort stored under `path_id` (1 to 128 characters of
// [A-Za-z0-9_.-]). Errors as ParseComputation, e.g.
// `definition.andClauses[1].orClauses[0].operator: unknown operator "~"`.
Status ParseCohort(std::string_view body, std::string_view path_id, compute::Cohort* out);

// Parses the body of a recommendation stored under `path_id` (the cohort id rule). On success
// fills *out, its `history` being compute::HistorySpecOf(*out), and sets *source to the
// normalised definition that GET answers and the store keeps: compact JSON with every field,
// defaults filled in, in a fixed order, params sorted by name; parsing *source again gives
// the same *out and *source. Errors as ParseComputation, e.g.
// `params.alpha: model ease has no parameter "alpha" (...)`. *out and *source are left
// alone on failure.
Status ParseRecommendation(std::string_view body, std::string_view path_id,
                           compute::Recommendation* out, std::string* source);

}  // namespace profiled::api
