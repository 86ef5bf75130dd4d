// The console's admin API wire format (docs/API.md, "Console API"): the projects list, the
// stats plots and the profile lookup (query parsing and the response), written from plain
// values the handlers gather.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/status.h"
#include "read/profile_reader.h"
#include "read/recent_events.h"
#include "read/stats_sampler.h"

namespace profiled::api {

// The most recent events a lookup lists, and its events_hours bounds and default.
inline constexpr size_t kMaxRecentEvents = 50;
inline constexpr int kMaxEventsHours = 168;
inline constexpr int kDefaultEventsHours = 24;

// One project of GET /admin/v1/projects: never a key.
struct ProjectSummary {
  std::string id;
  ProfileDialect dialect = ProfileDialect::kSeed;
  size_t computations = 0, cohorts = 0, recommendations = 0;
};
// {"projects":[{"id","profile_dialect","computations","cohorts","recommendations"}, ...]}.
std::string SerializeProjects(const std::vector<ProjectSummary>& projects);

// GET /admin/v1/stats: {"now","started","rates":{...},"cohort_sizes":{project:{...}}}, times
// in Unix seconds, rates rounded to 0.01.
std::string SerializeStats(const read::StatsSnapshot& stats, int64_t now_ms);

// The query of GET /admin/v1/stats: `project` (only that project's cohort sizes) and `since`
// (Unix seconds: only samples with t > since), both optional.
struct StatsQuery {
  std::string project;  // empty: every project
  int64_t since = -1;   // -1: every sample
};
inline constexpr int64_t kMaxStatsSince = 100000000000;  // Unix seconds, far beyond any clock
// InvalidArgument naming the parameter: an empty or repeated project, a since that is not an
// integer 0..kMaxStatsSince (or repeated), an unknown parameter, bad percent-encoding.
Status ParseStatsQuery(std::string_view query, StatsQuery* q);

// A query for a path that takes none (GET /admin/v1/projects): InvalidArgument naming the
// first parameter given.
Status ParseNoQuery(std::string_view query, std::string_view path);

// The query of GET /admin/v1/projects/{p}/users: exactly one of user_id, device_id,
// amplitude_id (non-empty), and events_hours.
struct UserLookupQuery {
  std::string user_id;
  std::string device_id;
  uint64_t amplitude_id = 0;  // 0: not given
  int events_hours = kDefaultEventsHours;
};
// InvalidArgument naming the parameter: none or several of the ids, an empty one (or given
// twice), an amplitude_id that is not an integer 1..2^63-1, an events_hours that is not an
// integer 1..kMaxEventsHours, a user_id or device_id longer than ingestion accepts
// (ingest::kMaxStringLength characters), an unknown parameter, bad percent-encoding.
Status ParseUserLookupQuery(std::string_view query, UserLookupQuery* q);

// The lookup's answer: the user's ids, user_properties and amp_props (the stored JSON),
// computed_properties by id, cohort_ids, recommendations, groups and group_properties, and
// recent_events (each with event_type, time, insert_id (null when the event had none),
// event_properties and user_properties as logged; {} for an absent or non-object one) and
// events_scanned and truncated.
std::string SerializeUserLookup(const read::UserData& user, const read::RecentEvents& recent);

}  // namespace profiled::api
