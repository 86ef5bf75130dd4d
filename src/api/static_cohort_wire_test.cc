#include "api/static_cohort_wire.h"

#include <gtest/gtest.h>

#include <string>

namespace profiled::api {
namespace {

using ingest::CohortIdType;
using ingest::StaticCohortChange;

Status Parse(StaticCohortRequest kind, std::string_view body, StaticCohortChange* out) {
  return ParseStaticCohortChange(kind, body, out);
}

TEST(StaticCohortWire, ReadsAnUploadWithStringAndNumberIds) {
  StaticCohortChange c;
  ASSERT_TRUE(Parse(StaticCohortRequest::kUpload,
                    R"({"name":"VIP","id_type":"BY_AMP_ID","ids":["7",8],)"
                    R"("existing_cohort_id":"c-1","skip_invalid_ids":false})",
                    &c)
                  .ok());
  EXPECT_TRUE(c.create);
  EXPECT_EQ(c.name, "VIP");
  EXPECT_EQ(c.cohort_id, "c-1");
  EXPECT_EQ(c.source, R"({"name":"VIP","static":true})");
  EXPECT_TRUE(c.refuse_unknown_ids);
  ASSERT_EQ(c.changes.size(), 1u);
  EXPECT_EQ(c.changes[0].id_type, CohortIdType::kAmplitudeId);
  EXPECT_TRUE(c.changes[0].add);
  EXPECT_EQ(c.changes[0].ids, (std::vector<std::string>{"7", "8"}));
}

TEST(StaticCohortWire, ReadsMembershipChangesInOrder) {
  StaticCohortChange c;
  ASSERT_TRUE(Parse(StaticCohortRequest::kMembership,
                    R"({"cohort_id":"c1","memberships":[)"
                    R"({"id_type":"BY_NAME","operation":"ADD","ids":["a"]},)"
                    R"({"id_type":"BY_ID","operation":"REMOVE","ids":[1]}]})",
                    &c)
                  .ok());
  EXPECT_FALSE(c.create);
  EXPECT_EQ(c.cohort_id, "c1");
  EXPECT_FALSE(c.refuse_unknown_ids);  // skip_invalid_ids defaults to true
  ASSERT_EQ(c.changes.size(), 2u);
  EXPECT_EQ(c.changes[0].id_type, CohortIdType::kUserId);
  EXPECT_TRUE(c.changes[0].add);
  EXPECT_EQ(c.changes[1].id_type, CohortIdType::kAmplitudeId);
  EXPECT_FALSE(c.changes[1].add);
  EXPECT_EQ(c.changes[1].ids, (std::vector<std::string>{"1"}));
}

TEST(StaticCohortWire, RefusalsNameTheField) {
  struct Case {
    StaticCohortRequest kind;
    const char* body;
    const char* message;
  };
  const Case cases[] = {
      {StaticCohortRequest::kUpload, "[1]", "the body must be a JSON object"},
      {StaticCohortRequest::kUpload, R"({"id_type":"BY_AMP_ID","ids":[]})",
       "name: a non-empty string is required"},
      {StaticCohortRequest::kUpload, R"({"name":"n","id_type":"BY_ID","ids":[]})",
       "id_type: one of BY_AMP_ID, BY_USER_ID"},
      {StaticCohortRequest::kUpload, R"({"name":"n","id_type":"BY_USER_ID","ids":[true]})",
       "body.ids must hold strings or integers"},
      {StaticCohortRequest::kUpload,
       R"({"name":"n","id_type":"BY_USER_ID","ids":[],"existing_cohort_id":"a b"})",
       "existing_cohort_id: 1 to 128 characters of A-Z, a-z, 0-9, '_', '.' and '-'"},
      {StaticCohortRequest::kMembership, R"({"memberships":[]})",
       "cohort_id: a non-empty string is required"},
      {StaticCohortRequest::kMembership, R"({"cohort_id":"c","memberships":[]})",
       "memberships: a non-empty array is required"},
      {StaticCohortRequest::kMembership,
       R"({"cohort_id":"c","memberships":[{"id_type":"BY_ID","operation":"ADD","ids":[]},)"
       R"({"id_type":"BY_ID","operation":"KEEP","ids":[]}]})",
       "memberships[1].operation: one of ADD, REMOVE"},
  };
  for (const Case& c : cases) {
    StaticCohortChange out;
    Status s = Parse(c.kind, c.body, &out);
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument) << c.body;
    EXPECT_EQ(s.message(), c.message) << c.body;
  }
}

TEST(StaticCohortWire, RefusesMoreIdsThanAmplitudeTakesInOneRequest) {
  std::string ids;
  for (size_t i = 0; i <= ingest::kMaxStaticCohortIds / 2; ++i) ids += i == 0 ? "1" : ",1";
  std::string entry = R"({"id_type":"BY_ID","operation":"ADD","ids":[)" + ids + "]}";
  StaticCohortChange out;
  Status s = Parse(StaticCohortRequest::kMembership,
                   R"({"cohort_id":"c","memberships":[)" + entry + "," + entry + "]}", &out);
  EXPECT_EQ(s.message(), "at most 100000 ids per request");
}

}  // namespace
}  // namespace profiled::api
