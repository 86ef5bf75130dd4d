// The wire format of static cohort changes (docs/API.md, "Cohorts"): the JSON bodies of
// Amplitude's POST /api/3/cohorts/upload and /api/3/cohorts/membership, parsed into an
// ingest::StaticCohortChange for the writer.
//
// An upload:     {"name":"...","id_type":"BY_USER_ID"|"BY_AMP_ID","ids":["u1",42,...],
//                 "existing_cohort_id":"c1","skip_invalid_ids":true}
// A membership:  {"cohort_id":"c1","memberships":[{"id_type":"BY_NAME"|"BY_ID",
//                 "operation":"ADD"|"REMOVE","ids":[...]},...],"skip_invalid_ids":true}
//
// Pure function; thread-safe.
#pragma once

#include <string_view>

#include "core/status.h"
#include "ingest/static_cohorts.h"

namespace profiled::api {

enum class StaticCohortRequest { kUpload, kMembership };

// Parses the body of an upload or a membership request. On success fills every field of *out
// but `project` (the caller's, from the credentials). InvalidArgument, with the message the
// 400 answer carries (`memberships[1].operation: one of ADD, REMOVE`), when the body is not a
// JSON object of that shape, holds more than ingest::kMaxStaticCohortIds ids in all, or an
// upload's name or existing_cohort_id breaks the admin API's rules (api/definition_wire.h).
// *out is unspecified then.
Status ParseStaticCohortChange(StaticCohortRequest kind, std::string_view body,
                               ingest::StaticCohortChange* out);

}  // namespace profiled::api
