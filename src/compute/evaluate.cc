#include "compute/evaluate.h"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <optional>

#include "compute/match.h"

namespace profiled::compute {
namespace json = boost::json;

namespace {

// JSON text of first/last values is written by compute itself; values may nest as deep as
// ingestion allows (40 levels) plus room.
constexpr int kMaxValueDepth = 64;

bool Compare(double value, Comparison comparison, double operand) {
  switch (comparison) {
    case Comparison::kGe: return value >= operand;
    case Comparison::kGt: return value > operand;
    case Comparison::kEq: return value == operand;
    case Comparison::kNe: return value != operand;
    case Comparison::kLt: return value < operand;
    case Comparison::kLe: return value <= operand;
  }
  return false;
}

// The value of a computation as a JSON value, for a filter to test; false when it has none.
// Only first/last values are JSON text to parse; numbers are taken as they are.
bool ToJson(const Value& value, json::value* out) {
  if (const auto* i = std::get_if<int64_t>(&value)) {
    *out = *i;
    return true;
  }
  if (const auto* d = std::get_if<double>(&value)) {
    *out = *d;
    return true;
  }
  if (const auto* text = std::get_if<JsonText>(&value)) {
    json::parse_options options;
    options.max_depth = kMaxValueDepth;
    boost::system::error_code ec;
    *out = json::parse(text->text, ec, json::storage_ptr(), options);
    return !ec;
  }
  return false;
}

// One read's evaluation: remembers each spec's value and each cohort's membership, so a
// state read by several definitions is walked once and a cohort referenced by several
// others is evaluated once. The first corrupt state ends it: status() says so, and every
// value read after it is none.
class Evaluation {
 public:
  Evaluation(const ProjectCatalog& catalog, const UserView& user, int64_t now_ms)
      : catalog_(catalog),
        user_(user),
        now_ms_(now_ms),
        specs_(catalog.specs().size()),
        membership_(catalog.cohorts().size(), kUnknown) {
    // Both lists are sorted by spec id: one merge finds every live spec's state.
    if (user.aggregates == nullptr) return;
    const std::vector<AggregatesView::Entry>& states = user.aggregates->entries();
    auto state = states.begin();
    for (size_t i = 0; i < specs_.size() && state != states.end(); ++i) {
      const uint64_t id = catalog.specs()[i].id;
      while (state != states.end() && state->id < id) ++state;
      if (state != states.end() && state->id == id) specs_[i].state = state->state;
    }
  }

  const Status& status() const { return status_; }

  // The value of specs()[index]. Valid as long as the evaluation.
  const Value& SpecValue(size_t index) {
    SpecSlot& slot = specs_[index];
    if (!slot.known) {
      Walk(catalog_.specs()[index].spec, slot.state, &slot.value);
      slot.known = true;
    }
    return slot.value;
  }

  // The value of spec `spec_id`, which the catalog does not have (a definition it was not
  // built with), as `spec`. Valid until the next call.
  const Value& UnlistedSpecValue(uint64_t spec_id, const AggregateSpec& spec) {
    std::string_view state;
    if (user_.aggregates != nullptr) state = user_.aggregates->Find(spec_id);
    Walk(spec, state, &unlisted_);
    return unlisted_;
  }

  // The value of computations()[index]. Valid as SpecValue's and UnlistedSpecValue's are.
  const Value& ComputationValue(size_t index) {
    const size_t spec = catalog_.ComputationSpecIndex(index);
    if (spec != ProjectCatalog::kUnresolved) return SpecValue(spec);
    const ServedComputation& c = catalog_.computations()[index];
    return UnlistedSpecValue(c.spec_id, c.definition.spec);
  }

  bool InCohort(size_t index) {
    if (index >= membership_.size()) return false;
    if (membership_[index] != kUnknown) return membership_[index] == kIn;
    // Cohorts come in dependency order, so a reference back to this one (a cycle the
    // registry should have refused) finds kOut instead of recursing forever.
    membership_[index] = kOut;
    const ServedCohort& cohort = catalog_.cohorts()[index];
    const bool in = cohort.definition.is_static ? InStaticCohort(cohort.definition.id)
                                                : InBehavioralCohort(index, cohort);
    membership_[index] = in ? kIn : kOut;
    return in;
  }

 private:
  static constexpr int8_t kUnknown = -1;
  static constexpr int8_t kOut = 0;
  static constexpr int8_t kIn = 1;

  struct SpecSlot {
    std::string_view state;  // the encoded state; empty = none
    Value value;
    bool known = false;
  };

  // Evaluates one state into *value (none once a state failed to decode).
  void Walk(const AggregateSpec& spec, std::string_view state, Value* value) {
    Status s = EvaluateEncoded(spec, status_.ok() ? state : std::string_view(), now_ms_, value);
    if (!s.ok()) {
      if (status_.ok()) status_ = std::move(s);
      *value = std::monostate{};
    }
  }

  bool InStaticCohort(const std::string& id) const {
    return user_.static_cohorts != nullptr &&
           std::binary_search(user_.static_cohorts->begin(), user_.static_cohorts->end(), id);
  }

  bool InBehavioralCohort(size_t index, const ServedCohort& cohort) {
    const std::vector<CohortClause>& clauses = cohort.definition.all_of;
    if (clauses.empty()) return false;
    const std::vector<size_t>& targets = catalog_.ConditionTargets(index);
    size_t next = 0;  // into targets, which lists every condition of every clause
    for (size_t i = 0; i < clauses.size(); ++i) {
      const std::vector<CohortCondition>& conditions = clauses[i].any_of;
      bool any = false;
      for (size_t j = 0; j < conditions.size() && !any; ++j) {
        any = ConditionHolds(cohort, i, j, targets[next + j]);
      }
      next += conditions.size();
      if (any == clauses[i].negated) return false;
    }
    return true;
  }

  bool ConditionHolds(const ServedCohort& cohort, size_t clause, size_t index, size_t target) {
    const CohortCondition& condition = cohort.definition.all_of[clause].any_of[index];
    switch (condition.kind) {
      case CohortCondition::Kind::kEvent: {
        if (target != ProjectCatalog::kUnresolved) {
          return EventConditionHolds(condition, SpecValue(target));
        }
        uint64_t spec_id = 0;
        if (clause < cohort.spec_ids.size() && index < cohort.spec_ids[clause].size()) {
          spec_id = cohort.spec_ids[clause][index];
        }
        return EventConditionHolds(condition, UnlistedSpecValue(spec_id, condition.spec));
      }
      case CohortCondition::Kind::kUserProperty:
        return Matches(condition.filter, UserProperty(target));
      case CohortCondition::Kind::kComputedProperty:
        return ComputedConditionHolds(condition.filter, target);
      case CohortCondition::Kind::kCohort:
        return target != ProjectCatalog::kUnresolved && InCohort(target);
      case CohortCondition::Kind::kGroupProperty: return GroupConditionHolds(condition);
    }
    return false;
  }

  bool GroupConditionHolds(const CohortCondition& condition) {
    groups_.clear();
    if (user_.property_source != nullptr) {
      Status s = user_.property_source->LoadGroups(condition.group_type, &groups_);
      if (!s.ok()) {
        if (status_.ok()) status_ = std::move(s);
        return false;
      }
    }
    if (groups_.empty()) return Matches(condition.filter, nullptr);
    return std::any_of(groups_.begin(), groups_.end(), [&](const json::object* group) {
      return Matches(condition.filter, group->if_contains(condition.filter.prop));
    });
  }

  static bool EventConditionHolds(const CohortCondition& condition, const Value& value) {
    std::optional<double> number;
    if (const auto* i = std::get_if<int64_t>(&value)) {
      number = static_cast<double>(*i);
    } else if (const auto* d = std::get_if<double>(&value)) {
      number = *d;
    } else if (std::holds_alternative<std::monostate>(value)) {
      // Counting metrics are 0 without events; the others have no value, and no
      // comparison with nothing holds.
      const Metric m = condition.spec.metric;
      if (m == Metric::kCount || m == Metric::kSum || m == Metric::kDistinctCount ||
          m == Metric::kDistinctDays) {
        number = 0;
      }
    }
    return number.has_value() && Compare(*number, condition.comparison, condition.operand);
  }

  // The value of user property user_property_names()[index]: the custom property, else
  // (when that is missing or null) the built-in field.
  const json::value* UserProperty(size_t index) {
    const json::value* v = nullptr;
    Property(false, index, &v);
    if (v == nullptr || v->is_null()) {
      const json::value* builtin = nullptr;
      if (Property(true, index, &builtin)) v = builtin;
    }
    return v;
  }

  // Sets *out to the value of user property user_property_names()[index] among the custom
  // properties or the built-in fields (null when missing); false when there are none (or
  // they do not decode: status_ then says so).
  bool Property(bool builtins, size_t index, const json::value** out) {
    *out = nullptr;
    if (user_.property_source == nullptr) return false;
    const size_t part = builtins ? 1 : 0;
    if (!properties_loaded_[part]) {
      properties_loaded_[part] = true;
      Status s = user_.property_source->Load(builtins, &properties_[part]);
      if (!s.ok()) {
        properties_[part] = nullptr;
        if (status_.ok()) status_ = std::move(s);
      }
    }
    const std::vector<const json::value*>* values = properties_[part];
    if (values == nullptr) return false;
    if (index < values->size()) *out = (*values)[index];
    return true;
  }

  // `computation`: the index in computations() of the one the filter reads, kUnresolved
  // when it is not served.
  bool ComputedConditionHolds(const Filter& filter, size_t computation) {
    if (computation == ProjectCatalog::kUnresolved) return Matches(filter, nullptr);
    json::value value;
    if (!ToJson(ComputationValue(computation), &value)) return Matches(filter, nullptr);
    return Matches(filter, &value);
  }

  const ProjectCatalog& catalog_;
  const UserView& user_;
  std::vector<const json::object*> groups_;  // GroupConditionHolds' scratch
  const int64_t now_ms_;
  Status status_;
  std::vector<SpecSlot> specs_;  // by index in catalog_.specs()
  Value unlisted_;
  std::vector<int8_t> membership_;
  // The loaded custom properties and built-in fields (UserPropertySource::Load).
  std::array<const std::vector<const json::value*>*, 2> properties_ = {nullptr, nullptr};
  std::array<bool, 2> properties_loaded_ = {false, false};
};

}  // namespace

Status Evaluate(const ProjectCatalog& catalog, const UserView& user, int64_t now_ms,
                const std::vector<uint64_t>& only, std::vector<std::pair<uint64_t, Value>>* values,
                std::vector<std::string>* cohort_ids) {
  Evaluation evaluation(catalog, user, now_ms);
  if (values != nullptr) {
    values->clear();
    std::vector<uint64_t> wanted;  // allocates only when narrowed
    if (!only.empty()) {
      wanted = only;
      std::sort(wanted.begin(), wanted.end());
    }
    const std::vector<ServedComputation>& computations = catalog.computations();
    for (size_t i = 0; i < computations.size(); ++i) {
      const uint64_t id = computations[i].definition.id;
      if (!wanted.empty() && !std::binary_search(wanted.begin(), wanted.end(), id)) continue;
      const Value& value = evaluation.ComputationValue(i);
      if (std::holds_alternative<std::monostate>(value)) continue;
      values->emplace_back(id, value);
    }
  }
  if (cohort_ids != nullptr) {
    // Assigned over the strings already there, so a reused vector keeps their buffers.
    size_t n = 0;
    for (size_t i = 0; i < catalog.cohorts().size(); ++i) {
      if (!evaluation.InCohort(i)) continue;
      const std::string& id = catalog.cohorts()[i].definition.id;
      if (n < cohort_ids->size()) {
        (*cohort_ids)[n].assign(id);
      } else {
        cohort_ids->push_back(id);
      }
      ++n;
    }
    cohort_ids->resize(n);
  }
  return evaluation.status();
}

Status ComputedValues(const ProjectCatalog& catalog, const UserView& user, int64_t now_ms,
                      const std::vector<uint64_t>& only,
                      std::vector<std::pair<uint64_t, Value>>* values) {
  return Evaluate(catalog, user, now_ms, only, values, nullptr);
}

Status CohortIds(const ProjectCatalog& catalog, const UserView& user, int64_t now_ms,
                 std::vector<std::string>* cohort_ids) {
  return Evaluate(catalog, user, now_ms, {}, nullptr, cohort_ids);
}

Status InCohort(const ProjectCatalog& catalog, const UserView& user, int64_t now_ms,
                std::string_view cohort_id, bool* in) {
  Evaluation evaluation(catalog, user, now_ms);
  *in = evaluation.InCohort(catalog.CohortIndex(cohort_id));
  return evaluation.status();
}

}  // namespace profiled::compute
