// The definitions the stored-record targets decode against, shared with make_seeds.cc so that
// the seeds' spec ids are the targets' own.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "api/definition_wire.h"
#include "compute/catalog.h"
#include "fuzz_input.h"

namespace profiled::fuzz {

inline constexpr int64_t kDay = 86'400'000;
// The clock of the record targets (2026-01-10T12:00:00Z).
inline constexpr int64_t kRecordsNow = 1'767'225'600'000 + 9 * kDay + 12 * int64_t{3'600'000};

// One spec of every metric and scope, ids 1, 2, ...: every third with a filter, every fourth
// on "_active", some reading a top-level field; then two item histories.
inline std::vector<compute::SpecEntry> EverySpec() {
  using compute::Metric;
  using compute::TimeScope;
  auto rolling = [](int days) {
    TimeScope s;
    s.kind = TimeScope::Kind::kRolling;
    s.days = days;
    return s;
  };
  std::vector<compute::SpecEntry> specs;
  TimeScope range;
  range.kind = TimeScope::Kind::kRange;
  range.start_ms = kRecordsNow - 4 * kDay;
  range.end_ms = kRecordsNow;
  for (TimeScope scope : {TimeScope{}, rolling(1), rolling(30), range}) {
    for (Metric m :
         {Metric::kCount, Metric::kSum, Metric::kMin, Metric::kMax, Metric::kAvg, Metric::kFirst,
          Metric::kLast, Metric::kDistinctCount, Metric::kDistinctDays}) {
      compute::SpecEntry e;
      e.id = specs.size() + 1;
      e.spec.event_type = e.id % 4 == 0 ? compute::kAnyEvent : "buy";
      e.spec.metric = m;
      if (m != Metric::kCount && m != Metric::kDistinctDays) {
        e.spec.property = m == Metric::kFirst || m == Metric::kLast ? "sku" : "price";
        if (e.id % 5 == 2) e.spec.property = "$revenue";
      }
      e.spec.scope = scope;
      if (e.id % 3 == 1) {
        e.spec.where.push_back(compute::Filter{"sku", compute::FilterOp::kIsNot, {"s0"}});
      }
      e.ready = true;
      specs.push_back(std::move(e));
    }
  }
  for (auto [days, property] : {std::pair{3, "sku"}, std::pair{30, "price"}}) {
    compute::SpecEntry e;
    e.id = specs.size() + 1;
    e.spec.event_type = "buy";
    e.spec.metric = Metric::kItems;
    e.spec.property = property;
    e.spec.scope = rolling(days);
    e.ready = true;
    specs.push_back(std::move(e));
  }
  return specs;
}

// A project's definitions in the admin API's JSON: computations of every type, cohorts of
// every condition kind (and a static one), and a recommendation.
inline constexpr const char* kComputations[] = {
    R"({"id":1,"name":"purchases_30d","type":"count","event_type":"Purchase","window_days":30})",
    R"({"id":2,"name":"spent","type":"sum","event_type":"Purchase","property":"price"})",
    R"({"id":3,"name":"cheapest","type":"min","event_type":"Purchase","property":"price",
        "window_days":7})",
    R"({"id":4,"name":"dearest","type":"max","event_type":"Purchase","property":"$revenue"})",
    R"({"id":5,"name":"basket","type":"avg","event_type":"_active","property":"price"})",
    R"({"id":6,"name":"first_plan","type":"first","event_type":"Upgrade","property":"plan"})",
    R"({"id":7,"name":"last_plan","type":"last","event_type":"Upgrade","property":"plan",
        "where":[{"prop":"plan","op":"is_not","values":["free"]}]})",
    R"({"id":8,"name":"skus","type":"distinct_count","event_type":"Purchase","property":"sku",
        "window_days":90})",
};

inline constexpr const char* kCohorts[] = {
    R"({"id":"buyers","name":"b","definition":{"andClauses":[{"negated":false,"orClauses":[
        {"type":"event","type_value":"Purchase","time_type":"rolling","time_value":30,
         "operator":">=","operator_value":2,"metric":null}]}]}})",
    R"({"id":"big","name":"b","definition":{"andClauses":[{"negated":false,"orClauses":[
        {"type":"event","type_value":"Purchase","time_type":"absolute","start":1700000000,
         "end":1800000000,"operator":">","operator_value":100,
         "metric":{"type":"sum","prop":"price"}},
        {"type":"event","type_value":"_active","time_type":"since","start":1700000000,
         "operator":"=","operator_value":3,"metric":{"type":"days"}}]}]}})",
    R"({"id":"de","name":"d","definition":{"andClauses":[{"negated":false,"orClauses":[
        {"type":"user_property","prop":"country","op":"is","values":["DE"]},
        {"type":"user_property","prop":"plan","op":"contains","values":["pro"]},
        {"type":"user_property","prop":"age","op":"greater","values":["30"]}]}]}})",
    R"({"id":"mixed","name":"m","definition":{"andClauses":[
        {"negated":false,"orClauses":[{"type":"computed_property","prop":"2",
          "op":"greater_or_equal","values":["10"]}]},
        {"negated":true,"orClauses":[{"type":"cohort","type_value":"de"}]},
        {"negated":false,"orClauses":[{"type":"event","type_value":"Purchase",
          "time_type":"rolling","time_value":7,"operator":"<","operator_value":5,
          "metric":{"type":"distinct","prop":"sku"}}]}]}})",
};

inline constexpr const char* kRecommendation =
    R"({"id":"r1","title":"For you","model":"popular","item_event":"Product Viewed",
        "item_property":"product_id","history_window_days":30,"max_items":5,
        "control_percentage":20})";

// The catalog of those definitions, spec ids given in order of first use as the registry
// gives them; *training_key is the recommendation's.
inline std::shared_ptr<const compute::ProjectCatalog> ProjectCatalogOfDefinitions(
    std::string* training_key) {
  std::map<std::string, uint64_t> spec_ids;  // by canonical text
  std::vector<compute::SpecEntry> specs;
  auto spec_id = [&](const compute::AggregateSpec& spec) {
    auto [it, added] = spec_ids.try_emplace(spec.Canonical(), spec_ids.size() + 1);
    if (added) specs.push_back({it->second, spec, true});
    return it->second;
  };
  std::vector<compute::ServedComputation> computations;
  for (const char* body : kComputations) {
    compute::Computation c;
    FUZZ_CHECK(api::ParseComputation(body, std::to_string(computations.size() + 1), &c).ok());
    uint64_t spec = spec_id(c.spec);
    computations.push_back({std::move(c), spec});
  }
  std::vector<compute::ServedCohort> cohorts;
  for (const char* body : kCohorts) {
    compute::Cohort c;
    std::string id(boost::json::parse(body).at("id").as_string());
    FUZZ_CHECK(api::ParseCohort(body, id, &c).ok());
    compute::ServedCohort served{c, {}};
    for (const compute::CohortClause& clause : c.all_of) {
      auto& ids = served.spec_ids.emplace_back();
      for (const compute::CohortCondition& cond : clause.any_of) {
        ids.push_back(cond.kind == compute::CohortCondition::Kind::kEvent ? spec_id(cond.spec) : 0);
      }
    }
    cohorts.push_back(std::move(served));
  }
  compute::Cohort vip;
  vip.id = "vip";
  vip.is_static = true;
  cohorts.push_back({vip, {}});
  compute::Recommendation rec;
  std::string source;
  FUZZ_CHECK(api::ParseRecommendation(kRecommendation, "r1", &rec, &source).ok());
  uint64_t history = spec_id(rec.history);
  *training_key = compute::TrainingKey(rec);
  std::vector<compute::ServedRecommendation> recommendations = {{rec, history, *training_key}};
  return std::make_shared<const compute::ProjectCatalog>(
      std::move(specs), std::move(computations), std::move(cohorts), std::move(recommendations));
}

}  // namespace profiled::fuzz
