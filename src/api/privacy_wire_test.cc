#include "api/privacy_wire.h"

#include <gtest/gtest.h>

#include <string>

namespace profiled::api {
namespace {

using ingest::DeletionRequest;

TEST(PrivacyWire, ReadsAJsonRequest) {
  DeletionRequest r;
  ASSERT_TRUE(ParseDeletionRequest("application/json",
                                   R"({"amplitude_ids":[12,"34"],"user_ids":["a@b","c"],)"
                                   R"("requester":"dpo@example.com","ignore_invalid_ids":true,)"
                                   R"("delete_from_org":false,"include_mapped_user_ids":true})",
                                   &r)
                  .ok());
  EXPECT_EQ(r.amplitude_ids, (std::vector<uint64_t>{12, 34}));
  EXPECT_EQ(r.user_ids, (std::vector<std::string>{"a@b", "c"}));
  EXPECT_EQ(r.requester, "dpo@example.com");
  EXPECT_TRUE(r.ignore_invalid_ids);
}

TEST(PrivacyWire, ReadsAFormWithRepeatedIds) {
  DeletionRequest r;
  ASSERT_TRUE(ParseDeletionRequest("application/x-www-form-urlencoded",
                                   "amplitude_ids=1&amplitude_ids=2&user_ids=u%201&requester=x%40y",
                                   &r)
                  .ok());
  EXPECT_EQ(r.amplitude_ids, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(r.user_ids, (std::vector<std::string>{"u 1"}));
  EXPECT_EQ(r.requester, "x@y");
  EXPECT_FALSE(r.ignore_invalid_ids);
  // A JSON body is recognised by its brace whatever the content type says.
  DeletionRequest j;
  ASSERT_TRUE(ParseDeletionRequest("text/plain", R"( {"user_ids":["z"]})", &j).ok());
  EXPECT_EQ(j.user_ids, (std::vector<std::string>{"z"}));
}

TEST(PrivacyWire, RefusalsNameTheField) {
  std::string many_ids = "[";
  std::string many_users = "[";
  for (int i = 1; i <= 101; ++i) {
    many_ids += (i > 1 ? "," : "") + std::to_string(i);
    many_users += (i > 1 ? ",\"u" : "\"u") + std::to_string(i) + "\"";
  }
  many_ids += "]";
  many_users += "]";
  const std::pair<std::string, std::string> cases[] = {
      {R"({"amplitude_ids":)" + many_ids + "}", "amplitude_ids: at most 100"},
      {R"({"user_ids":)" + many_users + "}", "user_ids: at most 100"},
      {R"({"amplitude_ids":[0]})", "amplitude_ids: 0 is not a positive integer"},
      {R"({"amplitude_ids":[-3]})", "amplitude_ids: -3 is not a positive integer"},
      {R"({"amplitude_ids":[2.5]})", "amplitude_ids: 2.5 is not a positive integer"},
      {R"({"amplitude_ids":["7x"]})", "amplitude_ids: \"7x\" is not a positive integer"},
      {R"({"amplitude_ids":7})", "amplitude_ids: expected an array"},
      {R"({"user_ids":[""]})", "user_ids: an id is empty"},
      {R"({"user_ids":[1]})", "user_ids: every id must be a string"},
      {R"({"user_ids":["a"],"requester":5})", "requester: expected a string"},
      {R"({"user_ids":["a"],"ignore_invalid_ids":"maybe"})", "ignore_invalid_ids"},
      {R"({"user_ids":["a"],"delete_from_org":true})", "delete_from_org: not supported"},
      {R"({"requester":"x"})", "at least one id"},
      {R"({"user_ids":)", "not a JSON object"},
      {"amplitude_ids=1&amplitude_ids=x", "amplitude_ids: \"x\""},
      {"user_ids=%zz", "neither JSON nor a well-formed form"},
  };
  for (const auto& [body, message] : cases) {
    DeletionRequest r;
    Status s = ParseDeletionRequest("", body, &r);
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument) << body;
    EXPECT_NE(s.message().find(message), std::string::npos) << body << " -> " << s.message();
  }
}

TEST(PrivacyWire, ARequesterOver256BytesIsRefusedInJsonAndForms) {
  const std::string at_limit(kMaxRequesterBytes, 'r');
  const std::string over(kMaxRequesterBytes + 1, 'r');
  DeletionRequest r;
  EXPECT_TRUE(ParseDeletionRequest("application/json",
                                   R"({"user_ids":["u"],"requester":")" + at_limit + R"("})", &r)
                  .ok());
  for (const auto& [type, body] :
       {std::pair<std::string, std::string>{"application/json",
                                            R"({"user_ids":["u"],"requester":")" + over + R"("})"},
        {"application/x-www-form-urlencoded", "user_ids=u&requester=" + over}}) {
    DeletionRequest refused;
    Status s = ParseDeletionRequest(type, body, &refused);
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument) << type;
    EXPECT_EQ(s.message(), "requester: at most 256 bytes") << type;
  }
}

TEST(PrivacyWire, ListQueriesNeedTwoDaysAtMostSixMonthsApart) {
  int64_t start = 0;
  int64_t end = 0;
  ASSERT_TRUE(ParseDeletionListQuery("start_day=2026-01-01&end_day=2026-07-04", &start, &end).ok());
  EXPECT_EQ(end - start, 184);
  for (const char* q :
       {"", "start_day=2026-01-01", "end_day=2026-01-01", "start_day=2026-01-01&end_day=2026-07-05",
        "start_day=2026-02-01&end_day=2026-01-31", "start_day=2026-02-30&end_day=2026-03-01",
        "start_day=x&end_day=y"}) {
    EXPECT_EQ(ParseDeletionListQuery(q, &start, &end).code(), ErrorCode::kInvalidArgument) << q;
  }
}

TEST(PrivacyWire, AJobIsWrittenAsAmplitudeShowsIt) {
  ingest::DeletionJob job;
  job.run_at_ms = 1764547200000;  // 2025-12-01
  job.status = ingest::DeletionStatus::kStaging;
  job.entries = {{42, "dpo@example.com", "2025-11-30"}};
  EXPECT_EQ(SerializeDeletionJob(job),
            R"({"day":"2025-12-01","status":"staging","amplitude_ids":[{"amplitude_id":42,)"
            R"("requester":"dpo@example.com","requested_on_day":"2025-11-30"}],)"
            R"("events_deleted":0})");
  EXPECT_EQ(SerializeDeletionJobs({}), "[]");
}

}  // namespace
}  // namespace profiled::api
