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

}  // namespace
}  // namespace profiled::api
