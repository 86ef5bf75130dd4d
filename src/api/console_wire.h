// The console's admin API wire format (docs/API.md, "Console API"): the projects list and the
// stats plots, written from plain values the handlers gather.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "read/stats_sampler.h"

namespace profiled::api {

// One project of GET /admin/v1/projects: never a key.
struct ProjectSummary {
  std::string id;
  ProfileDialect dialect = ProfileDialect::kSeed;
  size_t computations = 0, cohorts = 0, recommendations = 0;
};
// {"projects":[{"id","profile_dialect","computations","cohorts","recommendations"}, ...]}.
std::string SerializeProjects(const std::vector<ProjectSummary>& projects);

// GET /admin/v1/stats: {"now","rates":{...},"cohort_sizes":{project:{...}}}, times in Unix
// seconds, rates rounded to 0.01.
std::string SerializeStats(const read::StatsSnapshot& stats, int64_t now_ms);

}  // namespace profiled::api
