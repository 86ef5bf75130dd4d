// Evaluation: a user's computed values and cohort memberships at the moment of a read,
// from their aggregate state, properties and static cohort memberships. Pure; thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "compute/aggregate.h"
#include "compute/catalog.h"

namespace profiled::compute {

// What evaluation reads of one user. Borrowed; any pointer may be null for "none".
struct UserView {
  const UserAggregates* aggregates = nullptr;
  // Custom user properties and built-in fields (a user property condition looks in the
  // custom ones first). Only read when catalog.needs_properties().
  const boost::json::object* properties = nullptr;
  const boost::json::object* builtins = nullptr;
  const std::vector<std::string>* static_cohorts = nullptr;  // sorted ids
};

// The values of the served computations, in id order. With `only` non-empty, just those ids
// (ids that are not served are skipped). A computation whose value is none (min, max, avg,
// first, last with no matching event) is left out.
std::vector<std::pair<uint64_t, Value>> ComputedValues(const ProjectCatalog& catalog,
                                                       const UserView& user, int64_t now_ms,
                                                       const std::vector<uint64_t>& only);

// The ids of the served cohorts the user is in, in catalog order.
std::vector<std::string> CohortIds(const ProjectCatalog& catalog, const UserView& user,
                                   int64_t now_ms);

// Whether the user is in served cohort `cohort_id` (false when it is not served).
bool InCohort(const ProjectCatalog& catalog, const UserView& user, int64_t now_ms,
              std::string_view cohort_id);

}  // namespace profiled::compute
