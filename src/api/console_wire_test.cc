#include "api/console_wire.h"

#include <gtest/gtest.h>

namespace profiled::api {
namespace {

TEST(SerializeProjects, ListsIdsDialectsAndCountsInOrder) {
  std::vector<ProjectSummary> list = {{"demo", ProfileDialect::kSeed, 2, 1, 1},
                                      {"amp", ProfileDialect::kAmplitude, 0, 0, 0}};
  EXPECT_EQ(SerializeProjects(list),
            R"({"projects":[{"id":"demo","profile_dialect":"seed","computations":2,"cohorts":1,)"
            R"("recommendations":1},{"id":"amp","profile_dialect":"amplitude","computations":0,)"
            R"("cohorts":0,"recommendations":0}]})");
}

TEST(SerializeStats, WritesSecondsAndRoundedRatesOldestFirst) {
  read::StatsSnapshot s;
  s.rate_seconds = 10;
  s.rates.push_back({1796055730000, 120.5, 40.123, 170.0});
  s.cohort_seconds = 300;
  s.cohorts["demo"].push_back({1796055600999, {{"c1", 42}, {"c2", 7}}});
  s.cohorts["empty"];
  EXPECT_EQ(SerializeStats(s, 1796055740500),
            R"({"now":1796055740,"rates":{"interval_seconds":10,"samples":[{"t":1796055730,)"
            R"("events_ingested_per_second":120.5,"profile_reads_per_second":40.12,)"
            R"("requests_per_second":170}]},"cohort_sizes":{"demo":{"interval_seconds":300,)"
            R"("samples":[{"t":1796055600,"sizes":{"c1":42,"c2":7}}]},)"
            R"("empty":{"interval_seconds":300,"samples":[]}}})");
}

}  // namespace
}  // namespace profiled::api
