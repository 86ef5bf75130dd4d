// Catalog: the definitions of one project as the writer and the readers use them, frozen.
//
// A ProjectCatalog is immutable once built; the ingest writer builds a new one whenever a
// definition changes or a backfill completes, and publishes it through a CatalogHolder.
// Readers take a shared_ptr to the current one (shared ownership, because a reader may still
// hold an older catalog while the writer publishes the next) and never see a half-made one.
//
//  - specs: every *live* AggregateSpec (used by a served definition, or by one being
//    backfilled), with its id. The writer updates every live spec for every new event.
//  - computations, cohorts and recommendations: the *served* definitions, those whose specs
//    are all ready; reads report these only. A cohort is served only when every cohort it
//    references is.
// Thread-safety: ProjectCatalog is immutable (safe to share); CatalogHolder is thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "compute/definition.h"

namespace profiled::compute {

struct SpecEntry {
  uint64_t id = 0;
  AggregateSpec spec;
  bool ready = false;  // false while its backfill runs
  // Events ingested from this time on are applied to it live; earlier ones by its backfill.
  // 0: live for every event the writer applies (the writer is the only one, and the backfill
  // stops at the sequence number the spec was created at). A store shared by several nodes
  // sets a time every node learns of the spec before (docs/SCALING.md).
  int64_t live_from_ms = 0;
};

struct ServedComputation {
  Computation definition;
  uint64_t spec_id = 0;
};

struct ServedCohort {
  Cohort definition;
  // spec_ids[i][j]: the spec id of condition j of clause i when it is a kEvent condition,
  // else 0.
  std::vector<std::vector<uint64_t>> spec_ids;
};

struct ServedRecommendation {
  Recommendation definition;
  uint64_t spec_id = 0;      // the id of definition.history
  std::string training_key;  // TrainingKey(definition); the catalog fills it in
};

// Hashes std::string keys so that maps can be searched with a string_view, allocating nothing.
struct StringViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using StringMap = std::unordered_map<std::string, V, StringViewHash, std::equal_to<>>;

class ProjectCatalog {
 public:
  ProjectCatalog() = default;
  // `specs` and `recommendations` in any order; `cohorts` in dependency order (a cohort after
  // every cohort it references). REQUIRES: every spec id referenced by a served definition is
  // in `specs`.
  ProjectCatalog(std::vector<SpecEntry> specs, std::vector<ServedComputation> computations,
                 std::vector<ServedCohort> cohorts,
                 std::vector<ServedRecommendation> recommendations = {});

  const std::vector<SpecEntry>& specs() const { return specs_; }  // sorted by id
  const SpecEntry* FindSpec(uint64_t id) const;
  // The live specs an event of `event_type` may match: that type's and "_active"'s.
  // Appends to *out.
  void SpecsFor(std::string_view event_type, std::vector<const SpecEntry*>* out) const;

  const std::vector<ServedComputation>& computations() const { return computations_; }  // by id
  const ServedComputation* FindComputation(uint64_t id) const;
  const std::vector<ServedCohort>& cohorts() const { return cohorts_; }
  // The index in cohorts() of served cohort `id`; cohorts().size() when it is not served.
  size_t CohortIndex(std::string_view id) const;
  // What served definitions refer to, resolved once when the catalog is built, so reads
  // look nothing up by id or name. kUnresolved where the target is not in the catalog.
  static constexpr size_t kUnresolved = static_cast<size_t>(-1);
  // The index in specs() of computations()[i]'s spec.
  size_t ComputationSpecIndex(size_t i) const { return computation_specs_[i]; }
  // One entry per condition of cohorts()[c], clause by clause, in order: a kEvent
  // condition's spec (index in specs()), a kComputedProperty condition's computation (index
  // in computations()), a kCohort condition's cohort (index in cohorts()), a kUserProperty
  // condition's property (index in user_property_names()); kUnresolved for
  // kGroupProperty conditions and missing targets.
  const std::vector<size_t>& ConditionTargets(size_t c) const { return condition_targets_[c]; }

  // The served recommendations, sorted by id.
  const std::vector<ServedRecommendation>& recommendations() const { return recommendations_; }
  // The index in recommendations() of served recommendation `id`; kUnresolved when it is not
  // served.
  size_t FindRecommendation(std::string_view id) const;
  // The index in specs() of recommendations()[i]'s history spec.
  size_t RecommendationSpecIndex(size_t i) const { return recommendation_specs_[i]; }

  // Whether a served cohort reads user properties (reads then parse them).
  bool needs_properties() const { return !user_property_names_.empty(); }
  // Whether a served cohort has a group property condition (its reads need the user's groups).
  bool needs_groups() const { return !group_types_.empty(); }
  // Whether a served cohort is static (its reads need the user's static memberships).
  bool needs_static_cohorts() const { return has_static_cohorts_; }
  // The group types group property conditions of served cohorts read, sorted, each once.
  const std::vector<std::string>& group_types() const { return group_types_; }
  // The user properties served cohorts read, sorted, each once.
  const std::vector<std::string>& user_property_names() const { return user_property_names_; }
  bool empty() const { return specs_.empty() && cohorts_.empty() && recommendations_.empty(); }

 private:
  std::vector<SpecEntry> specs_;
  StringMap<std::vector<size_t>> by_event_type_;  // into specs_
  std::vector<ServedComputation> computations_;
  std::vector<ServedCohort> cohorts_;
  StringMap<size_t> cohort_index_;  // into cohorts_
  std::vector<std::string> user_property_names_;
  std::vector<std::string> group_types_;
  bool has_static_cohorts_ = false;
  std::vector<size_t> computation_specs_;               // by index in computations_
  std::vector<std::vector<size_t>> condition_targets_;  // by index in cohorts_
  std::vector<ServedRecommendation> recommendations_;
  std::vector<size_t> recommendation_specs_;  // by index in recommendations_
};

// The current catalog of every project.
class CatalogHolder {
 public:
  // The project's current catalog; an empty one when the project has no definitions.
  std::shared_ptr<const ProjectCatalog> Get(std::string_view project) const;
  void Set(const std::string& project, std::shared_ptr<const ProjectCatalog> catalog);

 private:
  mutable std::mutex mu_;
  StringMap<std::shared_ptr<const ProjectCatalog>> catalogs_;  // GUARDED_BY mu_
};

}  // namespace profiled::compute
