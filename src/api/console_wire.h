// The console's admin API wire format (docs/API.md, "Console API"): the projects list,
// written from plain values the handlers gather.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"

namespace profiled::api {

// One project of GET /admin/v1/projects: never a key.
struct ProjectSummary {
  std::string id;
  ProfileDialect dialect = ProfileDialect::kSeed;
  size_t computations = 0, cohorts = 0, recommendations = 0;
};
// {"projects":[{"id","profile_dialect","computations","cohorts","recommendations"}, ...]}.
std::string SerializeProjects(const std::vector<ProjectSummary>& projects);

}  // namespace profiled::api
