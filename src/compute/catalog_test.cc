#include "compute/catalog.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace profiled::compute {
namespace {

SpecEntry Entry(uint64_t id, std::string event_type) {
  SpecEntry e;
  e.id = id;
  e.spec.event_type = std::move(event_type);
  e.ready = true;
  return e;
}

ServedComputation Comp(uint64_t id, uint64_t spec_id) {
  ServedComputation c;
  c.definition.id = id;
  c.spec_id = spec_id;
  return c;
}

ServedCohort CohortWith(std::string id, CohortCondition::Kind kind) {
  ServedCohort c;
  c.definition.id = std::move(id);
  CohortCondition condition;
  condition.kind = kind;
  c.definition.all_of.push_back(CohortClause{false, {condition}});
  c.spec_ids = {{0}};
  return c;
}

std::vector<uint64_t> Ids(const std::vector<const SpecEntry*>& entries) {
  std::vector<uint64_t> ids;
  ids.reserve(entries.size());
  for (const SpecEntry* e : entries) ids.push_back(e->id);
  return ids;
}

TEST(ProjectCatalog, SortsSpecsByIdAndFindsThem) {
  ProjectCatalog catalog({Entry(9, "a"), Entry(2, "b"), Entry(5, "a")}, {}, {});
  ASSERT_EQ(catalog.specs().size(), 3u);
  EXPECT_EQ(catalog.specs()[0].id, 2u);
  EXPECT_EQ(catalog.specs()[2].id, 9u);
  ASSERT_NE(catalog.FindSpec(5), nullptr);
  EXPECT_EQ(catalog.FindSpec(5)->spec.event_type, "a");
  EXPECT_EQ(catalog.FindSpec(4), nullptr);
  EXPECT_EQ(catalog.FindSpec(10), nullptr);
}

TEST(ProjectCatalog, ListsTheSpecsOfAnEventTypeAndOfActive) {
  ProjectCatalog catalog(
      {Entry(9, "Purchase"), Entry(2, "_active"), Entry(5, "Purchase"), Entry(7, "View")}, {}, {});
  std::vector<const SpecEntry*> out;
  catalog.SpecsFor("Purchase", &out);
  EXPECT_EQ(Ids(out), (std::vector<uint64_t>{5, 9, 2}));
  out.clear();
  catalog.SpecsFor("Other", &out);
  EXPECT_EQ(Ids(out), (std::vector<uint64_t>{2}));
  out.clear();
  catalog.SpecsFor("_active", &out);
  EXPECT_EQ(Ids(out), (std::vector<uint64_t>{2}));
}

TEST(ProjectCatalog, AppendsToTheCallersList) {
  ProjectCatalog catalog({Entry(1, "A")}, {}, {});
  std::vector<const SpecEntry*> out = {nullptr};
  catalog.SpecsFor("A", &out);
  EXPECT_EQ(out.size(), 2u);
}

TEST(ProjectCatalog, FindsComputationsById) {
  ProjectCatalog catalog({Entry(1, "A")}, {Comp(30, 1), Comp(4, 1), Comp(12, 1)}, {});
  ASSERT_EQ(catalog.computations().size(), 3u);
  EXPECT_EQ(catalog.computations()[0].definition.id, 4u);
  EXPECT_EQ(catalog.computations()[2].definition.id, 30u);
  ASSERT_NE(catalog.FindComputation(12), nullptr);
  EXPECT_EQ(catalog.FindComputation(12)->definition.id, 12u);
  EXPECT_EQ(catalog.FindComputation(13), nullptr);
}

ServedRecommendation Rec(std::string id, uint64_t spec_id) {
  ServedRecommendation r;
  r.definition.id = std::move(id);
  r.spec_id = spec_id;
  return r;
}

TEST(ProjectCatalog, FindsRecommendationsByIdSortedById) {
  ProjectCatalog catalog({Entry(3, "Rated"), Entry(8, "Played")}, {}, {},
                         {Rec("songs", 8), Rec("movies", 3), Rec("gone", 5)});
  ASSERT_EQ(catalog.recommendations().size(), 3u);
  EXPECT_EQ(catalog.recommendations()[0].definition.id, "gone");
  EXPECT_EQ(catalog.recommendations()[2].definition.id, "songs");
  EXPECT_EQ(catalog.FindRecommendation("movies"), 1u);
  EXPECT_EQ(catalog.FindRecommendation("songs"), 2u);
  EXPECT_EQ(catalog.FindRecommendation("song"), ProjectCatalog::kUnresolved);
  EXPECT_EQ(catalog.FindRecommendation("zzz"), ProjectCatalog::kUnresolved);
  // Each one's history spec, as an index in specs().
  EXPECT_EQ(catalog.RecommendationSpecIndex(0), ProjectCatalog::kUnresolved);  // spec 5: none
  EXPECT_EQ(catalog.RecommendationSpecIndex(1), 0u);
  EXPECT_EQ(catalog.RecommendationSpecIndex(2), 1u);
  EXPECT_TRUE(ProjectCatalog({Entry(1, "A")}, {}, {}).recommendations().empty());
}

TEST(ProjectCatalog, IndexesCohortsInTheirGivenOrder) {
  ProjectCatalog catalog({}, {},
                         {CohortWith("z", CohortCondition::Kind::kEvent),
                          CohortWith("a", CohortCondition::Kind::kCohort)});
  EXPECT_EQ(catalog.CohortIndex("z"), 0u);
  EXPECT_EQ(catalog.CohortIndex("a"), 1u);
  EXPECT_EQ(catalog.CohortIndex("b"), 2u);
}

TEST(ProjectCatalog, NeedsPropertiesOnlyForAUserPropertyCondition) {
  EXPECT_FALSE(ProjectCatalog({}, {},
                              {CohortWith("a", CohortCondition::Kind::kEvent),
                               CohortWith("b", CohortCondition::Kind::kComputedProperty),
                               CohortWith("c", CohortCondition::Kind::kCohort)})
                   .needs_properties());
  EXPECT_TRUE(ProjectCatalog({}, {},
                             {CohortWith("a", CohortCondition::Kind::kEvent),
                              CohortWith("b", CohortCondition::Kind::kUserProperty)})
                  .needs_properties());
}

TEST(ProjectCatalog, AUserPropertyConditionTargetsItsNameAmongTheSortedNames) {
  auto on = [](std::string id, std::string prop) {
    ServedCohort c = CohortWith(std::move(id), CohortCondition::Kind::kUserProperty);
    c.definition.all_of[0].any_of[0].filter.prop = std::move(prop);
    return c;
  };
  ProjectCatalog catalog({}, {},
                         {on("a", "zone"), on("b", "age"), on("c", "plan"), on("d", "age")});
  EXPECT_EQ(catalog.user_property_names(), (std::vector<std::string>{"age", "plan", "zone"}));
  for (auto [cohort, index] : {std::pair{0, 2}, {1, 0}, {2, 1}, {3, 0}}) {
    EXPECT_EQ(catalog.ConditionTargets(cohort), std::vector<size_t>{static_cast<size_t>(index)})
        << cohort;
  }
}

TEST(ProjectCatalog, IsEmptyWithoutSpecsOrCohorts) {
  EXPECT_TRUE(ProjectCatalog().empty());
  EXPECT_FALSE(ProjectCatalog({Entry(1, "A")}, {}, {}).empty());
  EXPECT_FALSE(ProjectCatalog({}, {}, {CohortWith("s", CohortCondition::Kind::kCohort)}).empty());
}

TEST(CatalogHolder, GivesAnEmptyCatalogForAnUnknownProject) {
  CatalogHolder holder;
  std::shared_ptr<const ProjectCatalog> c = holder.Get("p");
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->empty());
}

TEST(CatalogHolder, GivesTheLastCatalogSetForEachProject) {
  CatalogHolder holder;
  auto one = std::make_shared<const ProjectCatalog>(std::vector<SpecEntry>{Entry(1, "A")},
                                                    std::vector<ServedComputation>{},
                                                    std::vector<ServedCohort>{});
  auto two = std::make_shared<const ProjectCatalog>(std::vector<SpecEntry>{Entry(2, "A")},
                                                    std::vector<ServedComputation>{},
                                                    std::vector<ServedCohort>{});
  holder.Set("p", one);
  EXPECT_EQ(holder.Get("p"), one);
  EXPECT_TRUE(holder.Get("q")->empty());
  holder.Set("p", two);
  EXPECT_EQ(holder.Get("p"), two);
  EXPECT_EQ(one->specs()[0].id, 1u);  // a reader holding the old one still may use it
}

TEST(CatalogHolder, IsSafeToReadWhileItIsSet) {
  CatalogHolder holder;
  std::atomic<bool> stop = false;
  std::thread reader([&] {
    while (!stop) {
      std::shared_ptr<const ProjectCatalog> c = holder.Get("p");
      ASSERT_NE(c, nullptr);
      for (const SpecEntry& e : c->specs()) ASSERT_EQ(e.spec.event_type, "A");
    }
  });
  for (uint64_t i = 1; i <= 2000; ++i) {
    holder.Set("p", std::make_shared<const ProjectCatalog>(std::vector<SpecEntry>{Entry(i, "A")},
                                                           std::vector<ServedComputation>{},
                                                           std::vector<ServedCohort>{}));
  }
  stop = true;
  reader.join();
  EXPECT_EQ(holder.Get("p")->specs()[0].id, 2000u);
}

}  // namespace
}  // namespace profiled::compute
