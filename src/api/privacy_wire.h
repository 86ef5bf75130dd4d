// Wire format of Amplitude's User Privacy API v1 (docs/API.md, "Privacy deletion"):
// POST /api/2/deletions/users bodies and the job objects the API answers with.
//
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "ingest/deletions.h"

namespace profiled::api {

// The longest requester a deletion request may carry (an email address or a name).
inline constexpr size_t kMaxRequesterBytes = 256;

// A POST body: a JSON object ({"amplitude_ids":[...],"user_ids":[...],"requester":"...",
// "ignore_invalid_ids":bool}) when the content type says JSON or the body starts with '{',
// else an urlencoded form whose amplitude_ids and user_ids may repeat. Fills every field of
// *out but the project. InvalidArgument with a message naming the field: not JSON or not a
// form, an amplitude_id that is not a positive integer, an empty or non-string user_id, more
// than ingest::kMaxDeletionIds of either kind, no id at all, a requester or
// ignore_invalid_ids of the wrong type, delete_from_org true (one project per key here).
Status ParseDeletionRequest(std::string_view content_type, std::string_view body,
                            ingest::DeletionRequest* out);

// The query of GET /api/2/deletions/users: start_day and end_day (YYYY-MM-DD), both required,
// start_day <= end_day, at most kMaxDeletionListDays apart. Sets the days since 1970-01-01.
inline constexpr int64_t kMaxDeletionListDays = 184;  // six months
Status ParseDeletionListQuery(std::string_view query, int64_t* start_day, int64_t* end_day);

// A job as the API answers it: {"day":..,"status":..,"amplitude_ids":[{"amplitude_id":..,
// "requester":..,"requested_on_day":..}],"events_deleted":..}.
std::string SerializeDeletionJob(const ingest::DeletionJob& job);
// A JSON array of jobs.
std::string SerializeDeletionJobs(const std::vector<ingest::DeletionJob>& jobs);

}  // namespace profiled::api
