// Evaluation: a user's computed values and cohort memberships at the moment of a read,
// from their aggregate state, properties and static cohort memberships. Pure; thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "compute/aggregate.h"
#include "compute/catalog.h"
#include "core/status.h"

namespace profiled::compute {

// Where evaluation finds a user's properties when a reader would rather not parse them
// up front: asked at most once per evaluation for each part, and only when a user property
// condition is reached (the built-in fields only for a name the custom properties lack).
class UserPropertySource {
 public:
  virtual ~UserPropertySource() = default;
  // The values of the custom properties (builtins false) or the built-in fields (true)
  // named in catalog.user_property_names(), in its order: (**out)[i] is the value of the
  // i-th name, null when the user has none (as are names past the end). *out lives as long
  // as the source. Corruption when they do not decode.
  [[nodiscard]] virtual Status Load(bool builtins,
                                    const std::vector<const boost::json::value*>** out) = 0;
  // The properties of each of the user's groups of type `group_type` (docs/API.md, "Groups"),
  // one object per group (empty for a group without properties); none when the user is in no
  // such group. The pointers live as long as the source. Corruption when a record does not
  // decode. The default: the user is in no group.
  [[nodiscard]] virtual Status LoadGroups(std::string_view group_type,
                                          std::vector<const boost::json::object*>* out) {
    (void)group_type;
    out->clear();
    return Status::Ok();
  }
};

// What evaluation reads of one user. Borrowed; any pointer may be null for "none".
struct UserView {
  // The user's aggregates record, read in place (each spec's state is walked at most once
  // per evaluation, and only for the specs the served definitions read).
  const AggregatesView* aggregates = nullptr;
  const std::vector<std::string>* static_cohorts = nullptr;  // sorted ids
  // The user's custom properties and built-in fields (a user property condition looks in
  // the custom ones first), loaded when a condition first needs them; null: none.
  UserPropertySource* property_source = nullptr;
};

// Every function below fails with Corruption when a state it reads does not decode
// (EvaluateEncoded); the outputs are then unusable.

// The values of the served computations, in id order. With `only` non-empty, just those ids
// (ids that are not served are skipped). A computation whose value is none (min, max, avg,
// first, last with no matching event) is left out.
[[nodiscard]] Status ComputedValues(const ProjectCatalog& catalog, const UserView& user,
                                    int64_t now_ms, const std::vector<uint64_t>& only,
                                    std::vector<std::pair<uint64_t, Value>>* values);

// The ids of the served cohorts the user is in, in catalog order.
[[nodiscard]] Status CohortIds(const ProjectCatalog& catalog, const UserView& user, int64_t now_ms,
                               std::vector<std::string>* cohort_ids);

// Both of the above from one evaluation, which walks each spec's state at most once for
// every definition that reads it. A null output is not computed.
[[nodiscard]] Status Evaluate(const ProjectCatalog& catalog, const UserView& user, int64_t now_ms,
                              const std::vector<uint64_t>& only,
                              std::vector<std::pair<uint64_t, Value>>* values,
                              std::vector<std::string>* cohort_ids);

// Whether the user is in served cohort `cohort_id` (false when it is not served).
[[nodiscard]] Status InCohort(const ProjectCatalog& catalog, const UserView& user, int64_t now_ms,
                              std::string_view cohort_id, bool* in);

}  // namespace profiled::compute
