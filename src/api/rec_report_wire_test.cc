#include "api/rec_report_wire.h"

#include <gtest/gtest.h>

namespace profiled::api {
namespace {

TEST(RecReportQuery, TakesTheConversionEventAndDaysWithSevenByDefault) {
  RecReportQuery q;
  ASSERT_TRUE(ParseRecReportQuery("conversion_event=Order%20Completed", &q).ok());
  EXPECT_EQ(q.conversion_event, "Order Completed");
  EXPECT_EQ(q.days, 7);
  ASSERT_TRUE(ParseRecReportQuery("days=90&conversion_event=Purchase", &q).ok());
  EXPECT_EQ(q.days, 90);
  EXPECT_EQ(q.conversion_event, "Purchase");
}

TEST(RecReportQuery, RefusesAMissingOrMeaninglessConversionEventNamingIt) {
  RecReportQuery q;
  for (const char* query :
       {"", "days=3", "conversion_event=", "conversion_event=%5BRecs%5D%20Recommendation%20Event",
        "conversion_event=%24identify", "conversion_event=%24groupidentify",
        "conversion_event=a&conversion_event=b"}) {
    Status s = ParseRecReportQuery(query, &q);
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument) << query;
    EXPECT_NE(s.message().find("conversion_event"), std::string::npos) << s.message();
  }
  EXPECT_FALSE(ParseRecReportQuery("conversion_event=" + std::string(1025, 'x'), &q).ok());
  EXPECT_TRUE(ParseRecReportQuery("conversion_event=" + std::string(1024, 'x'), &q).ok());
}

TEST(RecReportQuery, RefusesDaysOutsideOneToNinetyAndUnknownParameters) {
  RecReportQuery q;
  for (const char* days : {"0", "91", "-1", "1.5", "x", "", "7x"}) {
    Status s = ParseRecReportQuery(std::string("conversion_event=P&days=") + days, &q);
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument) << days;
    EXPECT_NE(s.message().find("days"), std::string::npos) << s.message();
  }
  Status s = ParseRecReportQuery("conversion_event=P&day=3", &q);
  EXPECT_NE(s.message().find("day"), std::string::npos) << s.message();
  EXPECT_FALSE(ParseRecReportQuery("conversion_event=%zz", &q).ok());
}

TEST(RecReportJson, WritesBothGroupsTheLiftAndNullWithoutOne) {
  ingest::RecReport r;
  r.control = {4, 9, 1};
  r.treatment = {10, 20, 5};
  r.lift = 1.0;
  r.events_scanned = 123;
  RecReportQuery q{"Purchase", 7};
  EXPECT_EQ(RecReportJson("r1", q, 1'795'450'940'123, r),
            R"({"rec_id":"r1","conversion_event":"Purchase","days":7,"since":1795450940,)"
            R"("control":{"users":4,"exposures":9,"converted_users":1,"conversion_rate":0.25},)"
            R"("treatment":{"users":10,"exposures":20,"converted_users":5,"conversion_rate":0.5},)"
            R"("lift":1,"events_scanned":123,"truncated":false})");
  r.lift.reset();
  EXPECT_NE(RecReportJson("r1", q, 0, r).find(R"("lift":null)"), std::string::npos);
}

}  // namespace
}  // namespace profiled::api
