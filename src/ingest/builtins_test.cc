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

}  // namespace
}  // namespace profiled::ingest
