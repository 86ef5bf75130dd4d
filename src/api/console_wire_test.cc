#include "api/console_wire.h"

#include <gtest/gtest.h>

namespace profiled::api {
namespace {

Status Parse(std::string_view query, UserLookupQuery* q = nullptr) {
  UserLookupQuery local;
  return ParseUserLookupQuery(query, q != nullptr ? q : &local);
}

TEST(ParseUserLookupQuery, TakesEachIdKindWithTheDefaultWindow) {
  UserLookupQuery q;
  ASSERT_TRUE(Parse("user_id=u%201", &q).ok());
  EXPECT_EQ(q.user_id, "u 1");
  EXPECT_EQ(q.events_hours, 24);
  q = {};
  ASSERT_TRUE(Parse("device_id=d1&events_hours=168", &q).ok());
  EXPECT_EQ(q.device_id, "d1");
  EXPECT_EQ(q.events_hours, 168);
  q = {};
  ASSERT_TRUE(Parse("events_hours=1&amplitude_id=9223372036854775807", &q).ok());
  EXPECT_EQ(q.amplitude_id, 9223372036854775807u);
  EXPECT_EQ(q.events_hours, 1);
}

TEST(ParseUserLookupQuery, RefusesMalformedValuesNamingTheParameter) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "give exactly one of user_id, device_id, amplitude_id, got 0"},
      {"events_hours=2", "give exactly one of user_id, device_id, amplitude_id, got 0"},
      {"user_id=a&device_id=b", "give exactly one of user_id, device_id, amplitude_id, got 2"},
      {"user_id=a&amplitude_id=3", "give exactly one of user_id, device_id, amplitude_id, got 2"},
      {"user_id=", "user_id must not be empty"},
      {"device_id", "device_id must not be empty"},
      {"user_id=a&user_id=b", "user_id is given twice"},
      {"amplitude_id=0",
       "amplitude_id must be an integer from 1 to 9223372036854775807, got \"0\""},
      {"amplitude_id=-1",
       "amplitude_id must be an integer from 1 to 9223372036854775807, got \"-1\""},
      {"amplitude_id=%2B1",
       "amplitude_id must be an integer from 1 to 9223372036854775807, got \"+1\""},
      {"amplitude_id=1.5",
       "amplitude_id must be an integer from 1 to 9223372036854775807, got \"1.5\""},
      {"amplitude_id=9223372036854775808",
       "amplitude_id must be an integer from 1 to 9223372036854775807, got "
       "\"9223372036854775808\""},
      {"amplitude_id=abc",
       "amplitude_id must be an integer from 1 to 9223372036854775807, got \"abc\""},
      {"amplitude_id=", "amplitude_id must be an integer from 1 to 9223372036854775807, got \"\""},
      {"user_id=a&events_hours=0", "events_hours must be an integer from 1 to 168, got \"0\""},
      {"user_id=a&events_hours=169", "events_hours must be an integer from 1 to 168, got \"169\""},
      {"user_id=a&events_hours=24h", "events_hours must be an integer from 1 to 168, got \"24h\""},
      {"user_id=a&events_hours=%201", "events_hours must be an integer from 1 to 168, got \" 1\""},
      {"user_id=a&events_hours=", "events_hours must be an integer from 1 to 168, got \"\""},
      {"user_id=a&events_hours=2&events_hours=3", "events_hours is given twice"},
      {"user_id=a&limit=5",
       "unknown parameter \"limit\": the lookup takes one of user_id, device_id, amplitude_id, "
       "and events_hours"},
      {"user_id=%zz", "malformed query string"},
  };
  for (const auto& [query, message] : cases) {
    Status s = Parse(query);
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument) << query;
    EXPECT_EQ(s.message(), message) << query;
  }
}

TEST(ParseUserLookupQuery, RefusesAnIdLongerThanIngestionAccepts) {
  UserLookupQuery q;
  const std::string longest(1024, 'u');
  ASSERT_TRUE(Parse("user_id=" + longest, &q).ok());
  EXPECT_EQ(q.user_id, longest);
  Status s = Parse("user_id=" + longest + "u");
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "user_id is longer than 1024 characters: no event can have it");
  EXPECT_EQ(Parse("device_id=" + std::string(5000, 'd')).message(),
            "device_id is longer than 1024 characters: no event can have it");
}

TEST(ParseStatsQuery, TakesProjectAndSince) {
  StatsQuery q;
  ASSERT_TRUE(ParseStatsQuery("", &q).ok());
  EXPECT_EQ(q.project, "");
  EXPECT_EQ(q.since, -1);
  ASSERT_TRUE(ParseStatsQuery("project=my%20app&since=1796055730", &q).ok());
  EXPECT_EQ(q.project, "my app");
  EXPECT_EQ(q.since, 1796055730);
  q = {};
  ASSERT_TRUE(ParseStatsQuery("since=0", &q).ok());
  EXPECT_EQ(q.since, 0);
}

TEST(ParseStatsQuery, RefusesMalformedValuesNamingTheParameter) {
  const std::pair<const char*, const char*> cases[] = {
      {"project=", "project must not be empty"},
      {"project=a&project=b", "project is given twice"},
      {"since=-1", "since must be an integer from 0 to 100000000000 (Unix seconds), got \"-1\""},
      {"since=1.5", "since must be an integer from 0 to 100000000000 (Unix seconds), got \"1.5\""},
      {"since=", "since must be an integer from 0 to 100000000000 (Unix seconds), got \"\""},
      {"since=100000000001",
       "since must be an integer from 0 to 100000000000 (Unix seconds), got \"100000000001\""},
      {"since=1&since=2", "since is given twice"},
      {"x=1", "unknown parameter \"x\": the stats take project and since"},
      {"project=%zz", "malformed query string"},
  };
  for (const auto& [query, message] : cases) {
    StatsQuery q;
    Status s = ParseStatsQuery(query, &q);
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument) << query;
    EXPECT_EQ(s.message(), message) << query;
  }
}

TEST(ParseNoQuery, RefusesAnyParameterNamingIt) {
  EXPECT_TRUE(ParseNoQuery("", "GET /admin/v1/projects").ok());
  EXPECT_TRUE(ParseNoQuery("&", "GET /admin/v1/projects").ok());
  Status s = ParseNoQuery("x=1", "GET /admin/v1/projects");
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "unknown parameter \"x\": GET /admin/v1/projects takes no parameters");
  EXPECT_EQ(ParseNoQuery("%zz", "P").message(), "malformed query string");
}

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
  s.started_ms = 1796055000999;
  s.rate_seconds = 10;
  s.rates.push_back({1796055730000, 120.5, 40.123, 170.0});
  s.cohort_seconds = 300;
  // Ids in ring order; written in id order, a cohort not counted in a sample left out.
  s.cohorts["demo"].ids = {"c2", "c1", "gone"};
  s.cohorts["demo"].samples.push_back({1796055600999, {7, 42, read::CohortSample::kNotCounted}});
  s.cohorts["empty"];
  EXPECT_EQ(SerializeStats(s, 1796055740500),
            R"({"now":1796055740,"started":1796055000,"rates":{"interval_seconds":10,)"
            R"("samples":[{"t":1796055730,)"
            R"("events_ingested_per_second":120.5,"profile_reads_per_second":40.12,)"
            R"("requests_per_second":170}]},"cohort_sizes":{"demo":{"interval_seconds":300,)"
            R"("samples":[{"t":1796055600,"sizes":{"c1":42,"c2":7}}]},)"
            R"("empty":{"interval_seconds":300,"samples":[]}}})");
}

TEST(SerializeUserLookup, WritesTheProfileAndTheRecentEventsAsLogged) {
  read::UserData user;
  user.amplitude_id = 12;
  user.profile.user_id = "u1";
  user.profile.builtins_json = R"({"platform":"Web"})";
  user.profile.properties_json = R"({"plan":"pro"})";
  user.computed = {{7, compute::Value{int64_t{3}}}};
  user.cohort_ids = {"c1"};
  read::ServedRecommendation r;
  r.rec_id = "r1";
  r.items = {"a", "b"};
  r.type = "ease";
  user.recommendations.push_back(r);
  user.groups.push_back({"org", "acme", R"({"plan":"pro"})"});
  read::RecentEvents recent;
  recent.events.push_back(
      {12, 1796055740123, "Purchase",
       R"({"event_type":"Purchase","insert_id":"i1",)"
       R"("event_properties":{"price":5},"user_properties":{"$set":{"a":1}}})"});
  recent.events.push_back({12, 1796055740000, "", R"({"event_type":"Old","event_properties":3})"});
  recent.events_scanned = 1234;
  EXPECT_EQ(
      SerializeUserLookup(user, recent),
      R"({"amplitude_id":12,"user_id":"u1","device_id":null,"user_properties":{"plan":"pro"},)"
      R"("amp_props":{"platform":"Web"},"computed_properties":{"7":3},"cohort_ids":["c1"],)"
      R"("recommendations":[{"rec_id":"r1","items":["a","b"],"is_control":false,)"
      R"("recommendation_type":"ease"}],"groups":{"org":["acme"]},)"
      R"("group_properties":{"org":{"acme":{"plan":"pro"}}},"recent_events":[)"
      R"({"event_type":"Purchase","time":1796055740123,"insert_id":"i1",)"
      R"("event_properties":{"price":5},"user_properties":{"$set":{"a":1}}},)"
      R"({"event_type":"Old","time":1796055740000,"insert_id":null,"event_properties":{},)"
      R"("user_properties":{}}],"events_scanned":1234,"truncated":false})");
}

}  // namespace
}  // namespace profiled::api
