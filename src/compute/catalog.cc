#include "compute/catalog.h"

#include <algorithm>
#include <charconv>
#include <utility>

namespace profiled::compute {

ProjectCatalog::ProjectCatalog(std::vector<SpecEntry> specs,
                               std::vector<ServedComputation> computations,
                               std::vector<ServedCohort> cohorts,
                               std::vector<ServedRecommendation> recommendations)
    : specs_(std::move(specs)),
      computations_(std::move(computations)),
      cohorts_(std::move(cohorts)),
      recommendations_(std::move(recommendations)) {
  std::sort(specs_.begin(), specs_.end(),
            [](const SpecEntry& a, const SpecEntry& b) { return a.id < b.id; });
  std::sort(computations_.begin(), computations_.end(),
            [](const ServedComputation& a, const ServedComputation& b) {
              return a.definition.id < b.definition.id;
            });
  std::sort(recommendations_.begin(), recommendations_.end(),
            [](const ServedRecommendation& a, const ServedRecommendation& b) {
              return a.definition.id < b.definition.id;
            });
  for (size_t i = 0; i < specs_.size(); ++i) {
    by_event_type_[specs_[i].spec.event_type].push_back(i);
  }
  for (size_t i = 0; i < cohorts_.size(); ++i) {
    cohort_index_.emplace(cohorts_[i].definition.id, i);
    has_static_cohorts_ = has_static_cohorts_ || cohorts_[i].definition.is_static;
    for (const CohortClause& clause : cohorts_[i].definition.all_of) {
      for (const CohortCondition& condition : clause.any_of) {
        if (condition.kind == CohortCondition::Kind::kUserProperty) {
          user_property_names_.push_back(condition.filter.prop);
        }
        if (condition.kind == CohortCondition::Kind::kGroupProperty) {
          group_types_.push_back(condition.group_type);
        }
      }
    }
  }
  std::sort(group_types_.begin(), group_types_.end());
  group_types_.erase(std::unique(group_types_.begin(), group_types_.end()), group_types_.end());
  std::sort(user_property_names_.begin(), user_property_names_.end());
  user_property_names_.erase(std::unique(user_property_names_.begin(), user_property_names_.end()),
                             user_property_names_.end());
  auto spec_index = [this](uint64_t id) {
    const SpecEntry* entry = FindSpec(id);
    return entry == nullptr ? kUnresolved : static_cast<size_t>(entry - specs_.data());
  };
  for (const ServedComputation& c : computations_) {
    computation_specs_.push_back(spec_index(c.spec_id));
  }
  for (ServedRecommendation& r : recommendations_) {
    recommendation_specs_.push_back(spec_index(r.spec_id));
    r.training_key = TrainingKey(r.definition);
  }
  for (const ServedCohort& cohort : cohorts_) {
    std::vector<size_t>& targets = condition_targets_.emplace_back();
    for (size_t i = 0; i < cohort.definition.all_of.size(); ++i) {
      const std::vector<CohortCondition>& conditions = cohort.definition.all_of[i].any_of;
      for (size_t j = 0; j < conditions.size(); ++j) {
        const CohortCondition& condition = conditions[j];
        size_t target = kUnresolved;
        switch (condition.kind) {
          case CohortCondition::Kind::kEvent:
            if (i < cohort.spec_ids.size() && j < cohort.spec_ids[i].size()) {
              target = spec_index(cohort.spec_ids[i][j]);
            }
            break;
          case CohortCondition::Kind::kComputedProperty: {
            uint64_t id = 0;
            const std::string& text = condition.filter.prop;
            auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
            const ServedComputation* c = ec == std::errc() && ptr == text.data() + text.size()
                                             ? FindComputation(id)
                                             : nullptr;
            if (c != nullptr) target = static_cast<size_t>(c - computations_.data());
            break;
          }
          case CohortCondition::Kind::kCohort: {
            const size_t index = CohortIndex(condition.cohort_id);
            if (index < cohorts_.size()) target = index;
            break;
          }
          case CohortCondition::Kind::kUserProperty: {
            auto it = std::lower_bound(user_property_names_.begin(), user_property_names_.end(),
                                       condition.filter.prop);
            target = static_cast<size_t>(it - user_property_names_.begin());  // always there
            break;
          }
          case CohortCondition::Kind::kGroupProperty: break;
        }
        targets.push_back(target);
      }
    }
  }
}

const SpecEntry* ProjectCatalog::FindSpec(uint64_t id) const {
  auto it = std::lower_bound(specs_.begin(), specs_.end(), id,
                             [](const SpecEntry& e, uint64_t want) { return e.id < want; });
  if (it == specs_.end() || it->id != id) return nullptr;
  return &*it;
}

void ProjectCatalog::SpecsFor(std::string_view event_type,
                              std::vector<const SpecEntry*>* out) const {
  if (auto it = by_event_type_.find(event_type); it != by_event_type_.end()) {
    for (size_t i : it->second) out->push_back(&specs_[i]);
  }
  if (event_type == "_active") return;  // already listed above
  if (auto it = by_event_type_.find(std::string_view("_active")); it != by_event_type_.end()) {
    for (size_t i : it->second) out->push_back(&specs_[i]);
  }
}

const ServedComputation* ProjectCatalog::FindComputation(uint64_t id) const {
  auto it = std::lower_bound(
      computations_.begin(), computations_.end(), id,
      [](const ServedComputation& c, uint64_t want) { return c.definition.id < want; });
  if (it == computations_.end() || it->definition.id != id) return nullptr;
  return &*it;
}

size_t ProjectCatalog::CohortIndex(std::string_view id) const {
  auto it = cohort_index_.find(id);
  return it == cohort_index_.end() ? cohorts_.size() : it->second;
}

size_t ProjectCatalog::FindRecommendation(std::string_view id) const {
  auto it = std::lower_bound(
      recommendations_.begin(), recommendations_.end(), id,
      [](const ServedRecommendation& r, std::string_view want) { return r.definition.id < want; });
  if (it == recommendations_.end() || it->definition.id != id) return kUnresolved;
  return static_cast<size_t>(it - recommendations_.begin());
}

std::shared_ptr<const ProjectCatalog> CatalogHolder::Get(std::string_view project) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = catalogs_.find(project); it != catalogs_.end()) return it->second;
  }
  // One shared empty catalog: a project without definitions costs no allocation per read.
  static const std::shared_ptr<const ProjectCatalog> empty =
      std::make_shared<const ProjectCatalog>();
  return empty;
}

void CatalogHolder::Set(const std::string& project, std::shared_ptr<const ProjectCatalog> catalog) {
  std::shared_ptr<const ProjectCatalog> previous;  // released outside the lock
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = catalogs_[project];
  previous = std::move(slot);
  slot = std::move(catalog);
}

}  // namespace profiled::compute
