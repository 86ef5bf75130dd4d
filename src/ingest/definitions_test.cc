#include "ingest/definitions.h"

#include <gtest/gtest.h>

#include <map>

#include "core/clock.h"
#include "core/temp_dir.h"

namespace profiled::ingest {
namespace {

using compute::AggregateSpec;
using compute::Cohort;
using compute::CohortCondition;
using compute::Computation;

Computation Count(uint64_t id, std::string event_type, int days = 30) {
  Computation c;
  c.id = id;
  c.name = "c" + std::to_string(id);
  c.spec.event_type = std::move(event_type);
  c.spec.scope.kind = compute::TimeScope::Kind::kRolling;
  c.spec.scope.days = days;
  return c;
}

CohortCondition EventCondition(std::string event_type, double operand) {
  CohortCondition c;
  c.kind = CohortCondition::Kind::kEvent;
  c.spec.event_type = std::move(event_type);
  c.operand = operand;
  return c;
}

CohortCondition CohortRef(std::string id) {
  CohortCondition c;
  c.kind = CohortCondition::Kind::kCohort;
  c.cohort_id = std::move(id);
  return c;
}

compute::Recommendation Rec(std::string id, std::string item_event = "Movie Rated",
                            std::string model = "ease") {
  compute::Recommendation r;
  r.id = std::move(id);
  r.model = std::move(model);
  r.item_event = std::move(item_event);
  r.item_property = "movie_id";
  r.history = compute::HistorySpecOf(r);
  return r;
}

Cohort MakeCohort(std::string id, std::vector<CohortCondition> any_of) {
  Cohort c;
  c.id = std::move(id);
  c.all_of.push_back({false, std::move(any_of)});
  return c;
}

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::RocksDbOptions options;
    options.path = dir_.path();
    auto opened = store::OpenRocksDbStore(options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened.value());
    registry_ = NewRegistry(&catalogs_);
    ASSERT_TRUE(registry_->Load({"p"}).ok());
  }

  // A registry whose parser finds the typed definition by its source text, as the real one
  // (src/api) rebuilds it from the JSON.
  std::unique_ptr<DefinitionRegistry> NewRegistry(compute::CatalogHolder* catalogs) {
    DefinitionParser parser = [this](DefinitionKind, std::string_view id, std::string_view source,
                                     Definition* out) {
      auto it = sources_.find(std::string(source));
      if (it == sources_.end()) return Status::InvalidArgument("unknown source");
      *out = it->second;
      out->id = std::string(id);
      return Status::Ok();
    };
    return std::make_unique<DefinitionRegistry>(*store_, *catalogs, parser, clock_);
  }

  Definition Def(TypedDefinition typed) {
    Definition d;
    d.typed = std::move(typed);
    if (const auto* c = std::get_if<Computation>(&d.typed)) {
      d.id = std::to_string(c->id);
    } else if (const auto* h = std::get_if<Cohort>(&d.typed)) {
      d.id = h->id;
    } else {
      d.id = std::get<compute::Recommendation>(d.typed).id;
    }
    d.source = "source " + std::to_string(++sources_made_);
    sources_[d.source] = d;
    return d;
  }

  Status Put(TypedDefinition typed, uint64_t next_seq = 0) {
    return registry_->Put("p", Def(std::move(typed)), next_seq);
  }

  std::shared_ptr<const compute::ProjectCatalog> Catalog() { return catalogs_.Get("p"); }

  DefinitionInfo Info(DefinitionKind kind, const std::string& id) {
    DefinitionInfo info;
    EXPECT_TRUE(registry_->Get("p", kind, id, &info).ok());
    return info;
  }

  void FinishBackfill() {
    while (auto job = registry_->NextBackfill()) {
      store::WriteSet writes;
      registry_->StageBackfill(*job, "", 0, true, &writes);
      ASSERT_TRUE(store_->Commit(writes, true).ok());
      registry_->CommitStaged(true);
    }
  }

  TempDir dir_;
  ManualClock clock_{1'700'000'000'000};
  std::unique_ptr<store::Store> store_;
  compute::CatalogHolder catalogs_;
  std::unique_ptr<DefinitionRegistry> registry_;
  std::map<std::string, Definition> sources_;
  int sources_made_ = 0;
};

TEST_F(RegistryTest, ADefinitionOverAnEmptyLogIsServedAtOnce) {
  ASSERT_TRUE(Put(Count(7, "Purchase")).ok());
  EXPECT_TRUE(Info(DefinitionKind::kComputation, "7").ready);
  ASSERT_EQ(Catalog()->computations().size(), 1u);
  EXPECT_EQ(Catalog()->computations()[0].definition.id, 7u);
  ASSERT_EQ(Catalog()->specs().size(), 1u);
  EXPECT_TRUE(Catalog()->specs()[0].ready);
  EXPECT_FALSE(registry_->NextBackfill().has_value());
}

TEST_F(RegistryTest, ANewIdPastItsKindsLimitIsRefusedNamingTheConfigKey) {
  registry_->SetLimits({.max_computations = 2, .max_cohorts = 1, .max_recommendations = 1});
  ASSERT_TRUE(Put(Count(1, "A")).ok());
  ASSERT_TRUE(Put(Count(2, "B")).ok());
  Status s = Put(Count(3, "C"));
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "project p already has 2 computations, the most it may have "
            "(definitions.max_computations = 2); change or delete an existing one, or raise "
            "definitions.max_computations");
  DefinitionInfo info;
  EXPECT_TRUE(registry_->Get("p", DefinitionKind::kComputation, "3", &info).IsNotFound());
  EXPECT_EQ(Catalog()->computations().size(), 2u);
  // Each kind counts apart.
  ASSERT_TRUE(Put(MakeCohort("h1", {EventCondition("A", 1)})).ok());
  ASSERT_TRUE(Put(Rec("r1")).ok());
  EXPECT_NE(Put(MakeCohort("h2", {EventCondition("A", 1)}))
                .message()
                .find("definitions.max_cohorts = 1, static cohorts included"),
            std::string::npos);
  EXPECT_NE(Put(Rec("r2")).message().find("definitions.max_recommendations = 1"),
            std::string::npos);
}

TEST_F(RegistryTest, ChangingAnExistingDefinitionIsAllowedAtOrPastTheLimit) {
  ASSERT_TRUE(Put(Count(1, "A")).ok());
  ASSERT_TRUE(Put(Count(2, "B")).ok());
  registry_->SetLimits({.max_computations = 1, .max_cohorts = 1, .max_recommendations = 1});
  // Lowering the limit removed nothing, and both may still change.
  EXPECT_EQ(Catalog()->computations().size(), 2u);
  ASSERT_TRUE(Put(Count(1, "A", 60)).ok());
  ASSERT_TRUE(Put(Count(2, "B", 60)).ok());
  EXPECT_FALSE(Put(Count(3, "C")).ok());
  // Once one is deleted a new id fits only when below the limit: 1 left, limit 1.
  ASSERT_TRUE(registry_->Delete("p", DefinitionKind::kComputation, "2").ok());
  EXPECT_FALSE(Put(Count(3, "C")).ok());
  ASSERT_TRUE(registry_->Delete("p", DefinitionKind::kComputation, "1").ok());
  EXPECT_TRUE(Put(Count(3, "C")).ok());
}

TEST_F(RegistryTest, ANewSpecBackfillsBeforeItsDefinitionIsServed) {
  ASSERT_TRUE(Put(Count(7, "Purchase"), 42).ok());
  DefinitionInfo info = Info(DefinitionKind::kComputation, "7");
  EXPECT_FALSE(info.ready);
  EXPECT_TRUE(Catalog()->computations().empty());
  ASSERT_EQ(Catalog()->specs().size(), 1u);  // live: the writer updates it meanwhile
  EXPECT_FALSE(Catalog()->specs()[0].ready);
  auto job = registry_->NextBackfill();
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->until_seq, 42u);
  EXPECT_TRUE(job->cursor.empty());

  store::WriteSet writes;
  registry_->StageBackfill(*job, "cursor-1", 10, false, &writes);
  ASSERT_TRUE(store_->Commit(writes, true).ok());
  registry_->CommitStaged(true);
  EXPECT_EQ(Info(DefinitionKind::kComputation, "7").events_scanned, 10u);
  job = registry_->NextBackfill();
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->cursor, "cursor-1");

  writes.Clear();
  registry_->StageBackfill(*job, "cursor-2", 5, true, &writes);
  ASSERT_TRUE(store_->Commit(writes, true).ok());
  registry_->CommitStaged(true);
  EXPECT_TRUE(Info(DefinitionKind::kComputation, "7").ready);
  EXPECT_EQ(Catalog()->computations().size(), 1u);
  EXPECT_FALSE(registry_->NextBackfill().has_value());
}

TEST_F(RegistryTest, AFailedBackfillCommitChangesNothing) {
  ASSERT_TRUE(Put(Count(7, "Purchase"), 42).ok());
  auto job = registry_->NextBackfill();
  store::WriteSet writes;
  registry_->StageBackfill(*job, "cursor-1", 10, true, &writes);
  registry_->CommitStaged(false);
  EXPECT_FALSE(Info(DefinitionKind::kComputation, "7").ready);
  ASSERT_TRUE(registry_->NextBackfill().has_value());
  EXPECT_TRUE(registry_->NextBackfill()->cursor.empty());
}

TEST_F(RegistryTest, AChangedDefinitionKeepsServingItsOldVersionUntilTheNewOneIsReady) {
  ASSERT_TRUE(Put(Count(7, "Purchase", 30)).ok());
  ASSERT_TRUE(Put(Count(7, "Purchase", 60), 42).ok());
  EXPECT_FALSE(Info(DefinitionKind::kComputation, "7").ready);
  ASSERT_EQ(Catalog()->computations().size(), 1u);
  EXPECT_EQ(Catalog()->computations()[0].definition.spec.scope.days, 30);
  EXPECT_EQ(Catalog()->specs().size(), 2u);  // both are live
  FinishBackfill();
  ASSERT_EQ(Catalog()->computations().size(), 1u);
  EXPECT_EQ(Catalog()->computations()[0].definition.spec.scope.days, 60);
  EXPECT_EQ(Catalog()->specs().size(), 1u);  // the old spec is no longer used
}

TEST_F(RegistryTest, DefinitionsWithTheSameSpecShareItsStateAndNeedNoBackfill) {
  ASSERT_TRUE(Put(MakeCohort("c", {EventCondition("Purchase", 3)}), 42).ok());
  FinishBackfill();
  uint64_t spec = Catalog()->specs()[0].id;
  ASSERT_TRUE(Put(MakeCohort("c", {EventCondition("Purchase", 5)}), 50).ok());
  EXPECT_TRUE(Info(DefinitionKind::kCohort, "c").ready);
  ASSERT_EQ(Catalog()->specs().size(), 1u);
  EXPECT_EQ(Catalog()->specs()[0].id, spec);
  EXPECT_EQ(Catalog()->cohorts()[0].definition.all_of[0].any_of[0].operand, 5);
  EXPECT_EQ(Catalog()->cohorts()[0].spec_ids[0][0], spec);
}

TEST_F(RegistryTest, ReferencesMustExistAndMustNotFormACycle) {
  Status s = Put(MakeCohort("a", {CohortRef("b")}));
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.message().find("cohort b"), std::string::npos) << s.message();
  EXPECT_EQ(Put(MakeCohort("a", {CohortRef("a")})).code(), ErrorCode::kInvalidArgument);
  ASSERT_TRUE(Put(MakeCohort("b", {EventCondition("x", 1)})).ok());
  ASSERT_TRUE(Put(MakeCohort("a", {CohortRef("b")})).ok());
  s = Put(MakeCohort("b", {CohortRef("a")}));
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.message().find("cycle"), std::string::npos) << s.message();
  CohortCondition computed;
  computed.kind = CohortCondition::Kind::kComputedProperty;
  computed.filter.prop = "9";
  EXPECT_EQ(Put(MakeCohort("d", {computed})).code(), ErrorCode::kInvalidArgument);
  ASSERT_TRUE(Put(Count(9, "x")).ok());
  EXPECT_TRUE(Put(MakeCohort("d", {computed})).ok());
}

TEST_F(RegistryTest, AReferencedDefinitionCannotBeDeleted) {
  ASSERT_TRUE(Put(MakeCohort("b", {EventCondition("x", 1)})).ok());
  ASSERT_TRUE(Put(MakeCohort("a", {CohortRef("b")})).ok());
  Status s = registry_->Delete("p", DefinitionKind::kCohort, "b");
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.message().find("cohort a"), std::string::npos) << s.message();
  ASSERT_TRUE(registry_->Delete("p", DefinitionKind::kCohort, "a").ok());
  ASSERT_TRUE(registry_->Delete("p", DefinitionKind::kCohort, "b").ok());
  EXPECT_TRUE(registry_->Delete("p", DefinitionKind::kCohort, "b").IsNotFound());
  EXPECT_TRUE(Catalog()->cohorts().empty());
  EXPECT_TRUE(Catalog()->specs().empty());
}

TEST_F(RegistryTest, ACohortIsServedAfterTheCohortsItReferences) {
  ASSERT_TRUE(Put(MakeCohort("b", {EventCondition("x", 1)})).ok());
  ASSERT_TRUE(Put(MakeCohort("a", {CohortRef("b")})).ok());
  ASSERT_EQ(Catalog()->cohorts().size(), 2u);
  EXPECT_EQ(Catalog()->cohorts()[0].definition.id, "b");
  EXPECT_EQ(Catalog()->cohorts()[1].definition.id, "a");
}

TEST_F(RegistryTest, ACohortWaitsForTheBackfillOfACohortItReferences) {
  ASSERT_TRUE(Put(MakeCohort("b", {EventCondition("x", 1)}), 42).ok());
  ASSERT_TRUE(Put(MakeCohort("a", {CohortRef("b")}), 42).ok());
  EXPECT_TRUE(Catalog()->cohorts().empty());
  FinishBackfill();
  EXPECT_EQ(Catalog()->cohorts().size(), 2u);
}

TEST_F(RegistryTest, AServedCohortKeepsServingWhileItsNewVersionWaitsForACohortItReferences) {
  ASSERT_TRUE(Put(MakeCohort("c1", {EventCondition("x", 1)})).ok());
  ASSERT_TRUE(Put(MakeCohort("c3", {EventCondition("y", 1)}), 42).ok());  // backfills
  ASSERT_TRUE(Put(MakeCohort("c1", {EventCondition("x", 1), CohortRef("c3")}), 50).ok());
  ASSERT_EQ(Catalog()->cohorts().size(), 1u);
  EXPECT_EQ(Catalog()->cohorts()[0].definition.id, "c1");
  EXPECT_EQ(Catalog()->cohorts()[0].definition.all_of[0].any_of.size(), 1u);  // the old version
  EXPECT_FALSE(Info(DefinitionKind::kCohort, "c1").ready);
  FinishBackfill();
  ASSERT_EQ(Catalog()->cohorts().size(), 2u);
  EXPECT_EQ(Catalog()->cohorts()[1].definition.all_of[0].any_of.size(), 2u);
  EXPECT_TRUE(Info(DefinitionKind::kCohort, "c1").ready);
}

TEST_F(RegistryTest, ACohortWaitsForTheBackfillOfAComputationItReferences) {
  ASSERT_TRUE(Put(Count(7, "Purchase"), 42).ok());
  CohortCondition computed;
  computed.kind = CohortCondition::Kind::kComputedProperty;
  computed.filter = {"7", compute::FilterOp::kNotSet, {}};
  ASSERT_TRUE(Put(MakeCohort("nonbuyers", {computed}), 42).ok());
  EXPECT_TRUE(Catalog()->cohorts().empty());
  EXPECT_FALSE(Info(DefinitionKind::kCohort, "nonbuyers").ready);
  FinishBackfill();
  EXPECT_EQ(Catalog()->cohorts().size(), 1u);
  EXPECT_TRUE(Info(DefinitionKind::kCohort, "nonbuyers").ready);
}

TEST_F(RegistryTest, ACycleThroughAnOlderServedVersionIsRefused) {
  ASSERT_TRUE(Put(MakeCohort("x1", {EventCondition("a", 1)})).ok());
  ASSERT_TRUE(Put(MakeCohort("x2", {CohortRef("x1")})).ok());
  // x2's new version drops the reference but backfills; its served version still has it.
  ASSERT_TRUE(Put(MakeCohort("x2", {EventCondition("b", 1)}), 42).ok());
  Status s = Put(MakeCohort("x1", {CohortRef("x2")}));
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.message().find("cycle"), std::string::npos) << s.message();
  EXPECT_EQ(Catalog()->cohorts().size(), 2u);
}

TEST_F(RegistryTest, DefinitionsAndBackfillCursorsSurviveARestart) {
  ASSERT_TRUE(Put(Count(7, "Purchase")).ok());
  ASSERT_TRUE(Put(MakeCohort("c", {EventCondition("Signup", 1)}), 42).ok());
  auto job = registry_->NextBackfill();
  store::WriteSet writes;
  registry_->StageBackfill(*job, "cursor-1", 10, false, &writes);
  ASSERT_TRUE(store_->Commit(writes, true).ok());
  registry_->CommitStaged(true);
  uint64_t spec7 = Catalog()->computations()[0].spec_id;

  compute::CatalogHolder catalogs;
  auto reopened = NewRegistry(&catalogs);
  ASSERT_TRUE(reopened->Load({"p"}).ok());
  auto catalog = catalogs.Get("p");
  ASSERT_EQ(catalog->computations().size(), 1u);
  EXPECT_EQ(catalog->computations()[0].spec_id, spec7);
  EXPECT_TRUE(catalog->cohorts().empty());
  auto resumed = reopened->NextBackfill();
  ASSERT_TRUE(resumed.has_value());
  EXPECT_EQ(resumed->cursor, "cursor-1");
  EXPECT_EQ(resumed->until_seq, 42u);
  EXPECT_EQ(reopened->List("p", DefinitionKind::kCohort).size(), 1u);
}

TEST_F(RegistryTest, ADefinitionThatNoLongerParsesIsLeftAsStored) {
  ASSERT_TRUE(Put(Count(7, "Purchase")).ok());
  ASSERT_TRUE(Put(Count(8, "Signup")).ok());
  std::map<std::string, Definition> all = sources_;
  for (auto it = sources_.begin(); it != sources_.end();) {  // 7's source no longer parses
    it = it->second.id == "7" ? sources_.erase(it) : std::next(it);
  }
  {
    compute::CatalogHolder catalogs;
    auto reopened = NewRegistry(&catalogs);
    ASSERT_TRUE(reopened->Load({"p"}).ok());
    EXPECT_EQ(reopened->List("p", DefinitionKind::kComputation).size(), 1u);
    // A change of another definition leaves 7's records alone.
    ASSERT_TRUE(reopened->Put("p", Def(Count(9, "Visit")), 0).ok());
  }
  sources_ = all;
  compute::CatalogHolder catalogs;
  auto fixed = NewRegistry(&catalogs);
  ASSERT_TRUE(fixed->Load({"p"}).ok());
  EXPECT_EQ(fixed->List("p", DefinitionKind::kComputation).size(),
            2u);  // 7 and 8 (9's source is gone)
  ASSERT_EQ(catalogs.Get("p")->computations().size(), 2u);
  EXPECT_EQ(catalogs.Get("p")->computations()[0].definition.id, 7u);
}

TEST_F(RegistryTest, AStaticAndABehavioralCohortNeverShareAnId) {
  Cohort vip;
  vip.id = "vip";
  vip.is_static = true;
  ASSERT_TRUE(Put(vip).ok());
  Status s = Put(MakeCohort("vip", {EventCondition("x", 1)}));
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.message().find("static"), std::string::npos) << s.message();
  ASSERT_TRUE(Put(MakeCohort("buyers", {EventCondition("x", 1)})).ok());
  Cohort over;
  over.id = "buyers";
  over.is_static = true;
  EXPECT_EQ(Put(over).code(), ErrorCode::kInvalidArgument);
}

TEST_F(RegistryTest, ProjectsDoNotSeeEachOthersDefinitions) {
  ASSERT_TRUE(Put(Count(7, "Purchase")).ok());
  EXPECT_TRUE(registry_->List("q", DefinitionKind::kComputation).empty());
  DefinitionInfo info;
  EXPECT_TRUE(registry_->Get("q", DefinitionKind::kComputation, "7", &info).IsNotFound());
  EXPECT_TRUE(catalogs_.Get("q")->computations().empty());
}

TEST_F(RegistryTest, ListsComputationsInNumericOrder) {
  for (uint64_t id : {10u, 9u, 100u}) ASSERT_TRUE(Put(Count(id, "x")).ok());
  auto list = registry_->List("p", DefinitionKind::kComputation);
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].id, "9");
  EXPECT_EQ(list[1].id, "10");
  EXPECT_EQ(list[2].id, "100");
}

TEST_F(RegistryTest, ARecommendationIsServedOnceItsHistoryIsBackfilled) {
  ASSERT_TRUE(Put(Rec("movies"), 42).ok());
  DefinitionInfo info = Info(DefinitionKind::kRecommendation, "movies");
  EXPECT_FALSE(info.ready);
  EXPECT_EQ(info.kind, DefinitionKind::kRecommendation);
  EXPECT_TRUE(Catalog()->recommendations().empty());
  ASSERT_EQ(Catalog()->specs().size(), 1u);  // the history is live while it backfills
  EXPECT_EQ(Catalog()->specs()[0].spec.metric, compute::Metric::kItems);
  EXPECT_FALSE(Catalog()->specs()[0].ready);
  ASSERT_TRUE(registry_->NextBackfill().has_value());
  FinishBackfill();
  EXPECT_TRUE(Info(DefinitionKind::kRecommendation, "movies").ready);
  ASSERT_EQ(Catalog()->recommendations().size(), 1u);
  const compute::ServedRecommendation& served = Catalog()->recommendations()[0];
  EXPECT_EQ(served.definition.id, "movies");
  EXPECT_EQ(served.spec_id, Catalog()->specs()[0].id);
  EXPECT_EQ(Catalog()->FindRecommendation("movies"), 0u);
  EXPECT_EQ(Catalog()->RecommendationSpecIndex(0), 0u);
}

TEST_F(RegistryTest, RecommendationsWithTheSameHistoryShareItsStateAndNeedNoBackfill) {
  ASSERT_TRUE(Put(Rec("a"), 42).ok());
  FinishBackfill();
  ASSERT_TRUE(Put(Rec("b", "Movie Rated", "popular"), 50).ok());  // another model, same history
  EXPECT_TRUE(Info(DefinitionKind::kRecommendation, "b").ready);
  ASSERT_TRUE(Put(Rec("a", "Movie Rated", "itemknn"), 60).ok());  // a changed model
  EXPECT_TRUE(Info(DefinitionKind::kRecommendation, "a").ready);
  ASSERT_EQ(Catalog()->specs().size(), 1u);
  ASSERT_EQ(Catalog()->recommendations().size(), 2u);
  EXPECT_EQ(Catalog()->recommendations()[0].definition.model, "itemknn");
  EXPECT_EQ(Catalog()->recommendations()[0].spec_id, Catalog()->recommendations()[1].spec_id);
}

TEST_F(RegistryTest, AChangedHistoryKeepsServingTheOldVersionUntilItIsBackfilled) {
  ASSERT_TRUE(Put(Rec("movies")).ok());
  ASSERT_TRUE(Put(Rec("movies", "Movie Watched"), 42).ok());
  EXPECT_FALSE(Info(DefinitionKind::kRecommendation, "movies").ready);
  ASSERT_EQ(Catalog()->recommendations().size(), 1u);
  EXPECT_EQ(Catalog()->recommendations()[0].definition.item_event, "Movie Rated");
  FinishBackfill();
  ASSERT_EQ(Catalog()->recommendations().size(), 1u);
  EXPECT_EQ(Catalog()->recommendations()[0].definition.item_event, "Movie Watched");
  EXPECT_EQ(Catalog()->specs().size(), 1u);  // the old history is no longer used
}

TEST_F(RegistryTest, RecommendationsAreListedGotAndDeletedByTheirOwnKind) {
  ASSERT_TRUE(Put(Rec("songs")).ok());
  ASSERT_TRUE(Put(Rec("7")).ok());
  // Ids are per kind: a cohort "songs", and a cohort that references computation 7.
  ASSERT_TRUE(Put(MakeCohort("songs", {EventCondition("x", 1)})).ok());
  ASSERT_TRUE(Put(Count(7, "x")).ok());
  CohortCondition computed;
  computed.kind = CohortCondition::Kind::kComputedProperty;
  computed.filter = {"7", compute::FilterOp::kSet, {}};
  ASSERT_TRUE(Put(MakeCohort("c", {computed})).ok());
  std::vector<DefinitionInfo> list = registry_->List("p", DefinitionKind::kRecommendation);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].id, "7");
  EXPECT_EQ(list[1].id, "songs");
  EXPECT_EQ(registry_->List("p", DefinitionKind::kCohort).size(), 2u);
  DefinitionInfo info;
  ASSERT_TRUE(registry_->Get("p", DefinitionKind::kRecommendation, "songs", &info).ok());
  EXPECT_EQ(info.kind, DefinitionKind::kRecommendation);
  EXPECT_TRUE(registry_->Get("p", DefinitionKind::kRecommendation, "c", &info).IsNotFound());
  // Nothing references a recommendation, whatever its id.
  ASSERT_TRUE(registry_->Delete("p", DefinitionKind::kRecommendation, "7").ok());
  ASSERT_TRUE(registry_->Delete("p", DefinitionKind::kRecommendation, "songs").ok());
  EXPECT_TRUE(registry_->Delete("p", DefinitionKind::kRecommendation, "songs").IsNotFound());
  EXPECT_TRUE(Catalog()->recommendations().empty());
  EXPECT_EQ(Catalog()->cohorts().size(), 2u);
  EXPECT_EQ(Catalog()->specs().size(), 2u);  // the cohort's and the computation's
}

TEST_F(RegistryTest, RecommendationsSurviveARestart) {
  ASSERT_TRUE(Put(Rec("movies")).ok());
  ASSERT_TRUE(Put(Rec("shows", "Show Watched"), 42).ok());
  uint64_t history = Catalog()->recommendations()[0].spec_id;
  compute::CatalogHolder catalogs;
  auto reopened = NewRegistry(&catalogs);
  ASSERT_TRUE(reopened->Load({"p"}).ok());
  auto catalog = catalogs.Get("p");
  ASSERT_EQ(catalog->recommendations().size(), 1u);
  EXPECT_EQ(catalog->recommendations()[0].definition.id, "movies");
  EXPECT_EQ(catalog->recommendations()[0].spec_id, history);
  EXPECT_EQ(reopened->List("p", DefinitionKind::kRecommendation).size(), 2u);
  ASSERT_TRUE(reopened->NextBackfill().has_value());
}

}  // namespace
}  // namespace profiled::ingest
