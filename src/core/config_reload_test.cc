#include "core/config_reload.h"

#include <gtest/gtest.h>

namespace profiled {
namespace {

Config Base() {
  Config c;
  c.admin_token = "admin-1";
  c.storage.redis_password = "hunter2";
  c.projects.push_back({"a", "ka", "sa", ProfileDialect::kSeed, {}});
  c.projects.push_back({"b", "kb", "sb", ProfileDialect::kSeed, {}});
  return c;
}

TEST(PlanReload, TheSameConfigChangesNothing) {
  ReloadPlan plan = PlanReload(Base(), Base());
  EXPECT_TRUE(plan.needs_restart.empty());
  EXPECT_TRUE(plan.changed.empty());
  EXPECT_TRUE(plan.added_projects.empty());
  EXPECT_TRUE(plan.removed_projects.empty());
  EXPECT_TRUE(plan.rekeyed_projects.empty());
}

TEST(PlanReload, KeysProjectsAndLimitsTakeEffect) {
  Config next = Base();
  next.admin_token = "admin-2";
  next.projects[0].secret_key.clear();
  next.projects[0].secret_keys = {"sa", "sa-2"};
  next.projects.erase(next.projects.begin() + 1);
  next.projects.push_back({"c", "kc", "sc", ProfileDialect::kAmplitude, {}});
  next.ingest.throttle_events_per_second = 5;
  next.ingest.max_queued_events = 5000;
  next.server.idle_timeout_ms = 1000;
  ReloadPlan plan = PlanReload(Base(), next);
  EXPECT_EQ(plan.config.admin_token, "admin-2");
  ASSERT_EQ(plan.config.projects.size(), 2u);
  EXPECT_EQ(plan.config.projects[1].id, "c");
  EXPECT_EQ(plan.config.ingest.throttle_events_per_second, 5);
  EXPECT_EQ(plan.config.ingest.max_queued_events, 5000);
  EXPECT_EQ(plan.config.server.idle_timeout_ms, 1000);
  EXPECT_EQ(plan.added_projects, std::vector<std::string>{"c"});
  EXPECT_EQ(plan.removed_projects, std::vector<std::string>{"b"});
  EXPECT_EQ(plan.rekeyed_projects, std::vector<std::string>{"a"});
  EXPECT_EQ(plan.changed, (std::vector<std::string>{"admin_token", "server.idle_timeout_ms",
                                                    "ingest.throttle_events_per_second",
                                                    "ingest.max_queued_events"}));
  EXPECT_TRUE(plan.needs_restart.empty());
}

TEST(PlanReload, StartUpSettingsStayAsTheyRunAndAreNamedWithoutTheirValues) {
  Config next = Base();
  next.server.port = 9999;
  next.server.threads = 7;
  next.server.max_body_memory_mb = 64;
  next.storage.path = "/elsewhere";
  next.storage.backend = "redis-cluster";
  next.storage.redis_password = "correct-horse";
  next.ingest.dedup_window_days = 1;
  next.console.rate_sample_seconds = 1;
  next.console.cohort_sample_seconds = 0;
  next.testing.clock_control = true;
  ReloadPlan plan = PlanReload(Base(), next);
  EXPECT_EQ(plan.needs_restart, (std::vector<std::string>{
                                    "server.listen", "server.threads", "server.max_body_memory_mb",
                                    "storage.backend", "storage.path", "storage.redis_password",
                                    "ingest.dedup_window_days", "console.rate_sample_seconds",
                                    "console.cohort_sample_seconds", "testing.clock_control"}));
  const Config running = Base();
  EXPECT_EQ(plan.config.server.port, running.server.port);
  EXPECT_EQ(plan.config.server.threads, running.server.threads);
  EXPECT_EQ(plan.config.storage.path, running.storage.path);
  EXPECT_EQ(plan.config.storage.backend, running.storage.backend);
  EXPECT_EQ(plan.config.storage.redis_password, "hunter2");
  EXPECT_EQ(plan.config.ingest.dedup_window_days, running.ingest.dedup_window_days);
  EXPECT_EQ(plan.config.console.rate_sample_seconds, running.console.rate_sample_seconds);
  EXPECT_EQ(plan.config.console.cohort_sample_seconds, running.console.cohort_sample_seconds);
  EXPECT_FALSE(plan.config.testing.clock_control);
  for (const std::string& name : plan.needs_restart) {
    EXPECT_EQ(name.find("hunter2"), std::string::npos);
    EXPECT_EQ(name.find("correct-horse"), std::string::npos);
  }
}

TEST(PlanReload, ADialectChangeIsNamedAsTheProjects) {
  Config next = Base();
  next.projects[1].dialect = ProfileDialect::kAmplitude;
  ReloadPlan plan = PlanReload(Base(), next);
  EXPECT_EQ(plan.changed, std::vector<std::string>{"projects.b"});
  EXPECT_TRUE(plan.rekeyed_projects.empty());
}

TEST(PlanReload, TheLimitsThatProtectTheStoreTakeEffectAndAreNamed) {
  Config next = Base();
  next.projects[0].events_per_second = 100;
  next.projects[1].profile_reads_per_minute = 600;
  next.definitions.max_cohorts = 5;
  next.definitions.max_recommendations = 7;
  ReloadPlan plan = PlanReload(Base(), next);
  EXPECT_TRUE(plan.needs_restart.empty());
  EXPECT_EQ(plan.changed,
            (std::vector<std::string>{"definitions.max_cohorts", "definitions.max_recommendations",
                                      "projects.a", "projects.b"}));
  EXPECT_EQ(plan.config.projects[0].events_per_second, 100);
  EXPECT_EQ(plan.config.projects[1].profile_reads_per_minute, 600);
  EXPECT_EQ(plan.config.definitions.max_cohorts, 5);
}

}  // namespace
}  // namespace profiled
