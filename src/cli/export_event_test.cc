#include "cli/export_event.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace profiled::cli {
namespace {

namespace json = boost::json;

json::value EventOf(const LineVerdict& v) {
  EXPECT_TRUE(v.event.has_value()) << LineProblemName(v.problem) << " " << v.detail;
  return v.event ? json::parse(v.event->json) : json::value();
}

TEST(ParseExportTime, ReadsAmplitudesFormatInUtcToTheMillisecond) {
  EXPECT_EQ(ParseExportTime("1970-01-01 00:00:00"), 0);
  EXPECT_EQ(ParseExportTime("2024-03-05 14:07:09.123456"), 1709647629123);
  EXPECT_EQ(ParseExportTime("2024-03-05 14:07:09.1"), 1709647629100);
  EXPECT_EQ(ParseExportTime("2024-03-05T14:07:09.999999Z"), 1709647629999);
  EXPECT_EQ(ParseExportTime("2024-02-29 00:00:00"), 1709164800000);
  EXPECT_EQ(ParseExportTime("2000-02-29 23:59:59.5"), 951868799500);
  // ISO-8601 zones: the same instant written in other zones.
  EXPECT_EQ(ParseExportTime("2024-03-05T16:07:09.123+02:00"), 1709647629123);
  EXPECT_EQ(ParseExportTime("2024-03-05T09:37:09.123-0430"), 1709647629123);
  EXPECT_EQ(ParseExportTime("2024-03-05T15:07:09.123+01"), 1709647629123);
}

TEST(ParseExportTime, RefusesWhatIsNotATime) {
  for (const char* bad :
       {"", "2024-03-05", "2024-03-05 14:07", "2023-02-29 00:00:00", "2024-13-01 00:00:00",
        "2024-01-32 00:00:00", "2024-01-01 24:00:00", "2024-01-01 00:60:00", "2024-01-01 00:00:00.",
        "2024-01-01 00:00:00+1", "2024-01-01 00:00:00+01:6", "2024-01-01 00:00:00+24:00",
        "1970-01-01 00:00:00+01:00", "2024-01-01 00:00:00Z ", "1969-12-31 23:59:59",
        "2024/01/01 00:00:00", "2024-01-01 00:00:0x"}) {
    EXPECT_FALSE(ParseExportTime(bad).has_value()) << bad;
  }
}

TEST(MapExportLine, MapsEachExportFieldToItsHttpV2Field) {
  const std::string line = R"({"event_type":"Play","user_id":"user-1","device_id":"dev-1",
    "amplitude_id":123456,"event_time":"2024-03-05 14:07:09.123456",
    "client_event_time":"2024-03-05 14:07:08.000000","server_upload_time":"2024-03-05 14:07:10.0",
    "$insert_id":"ins-1","uuid":"u-u-i-d","event_id":17,"session_id":1709647620000,
    "platform":"iOS","os_name":"ios","os_version":"17.1","device_brand":"Apple",
    "device_manufacturer":"Apple","device_model":"iPhone15,2","device_carrier":"Vodafone",
    "country":"Germany","region":"Berlin","city":"Berlin","dma":null,"language":"German",
    "app_version":"2.3.4","version_name":"2.3","library":"amplitude-ios/8.0.0",
    "ip_address":"10.1.2.3","location_lat":"52.52","location_lng":13.405,"idfa":"IDFA",
    "adid":null,"device_family":"Apple iPhone","device_type":"iPhone 14 Pro","data":{},
    "event_properties":{"song":"x","secs":1.5,"big":12345678901234567890},
    "user_properties":{"plan":"pro","visits":3,"tags":["a","b"]},
    "groups":{"org":"acme"},"group_properties":{"org":{"acme":{"size":10}}},
    "revenue":9.99,"price":null,"quantity":2,"is_attribution_event":false})";
  EXPECT_EQ(EventOf(MapExportLine(line, "fallback", UserPropertiesMode::kReplace)),
            json::parse(R"({"event_type":"Play","user_id":"user-1","device_id":"dev-1",
    "time":1709647629123,"insert_id":"ins-1","event_id":17,"session_id":1709647620000,
    "platform":"iOS","os_name":"ios","os_version":"17.1","device_brand":"Apple",
    "device_manufacturer":"Apple","device_model":"iPhone15,2","carrier":"Vodafone",
    "country":"Germany","region":"Berlin","city":"Berlin","language":"German",
    "app_version":"2.3.4","version_name":"2.3","library":"amplitude-ios/8.0.0",
    "ip":"10.1.2.3","location_lat":52.52,"location_lng":13.405,"idfa":"IDFA",
    "event_properties":{"song":"x","secs":1.5,"big":12345678901234567890},
    "user_properties":{"$clearAll":"-","$set":{"plan":"pro","visits":3,"tags":["a","b"]}},
    "groups":{"org":"acme"},"revenue":9.99,"quantity":2})"));
}

TEST(MapExportLine, UserPropertiesFollowTheMode) {
  const std::string line =
      R"({"event_type":"e","user_id":"user-1","event_time":"2024-01-01 00:00:00",)"
      R"("user_properties":{"a":1}})";
  const std::string empty =
      R"({"event_type":"e","user_id":"user-1","event_time":"2024-01-01 00:00:00",)"
      R"("user_properties":{}})";
  EXPECT_EQ(EventOf(MapExportLine(line, "f", UserPropertiesMode::kSet)).at("user_properties"),
            json::parse(R"({"$set":{"a":1}})"));
  EXPECT_FALSE(EventOf(MapExportLine(line, "f", UserPropertiesMode::kIgnore))
                   .as_object()
                   .contains("user_properties"));
  // An empty state after the event: the user has no properties left.
  EXPECT_EQ(EventOf(MapExportLine(empty, "f", UserPropertiesMode::kReplace)).at("user_properties"),
            json::parse(R"({"$clearAll":"-"})"));
  EXPECT_FALSE(EventOf(MapExportLine(empty, "f", UserPropertiesMode::kSet))
                   .as_object()
                   .contains("user_properties"));
}

TEST(MapExportLine, InsertIdFallsBackToUuidThenToTheLinesOwnId) {
  const std::string with_uuid =
      R"({"event_type":"e","device_id":"dev-1","event_time":"2024-01-01 00:00:00","uuid":"U1"})";
  const std::string without =
      R"({"event_type":"e","device_id":"dev-1","event_time":"2024-01-01 00:00:00",)"
      R"("$insert_id":null})";
  EXPECT_EQ(EventOf(MapExportLine(with_uuid, "f", UserPropertiesMode::kReplace)).at("insert_id"),
            "U1");
  EXPECT_EQ(EventOf(MapExportLine(without, "import:a.json.gz:7", UserPropertiesMode::kReplace))
                .at("insert_id"),
            "import:a.json.gz:7");
}

TEST(MapExportLine, UsesClientEventTimeWhenEventTimeIsMissing) {
  const std::string line =
      R"({"event_type":"e","device_id":"dev-1","client_event_time":"2024-01-01 00:00:01"})";
  EXPECT_EQ(EventOf(MapExportLine(line, "f", UserPropertiesMode::kReplace)).at("time"),
            1704067201000);
}

TEST(MapExportLine, GroupIdentifyKeepsGroupPropertiesAndNoUserProperties) {
  const std::string line =
      R"({"event_type":"$groupidentify","device_id":"dev-1","event_time":"2024-01-01 00:00:00",)"
      R"("groups":{"org":"acme"},"group_properties":{"size":10},"user_properties":{"a":1}})";
  json::value e = EventOf(MapExportLine(line, "f", UserPropertiesMode::kReplace));
  EXPECT_EQ(e.at("group_properties"), json::parse(R"({"size":10})"));
  EXPECT_FALSE(e.as_object().contains("user_properties"));
}

TEST(MapExportLine, FieldsOfTheWrongTypeAreLeftOut) {
  const std::string line =
      R"({"event_type":"e","device_id":"dev-1","event_time":"2024-01-01 00:00:00",)"
      R"("platform":7,"location_lat":"north","session_id":"s","event_properties":[1]})";
  EXPECT_EQ(EventOf(MapExportLine(line, "f", UserPropertiesMode::kReplace)),
            json::parse(R"({"event_type":"e","device_id":"dev-1","time":1704067200000,
                            "insert_id":"f"})"));
}

TEST(MapExportLine, SaysWhyALineIsSkipped) {
  struct Case {
    const char* line;
    LineProblem problem;
  };
  for (
      const Case& c : {
          Case{"{\"event_type\":", LineProblem::kNotJson},
          Case{"[1,2]", LineProblem::kNotObject},
          Case{"\"\xff\"", LineProblem::kNotJson},
          Case{R"({"user_id":"user-1","event_time":"2024-01-01 00:00:00"})",
               LineProblem::kNoEventType},
          Case{R"({"event_type":"","user_id":"user-1","event_time":"2024-01-01 00:00:00"})",
               LineProblem::kNoEventType},
          Case{
              R"({"event_type":"e","user_id":null,"device_id":"","event_time":"2024-01-01 00:00:00"})",
              LineProblem::kNoId},
          Case{R"({"event_type":"e","user_id":"user-1","event_time":"yesterday"})",
               LineProblem::kBadTime},
          Case{R"({"event_type":"e","user_id":"user-1"})", LineProblem::kBadTime},
          Case{R"({"event_type":"e","user_id":"user-1","event_time":"2024-01-01 00:00:00",)"
               R"("event_properties":{"x":1e999}})",
               LineProblem::kNumberTooLarge},
      }) {
    LineVerdict v = MapExportLine(c.line, "f", UserPropertiesMode::kReplace);
    EXPECT_FALSE(v.event.has_value()) << c.line;
    EXPECT_EQ(LineProblemName(v.problem), LineProblemName(c.problem)) << c.line;
  }
}

TEST(MapNdjsonLine, SendsTheLineAsWrittenWithAnInsertIdAdded) {
  LineVerdict kept =
      MapNdjsonLine(R"(  {"event_type":"e","user_id":"user-1","insert_id":"i1","x":1.10}  )", "f");
  ASSERT_TRUE(kept.event.has_value());
  EXPECT_EQ(kept.event->json, R"({"event_type":"e","user_id":"user-1","insert_id":"i1","x":1.10})");
  EXPECT_EQ(kept.event->user_id, "user-1");
  LineVerdict added = MapNdjsonLine(R"({ "event_type":"e","device_id":"dev-1"})", "import:f:3");
  ASSERT_TRUE(added.event.has_value());
  EXPECT_EQ(added.event->json,
            R"({"insert_id":"import:f:3", "event_type":"e","device_id":"dev-1"})");
  EXPECT_EQ(json::parse(added.event->json).at("insert_id"), "import:f:3");
}

TEST(MapNdjsonLine, SkipsLinesThatCannotBeEvents) {
  EXPECT_EQ(MapNdjsonLine("{}", "f").problem, LineProblem::kNoEventType);
  EXPECT_EQ(MapNdjsonLine(R"({"event_type":"e"})", "f").problem, LineProblem::kNoId);
  EXPECT_EQ(MapNdjsonLine("nope", "f").problem, LineProblem::kNotJson);
  EXPECT_EQ(MapNdjsonLine("3", "f").problem, LineProblem::kNotObject);
  // The server refuses an insert_id that is not a string (and an empty one is none).
  for (const char* id : {"4", "\"\"", "[]", "{}", "true"}) {
    LineVerdict v = MapNdjsonLine(
        std::string(R"({"event_type":"e","user_id":"user-1","insert_id":)") + id + "}", "f");
    EXPECT_FALSE(v.event.has_value()) << id;
    EXPECT_EQ(v.problem, LineProblem::kBadInsertId) << id;
  }
}

TEST(MapNdjsonLine, ANullInsertIdTakesTheFallbackAsAMissingOneDoes) {
  LineVerdict v = MapNdjsonLine(R"({"event_type":"e","user_id":"user-1","insert_id":null,"n":2})",
                                "import:f:7");
  ASSERT_TRUE(v.event.has_value());
  json::value sent = json::parse(v.event->json);
  EXPECT_EQ(sent.at("insert_id"), "import:f:7");
  EXPECT_EQ(sent.at("n"), 2);
  EXPECT_EQ(sent.get_object().size(), 4u);
}

}  // namespace
}  // namespace profiled::cli
