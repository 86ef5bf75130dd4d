#include "ingest/builtins.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace profiled::ingest {
namespace {

namespace json = boost::json;

TEST(Builtins, DeviceGroupIsReplacedWhole) {
  json::object b =
      json::parse(R"({"platform":"iOS","os_name":"ios","device_model":"iPhone"})").as_object();
  BuiltinUpdate u;
  u.device["platform"] = "Web";
  ApplyBuiltins(u, &b);
  EXPECT_EQ(b, json::parse(R"({"platform":"Web"})").as_object());
}

TEST(Builtins, LocationGroupIsReplacedWholeAndOthersStay) {
  json::object b =
      json::parse(R"({"country":"France","city":"Paris","platform":"Web"})").as_object();
  BuiltinUpdate u;
  u.location["country"] = "Germany";
  u.location["region"] = "Berlin";
  ApplyBuiltins(u, &b);
  EXPECT_EQ(b,
            json::parse(R"({"platform":"Web","country":"Germany","region":"Berlin"})").as_object());
}

TEST(Builtins, LanguageTagsBecomeNames) {
  EXPECT_EQ(LanguageName("en-US"), "English");
  EXPECT_EQ(LanguageName("fr"), "French");
  EXPECT_EQ(LanguageName("PT_br"), "Portuguese");
  EXPECT_EQ(LanguageName("Klingon"), "Klingon");
  json::object b;
  BuiltinUpdate u;
  u.single["language"] = "de-DE";
  ApplyBuiltins(u, &b);
  EXPECT_EQ(b.at("language"), "German");
}

TEST(Builtins, StartVersionIsTheFirstAppVersion) {
  json::object b;
  BuiltinUpdate u;
  u.single["app_version"] = "1.0";
  ApplyBuiltins(u, &b);
  u.single["app_version"] = "2.0";
  ApplyBuiltins(u, &b);
  EXPECT_EQ(b.at("app_version"), "2.0");
  EXPECT_EQ(b.at("start_version"), "1.0");
}

TEST(Builtins, ActivityTracksFirstAndLastDates) {
  json::object b;
  RecordActivity(1767225600000, &b);  // 2026-01-01
  RecordActivity(1767398400000, &b);  // 2026-01-03
  RecordActivity(1767312000000, &b);  // 2026-01-02, late
  RecordActivity(1767139200000, &b);  // 2025-12-31, late
  EXPECT_EQ(b.at("first_used"), "2025-12-31");
  EXPECT_EQ(b.at("last_used"), "2026-01-03");
}

TEST(Builtins, ActivityDatesAreUtcCalendarDatesFromTheEpochToYear9999) {
  struct Case {
    int64_t time_ms;
    const char* date;
  };
  for (Case c : {Case{0, "1970-01-01"}, Case{86399999, "1970-01-01"}, Case{86400000, "1970-01-02"},
                 Case{951782400000, "2000-02-29"}, Case{951868799999, "2000-02-29"},
                 Case{4107542400000, "2100-03-01"}, Case{1767225599999, "2025-12-31"},
                 Case{253402300799999, "9999-12-31"}}) {
    json::object b;
    RecordActivity(c.time_ms, &b);
    EXPECT_EQ(b.at("first_used"), c.date) << c.time_ms;
    EXPECT_EQ(b.at("last_used"), c.date) << c.time_ms;
  }
}

}  // namespace
}  // namespace profiled::ingest
