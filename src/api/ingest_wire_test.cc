#include "api/ingest_wire.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "core/value_text.h"

namespace profiled::api {
namespace {

namespace json = boost::json;
using ingest::PropertyOpKind;

constexpr int64_t kNow = 1767225600000;

struct Outcome {
  bool ok;
  ParsedBatch batch;
  IngestRejection rejection;
  json::object body;  // the 400/413 body, parsed
};

Outcome Parse(const std::string& body) {
  Outcome o;
  o.ok = ParseEventBatch(body, kNow, &o.batch, &o.rejection);
  if (!o.ok) o.body = json::parse(RejectionBody(o.rejection)).as_object();
  return o;
}

std::string Batch(const std::string& events, const std::string& extra = "") {
  return R"({"api_key":"k",)" + extra + R"("events":)" + events + "}";
}

TEST(IngestWire, ParsesAnSdkBatch) {
  Outcome o = Parse(R"({"api_key":"key-1","events":[{"user_id":"user-1","device_id":"device-1",
    "event_type":"Purchase","time":1700000000000,"insert_id":"ins-1","platform":"Web",
    "country":"France","language":"en-US","app_version":"1.2","library":"amplitude-node-ts/1.3.4",
    "event_properties":{"price":3},"user_properties":{"plan":"pro"}}],
    "options":{},"client_upload_time":"2026-01-01T00:00:00.000Z","request_metadata":{"sdk":{}}})");
  ASSERT_TRUE(o.ok) << RejectionBody(o.rejection);
  EXPECT_EQ(o.batch.api_key, "key-1");
  ASSERT_EQ(o.batch.events.size(), 1u);
  const ingest::Event& e = o.batch.events[0];
  EXPECT_EQ(e.user_id, "user-1");
  EXPECT_EQ(e.device_id, "device-1");
  EXPECT_EQ(e.event_type, "Purchase");
  EXPECT_EQ(e.time_ms, 1700000000000);
  EXPECT_EQ(e.insert_id, "ins-1");
  EXPECT_EQ(e.origin, ingest::EventOrigin::kTrack);
  ASSERT_EQ(e.property_ops.size(), 1u);
  EXPECT_EQ(e.property_ops[0].kind, PropertyOpKind::kSet);
  EXPECT_EQ(e.property_ops[0].key, "plan");
  EXPECT_EQ(e.builtins.device, (json::object{{"platform", "Web"}}));
  EXPECT_EQ(e.builtins.location, (json::object{{"country", "France"}}));
  EXPECT_EQ(e.builtins.single, (json::object{{"app_version", "1.2"},
                                             {"language", "en-US"},
                                             {"library", "amplitude-node-ts/1.3.4"}}));
  EXPECT_EQ(json::parse(e.json).at("event_properties"), (json::object{{"price", 3}}));
}

TEST(IngestWire, DefaultsTimeToNowAndLogsIt) {
  Outcome o = Parse(Batch(R"([{"device_id":"device-1","event_type":"x"}])"));
  ASSERT_TRUE(o.ok);
  EXPECT_EQ(o.batch.events[0].time_ms, kNow);
  EXPECT_EQ(json::parse(o.batch.events[0].json).at("time").as_int64(), kNow);
}

TEST(IngestWire, IdentifyOperationsAreParsedAndOrdered) {
  Outcome o = Parse(Batch(R"([{"user_id":"user-1","event_type":"$identify","user_properties":{
    "$remove":{"l":"x"},"$add":{"n":2},"$set":{"a":1},"$clearAll":"-","$unset":{"u":"-"},
    "$setOnce":{"s":1},"$append":{"l":1},"$prepend":{"l":0},"$preInsert":{"l":-1},
    "$postInsert":{"l":9}}}])"));
  ASSERT_TRUE(o.ok) << RejectionBody(o.rejection);
  const auto& ops = o.batch.events[0].property_ops;
  std::vector<PropertyOpKind> kinds;
  kinds.reserve(ops.size());
  for (const auto& op : ops) kinds.push_back(op.kind);
  EXPECT_EQ(kinds, (std::vector<PropertyOpKind>{
                       PropertyOpKind::kClearAll, PropertyOpKind::kUnset, PropertyOpKind::kSet,
                       PropertyOpKind::kSetOnce, PropertyOpKind::kAdd, PropertyOpKind::kAppend,
                       PropertyOpKind::kPrepend, PropertyOpKind::kPreInsert,
                       PropertyOpKind::kPostInsert, PropertyOpKind::kRemove}));
  EXPECT_EQ(o.batch.events[0].origin, ingest::EventOrigin::kIdentify);
}

TEST(IngestWire, EmptyBodyIsMissingRequestBody) {
  Outcome o = Parse("  ");
  EXPECT_EQ(o.body.at("code"), 400);
  EXPECT_EQ(o.body.at("error"), "Missing request body");
}

TEST(IngestWire, BadJsonIsInvalidJsonRequestBody) {
  EXPECT_EQ(Parse("{\"api_key\":").body.at("error"), "Invalid JSON request body");
  EXPECT_EQ(Parse("[1,2]").body.at("error"), "Invalid JSON request body");
}

TEST(IngestWire, MissingApiKeyOrEventsNamesTheField) {
  Outcome a = Parse(R"({"events":[]})");
  EXPECT_EQ(a.body.at("error"), "Request missing required field");
  EXPECT_EQ(a.body.at("missing_field"), "api_key");
  EXPECT_EQ(Parse(R"({"api_key":"k"})").body.at("missing_field"), "events");
  EXPECT_EQ(Parse(R"({"api_key":"k","events":[]})").body.at("missing_field"), "events");
  EXPECT_EQ(Parse(R"({"api_key":"k","events":{}})").body.at("error"), "Invalid event JSON");
}

TEST(IngestWire, MoreThan2000EventsIs413) {
  std::string events = "[";
  for (int i = 0; i < 2001; ++i)
    events += std::string(i ? "," : "") + R"({"device_id":"device-1","event_type":"x"})";
  events += "]";
  Outcome o = Parse(Batch(events));
  EXPECT_EQ(o.rejection.http_status, 413);
  EXPECT_EQ(o.body.at("code"), 413);
  EXPECT_EQ(o.body.at("error"), "Payload too large");
}

TEST(IngestWire, PerEventProblemsAreReportedByIndex) {
  Outcome o = Parse(Batch(R"([
    {"device_id":"device-1","event_type":"ok"},
    {"device_id":"device-1"},
    {"device_id":"device-1","event_type":"x","time":"yesterday"},
    {"device_id":"device-1","event_type":"[Amplitude] Start Session"},
    {"user_id":"null","event_type":"x"},
    {"user_id":"abc","event_type":"x"},
    {"event_type":"x"},
    7,
    {"device_id":"device-1","event_type":"x","time":-5},
    {"device_id":"device-1","event_type":"x","price":"free","session_id":1.5}
  ])"));
  ASSERT_FALSE(o.ok);
  EXPECT_EQ(o.body.at("code"), 400);
  EXPECT_EQ(o.body.at("error"), "Invalid field values on some events");
  EXPECT_EQ(o.body.at("events_with_missing_fields"),
            json::parse(R"({"event_type":[1],"user_id or device_id":[6]})"));
  EXPECT_EQ(
      o.body.at("events_with_invalid_fields"),
      json::parse(
          R"({"time":[2,8],"event_type":[3],"user_id":[4],"event":[7],"price":[9],"session_id":[9]})"));
  EXPECT_EQ(o.body.at("events_with_invalid_id_lengths"), json::parse(R"({"user_id":[5]})"));
  EXPECT_TRUE(o.batch.events.empty());
}

TEST(IngestWire, HugeNumbersAreRefusedNotMisread) {
  Outcome o = Parse(Batch(R"([{"device_id":"device-1","event_type":"x","time":1e19}])"));
  EXPECT_EQ(o.body.at("events_with_invalid_fields"), json::parse(R"({"time":[0]})"));
  EXPECT_TRUE(
      Parse(Batch(R"([{"device_id":"device-1","event_type":"x","time":253402300799999}])")).ok);
  Outcome neg = Parse(Batch(R"([{"device_id":"device-1","event_type":"x","time":-1e300}])"));
  EXPECT_EQ(neg.body.at("events_with_invalid_fields"), json::parse(R"({"time":[0]})"));
  EXPECT_EQ(Parse(Batch("[]", R"("options":{"min_id_length":1e300},)")).body.at("error"),
            "Invalid options.min_id_length: must be an integer from 1 to 1024");
}

TEST(IngestWire, IntegerFieldsMustFitASigned64BitInteger) {
  for (const char* n :
       {"9223372036854775808", "18446744073709551615", "1e20", "-9300000000000000000", "-1e19"}) {
    for (const char* field : {"session_id", "event_id", "quantity"}) {
      Outcome o = Parse(Batch(std::string(R"([{"device_id":"device-1","event_type":"x",")") +
                              field + "\":" + n + "}]"));
      ASSERT_FALSE(o.ok) << field << "=" << n;
      EXPECT_EQ(o.body.at("events_with_invalid_fields"),
                json::parse(std::string("{\"") + field + "\":[0]}"));
      EXPECT_EQ(o.body.at("details").as_array().at(0).as_string(),
                std::string("events[0].") + field +
                    ": must be an integer from -9223372036854775808 to 9223372036854775807");
    }
  }
  EXPECT_TRUE(Parse(Batch(R"([{"device_id":"device-1","event_type":"x",
      "session_id":9223372036854775807,"event_id":-9223372036854775808,"quantity":-0}])"))
                  .ok);
}

TEST(IngestWire, ADuplicatedKeyReadsAsItsLastValue) {
  // As JavaScript's JSON.parse does; validation and the logged event see the same value.
  Outcome o = Parse(R"({"api_key":"k","events":[{"user_id":7,"user_id":"user-dup",
      "event_type":"","event_type":"x","user_properties":{"$set":{"a":1},"$set":{"b":2}}}]})");
  ASSERT_TRUE(o.ok);
  const ingest::Event& e = o.batch.events.at(0);
  EXPECT_EQ(e.user_id, "user-dup");
  EXPECT_EQ(e.event_type, "x");
  ASSERT_EQ(e.property_ops.size(), 1u);
  EXPECT_EQ(e.property_ops[0].key, "b");
  EXPECT_EQ(json::parse(e.json).at("user_id"), "user-dup");
  Outcome refused = Parse(R"({"api_key":"k","events":[{"user_id":"user-dup","user_id":"null",
      "event_type":"x"}]})");
  ASSERT_FALSE(refused.ok);
  EXPECT_EQ(refused.body.at("events_with_invalid_fields"), json::parse(R"({"user_id":[0]})"));
}

TEST(IngestWire, ShortIdsOnlyIsTheIdLengthError) {
  Outcome o = Parse(Batch(R"([{"user_id":"abc","event_type":"x"}])"));
  EXPECT_EQ(o.body.at("error"), "Invalid id length for user_id or device_id");
  EXPECT_EQ(o.body.at("events_with_invalid_id_lengths"), json::parse(R"({"user_id":[0]})"));
}

TEST(IngestWire, MinIdLengthOptionApplies) {
  Outcome o =
      Parse(Batch(R"([{"user_id":"abc","event_type":"x"}])", R"("options":{"min_id_length":3},)"));
  ASSERT_TRUE(o.ok);
  EXPECT_EQ(o.batch.events[0].user_id, "abc");
  EXPECT_EQ(Parse(Batch("[]", R"("options":{"min_id_length":0},)")).body.at("error"),
            "Invalid options.min_id_length: must be an integer from 1 to 1024");
}

TEST(IngestWire, ShortIdIsDroppedFromTheLoggedEvent) {
  Outcome o = Parse(Batch(R"([{"user_id":"abc","device_id":"device-1","event_type":"x"}])"));
  ASSERT_TRUE(o.ok);
  EXPECT_EQ(o.batch.events[0].user_id, "");
  EXPECT_FALSE(json::parse(o.batch.events[0].json).as_object().contains("user_id"));
}

TEST(IngestWire, UserPropertiesRules) {
  auto error_of = [](const std::string& up) {
    Outcome o = Parse(
        Batch(R"([{"user_id":"user-1","event_type":"$identify","user_properties":)" + up + "}]"));
    return o.ok ? std::string() : std::string(o.body.at("details").as_array()[0].as_string());
  };
  EXPECT_EQ(error_of(R"({"$set":{"a":1},"b":2})"),
            "events[0].user_properties: operations ($set, ...) cannot be mixed with plain "
            "properties; put plain values inside $set");
  EXPECT_EQ(error_of(R"({"$increment":{"a":1}})"),
            "events[0].user_properties: unknown operation \"$increment\"");
  EXPECT_EQ(error_of(R"({"$add":{"a":"x"}})"),
            "events[0].user_properties: $add.a must be a number");
  EXPECT_EQ(error_of(R"({"$set":5})"),
            "events[0].user_properties: $set must be an object of property names to values");
  EXPECT_EQ(error_of(R"("str")"), "events[0].user_properties: must be an object");
  EXPECT_EQ(error_of(R"({"$add":{"a":"12"}})"), "");
  // What $add accepts is exactly what it can apply.
  for (const char* bad : {R"(" 5")", R"("+5")", R"("0x10")", R"("nan")", R"("1e999")", R"("")"}) {
    EXPECT_EQ(error_of(std::string(R"({"$add":{"a":)") + bad + "}}"),
              "events[0].user_properties: $add.a must be a number")
        << bad;
  }
}

TEST(IngestWire, NestingBeyond40LevelsIsRefused) {
  auto nested = [](int depth) {
    std::string v = "1";
    for (int i = 0; i < depth; ++i) v.insert(0, R"({"k":)").append("}");
    return v;
  };
  EXPECT_TRUE(Parse(Batch(R"([{"user_id":"user-1","event_type":"x","event_properties":)" +
                          nested(40) + "}]"))
                  .ok);
  Outcome o = Parse(
      Batch(R"([{"user_id":"user-1","event_type":"x","event_properties":)" + nested(41) + "}]"));
  ASSERT_FALSE(o.ok);
  EXPECT_EQ(o.body.at("events_with_invalid_fields"), json::parse(R"({"event_properties":[0]})"));
  Outcome u = Parse(Batch(R"([{"user_id":"user-1","event_type":"x","user_properties":{"$set":)" +
                          nested(41) + "}}]"));
  EXPECT_EQ(u.body.at("events_with_invalid_fields"), json::parse(R"({"user_properties":[0]})"));
}

TEST(IngestWire, NumbersBeyondADoubleAreRefusedNamingFieldAndEvent) {
  Outcome o = Parse(Batch(
      R"([{"user_id":"user-1","event_type":"x"},
          {"user_id":"user-1","event_type":"$identify","user_properties":{"$set":{"big":1e309}}},
          {"user_id":"user-1","event_type":"x","event_properties":{"a":[{"b":-1e309}]}},
          {"user_id":"user-1","event_type":"x","revenue":1e400},
          {"user_id":"user-1","event_type":"x","user_properties":{"$add":{"n":-1e309}}},
          {"user_id":"user-1","event_type":"x","anything":[1e999]}])"));
  ASSERT_FALSE(o.ok);
  EXPECT_EQ(o.body.at("error"), "Invalid field values on some events");
  const json::object& invalid = o.body.at("events_with_invalid_fields").as_object();
  EXPECT_EQ(invalid.at("user_properties"), json::parse("[1,4]"));
  EXPECT_EQ(invalid.at("event_properties"), json::parse("[2]"));
  EXPECT_EQ(invalid.at("revenue"), json::parse("[3]"));
  EXPECT_EQ(invalid.at("anything"), json::parse("[5]"));
  EXPECT_NE(json::serialize(o.body.at("details")).find("events[1].user_properties: holds a number"),
            std::string::npos);
  // The same value as a string is a string, and the largest double is a number.
  EXPECT_TRUE(Parse(Batch(R"([{"user_id":"user-1","event_type":"x",
      "user_properties":{"s":"1e309","m":1.7976931348623157e308,"t":-1e-400}}])"))
                  .ok);
}

TEST(IngestWire, PropertyNamesLongerThan1024CharactersAreRefused) {
  std::string name(1025, 'k');
  Outcome plain = Parse(
      Batch(R"([{"user_id":"user-1","event_type":"x","user_properties":{")" + name + R"(":1}}])"));
  EXPECT_EQ(plain.body.at("events_with_invalid_fields"), json::parse(R"({"user_properties":[0]})"));
  Outcome op = Parse(Batch(R"([{"user_id":"user-1","event_type":"$identify",)"
                           R"("user_properties":{"$add":{")" +
                           name + R"(":1}}}])"));
  EXPECT_EQ(op.body.at("events_with_invalid_fields"), json::parse(R"({"user_properties":[0]})"));
  EXPECT_NE(json::serialize(op.body.at("details")).find("$add: a property name is longer"),
            std::string::npos);
  name.pop_back();
  EXPECT_TRUE(Parse(Batch(R"([{"user_id":"user-1","event_type":"x","user_properties":{")" + name +
                          R"(":1}}])"))
                  .ok);
}

TEST(IngestWire, TheLoggedEventKeepsTheNumbersExactly) {
  Outcome o = Parse(Batch(
      R"([{"user_id":"user-1","event_type":"x","event_properties":{"a":0.1,"b":97.43057599473337}}])"));
  ASSERT_TRUE(o.ok);
  // Read back as the event log's readers must: with ParseJson, which rounds correctly.
  boost::system::error_code ec;
  json::value logged = ParseJson(o.batch.events[0].json, 64, &ec);
  ASSERT_FALSE(ec);
  EXPECT_EQ(logged.at("event_properties").at("a").as_double(), 0.1);
  EXPECT_EQ(logged.at("event_properties").at("b").as_double(), 97.43057599473337);
}

TEST(IngestWire, LongPropertyStringsAreTruncatedTo1024Characters) {
  std::string value(2000, 'x');
  Outcome o = Parse(Batch(R"([{"user_id":"user-1","event_type":"x","user_properties":{"long":")" +
                          value + R"("}}])"));
  ASSERT_TRUE(o.ok);
  EXPECT_EQ(o.batch.events[0].property_ops[0].value.as_string().size(), 1024u);
}

TEST(IngestWire, EventPropertiesAndTopLevelScalarsAreHandedOverTyped) {
  std::string body = Batch(R"([{"user_id":"user-1","device_id":"device-1","event_type":"Buy",
    "time":1700000000000,"revenue":12.5,"price":2.5,"quantity":5,"platform":"iOS","country":"DE",
    "app_version":"1.2","paying":true,"session_id":null,"library":{"name":"sdk","version":"1"},
    "plan":{"branch":"main"},"event_properties":{"category":"books","tags":["a","b"]},
    "user_properties":{"plan":"pro"},"groups":{"org":"x"},"group_properties":{"size":3}}])");
  Outcome o = Parse(body);
  ASSERT_TRUE(o.ok) << RejectionBody(o.rejection);
  const ingest::Event& e = o.batch.events[0];
  EXPECT_EQ(e.event_properties, (json::object{{"category", "books"}, {"tags", {"a", "b"}}}));
  EXPECT_EQ(e.fields, (json::object{{"user_id", "user-1"},
                                    {"device_id", "device-1"},
                                    {"event_type", "Buy"},
                                    {"time", 1700000000000},
                                    {"revenue", 12.5},
                                    {"price", 2.5},
                                    {"quantity", 5},
                                    {"platform", "iOS"},
                                    {"country", "DE"},
                                    {"app_version", "1.2"},
                                    {"paying", true}}));
  // The logged text still holds the whole event, as it did before the extraction.
  json::value logged = json::parse(e.json);
  EXPECT_EQ(logged.at("event_properties"),
            (json::object{{"category", "books"}, {"tags", {"a", "b"}}}));
  EXPECT_EQ(logged.at("user_properties"), (json::object{{"plan", "pro"}}));
  EXPECT_EQ(logged.at("groups"), (json::object{{"org", "x"}}));
  EXPECT_EQ(logged.at("revenue"), 12.5);
  EXPECT_EQ(logged.as_object().size(), 18u);
}

TEST(IngestWire, TypedFieldsAreNormalisedLikeTheLoggedText) {
  std::string value(2000, 'x');
  Outcome o = Parse(Batch(R"([{"user_id":"user-1","device_id":"abc","event_type":"x",
    "event_properties":{"long":")" +
                              value + R"("},"city":")" + value + R"("}])",
                          R"("options":{"min_id_length":5},)"));
  ASSERT_TRUE(o.ok) << RejectionBody(o.rejection);
  const ingest::Event& e = o.batch.events[0];
  EXPECT_EQ(e.event_properties.at("long").as_string().size(), 1024u);
  // An id too short for the batch's min_id_length is dropped, here as in the log; the time
  // defaults to now.
  EXPECT_EQ(e.fields.at("user_id"), "user-1");
  EXPECT_FALSE(e.fields.contains("device_id"));
  EXPECT_EQ(e.fields.at("time"), kNow);
  json::value logged = json::parse(e.json);
  EXPECT_EQ(logged.at("event_properties").at("long").as_string().size(), 1024u);
  EXPECT_EQ(e.fields.at("city"), logged.at("city"));
}

TEST(IngestWire, MissingOrNullEventPropertiesAreEmpty) {
  Outcome o = Parse(Batch(R"([{"device_id":"device-1","event_type":"x"},
    {"device_id":"device-1","event_type":"x","event_properties":null}])"));
  ASSERT_TRUE(o.ok) << RejectionBody(o.rejection);
  EXPECT_TRUE(o.batch.events[0].event_properties.empty());
  EXPECT_TRUE(o.batch.events[1].event_properties.empty());
  EXPECT_EQ(o.batch.events[1].fields.at("event_type"), "x");
}

TEST(IngestWire, IdentificationsCarryNoTypedFields) {
  std::vector<ingest::Event> events;
  IngestRejection rejection;
  ASSERT_TRUE(
      ParseIdentification(R"({"user_id":"user-1","platform":"iOS"})", kNow, &events, &rejection));
  EXPECT_TRUE(events[0].fields.empty());
  EXPECT_TRUE(events[0].event_properties.empty());
}

TEST(IngestWire, GroupIdentifyNeverTouchesUserProperties) {
  Outcome o =
      Parse(Batch(R"([{"user_id":"user-1","event_type":"$groupidentify","groups":{"org":"a"},
    "group_properties":{"$set":{"size":3}},"user_properties":{"x":1}}])"));
  ASSERT_TRUE(o.ok);
  EXPECT_TRUE(o.batch.events[0].property_ops.empty());
}

TEST(IngestWire, GroupIdentifyCarriesItsGroupsAndGroupOperations) {
  Outcome o = Parse(Batch(
      R"([{"user_id":"user-1","event_type":"$groupidentify","groups":{"org":"a","team":["x","y"]},
    "group_properties":{"$add":{"n":1},"$set":{"size":3}}}])"));
  ASSERT_TRUE(o.ok);
  const ingest::Event& e = o.batch.events[0];
  ASSERT_EQ(e.groups.size(), 2u);
  EXPECT_EQ(e.groups[0].type, "org");
  EXPECT_EQ(e.groups[0].names, (std::vector<std::string>{"a"}));
  EXPECT_EQ(e.groups[1].type, "team");
  EXPECT_EQ(e.groups[1].names, (std::vector<std::string>{"x", "y"}));
  ASSERT_EQ(e.group_ops.size(), 2u);
  EXPECT_EQ(e.group_ops[0].kind, PropertyOpKind::kSet);  // in application order
  EXPECT_EQ(e.group_ops[1].kind, PropertyOpKind::kAdd);
}

TEST(IngestWire, GroupIdentifyWithPlainGroupPropertiesSetsThem) {
  Outcome o = Parse(Batch(R"([{"user_id":"user-1","event_type":"$groupidentify",
    "groups":{"org":"a"},"group_properties":{"size":3}}])"));
  ASSERT_TRUE(o.ok);
  ASSERT_EQ(o.batch.events[0].group_ops.size(), 1u);
  EXPECT_EQ(o.batch.events[0].group_ops[0].kind, PropertyOpKind::kSet);
  EXPECT_EQ(o.batch.events[0].group_ops[0].key, "size");
}

TEST(IngestWire, GroupsOfOrdinaryEventsAreNotGroupOperations) {
  Outcome o = Parse(Batch(R"([{"user_id":"user-1","event_type":"click","groups":{"org":"a"},
    "group_properties":{"size":3}}])"));
  ASSERT_TRUE(o.ok);
  EXPECT_TRUE(o.batch.events[0].groups.empty());
  EXPECT_TRUE(o.batch.events[0].group_ops.empty());
}

TEST(IngestWire, GroupsKeepAtMostFiveTypesAndTenNames) {
  Outcome o = Parse(Batch(R"([{"user_id":"user-1","event_type":"$groupidentify",
    "groups":{"a":["1","2","3","4"],"b":["1","2","3","4"],"c":["1","2","3","4"],"d":"1","e":"1",
    "f":"1"},"group_properties":{"n":1}}])"));
  ASSERT_TRUE(o.ok);
  const auto& groups = o.batch.events[0].groups;
  ASSERT_EQ(groups.size(), 3u);  // a and b have 4 names each, c the last 2 of the 10
  EXPECT_EQ(groups[2].type, "c");
  EXPECT_EQ(groups[2].names, (std::vector<std::string>{"1", "2"}));
}

TEST(IngestWire, BadGroupsOrGroupPropertiesAreInvalidFields) {
  for (const char* bad : {R"("groups":{"org":5})", R"("groups":{"org":[""]})",
                          R"("groups":{"":"a"})", R"("groups":{"org":["a",{}]})"}) {
    Outcome o = Parse(
        Batch(std::string(R"([{"user_id":"user-1","event_type":"$groupidentify",)") + bad + "}]"));
    ASSERT_FALSE(o.ok) << bad;
    EXPECT_EQ(o.rejection.events.invalid_fields.at("groups"), std::vector<int>{0}) << bad;
  }
  Outcome o = Parse(Batch(R"([{"user_id":"user-1","event_type":"$groupidentify",
    "groups":{"org":"a"},"group_properties":{"$nope":{"a":1}}}])"));
  ASSERT_FALSE(o.ok);
  EXPECT_EQ(o.rejection.events.invalid_fields.at("group_properties"), std::vector<int>{0});
}

TEST(IngestWire, IdentifyGroupsAreParsedForMembershipAndAnEmptyListRemovesAType) {
  Outcome o = Parse(Batch(R"([{"user_id":"user-1","event_type":"$identify",
    "user_properties":{"$set":{"org":"acme"}},"groups":{"org":"acme","team":[]}}])"));
  ASSERT_TRUE(o.ok);
  const auto& groups = o.batch.events[0].groups;
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].names, (std::vector<std::string>{"acme"}));
  EXPECT_EQ(groups[1].type, "team");
  EXPECT_TRUE(groups[1].names.empty());
  // setGroup's $set is applied to the user's properties as any $identify's.
  EXPECT_EQ(o.batch.events[0].property_ops.size(), 1u);

  std::vector<ingest::Event> events;
  IngestRejection r;
  ASSERT_TRUE(
      ParseIdentification(R"({"user_id":"user-1","groups":{"org":["a","b"]}})", kNow, &events, &r));
  ASSERT_EQ(events[0].groups.size(), 1u);
  EXPECT_EQ(events[0].groups[0].names, (std::vector<std::string>{"a", "b"}));
  events.clear();
  EXPECT_FALSE(
      ParseIdentification(R"({"user_id":"user-1","groups":{"org":1}})", kNow, &events, &r));
  EXPECT_TRUE(r.events.invalid_fields.contains("groups"));
}

TEST(IngestWire, GroupIdentificationsBecomeGroupEventsWithoutAUser) {
  std::vector<ingest::Event> events;
  IngestRejection r;
  ASSERT_TRUE(ParseGroupIdentification(
      R"([{"group_type":"org","group_value":"acme","group_properties":{"$add":{"n":1}}},
          {"group_type":"org","group_value":"globex"}])",
      kNow, &events, &r));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].origin, ingest::EventOrigin::kGroupIdentifyApi);
  EXPECT_TRUE(events[0].user_id.empty());
  EXPECT_TRUE(events[0].device_id.empty());
  ASSERT_EQ(events[0].groups.size(), 1u);
  EXPECT_EQ(events[0].groups[0].type, "org");
  EXPECT_EQ(events[0].groups[0].names, (std::vector<std::string>{"acme"}));
  ASSERT_EQ(events[0].group_ops.size(), 1u);
  EXPECT_EQ(events[0].group_ops[0].kind, PropertyOpKind::kAdd);
  EXPECT_TRUE(events[1].group_ops.empty());
}

TEST(IngestWire, BadGroupIdentificationsAreRefusedWhole) {
  struct Case {
    const char* body;
    const char* field;
  };
  for (const Case& c :
       {Case{R"({"group_value":"acme"})", "group_type"},
        Case{R"({"group_type":"org","group_value":7})", "group_value"},
        Case{R"({"group_type":"org","group_value":"a","group_properties":[]})", "group_properties"},
        Case{R"([{"group_type":"org","group_value":"a"},
                                 {"group_type":"org","group_value":"b",
                                  "group_properties":{"$add":{"n":"x"}}}])",
             "group_properties"}}) {
    std::vector<ingest::Event> events;
    IngestRejection r;
    EXPECT_FALSE(ParseGroupIdentification(c.body, kNow, &events, &r)) << c.body;
    EXPECT_EQ(r.http_status, 400);
    EXPECT_TRUE(r.events.invalid_fields.contains(c.field)) << c.body;
    EXPECT_TRUE(events.empty());
  }
  std::vector<ingest::Event> events;
  IngestRejection r;
  EXPECT_FALSE(ParseGroupIdentification("not json", kNow, &events, &r));
  EXPECT_EQ(r.missing_field, "identification");
  std::string many = "[";
  for (size_t i = 0; i <= kMaxGroupIdentifications; ++i) {
    many += std::string(i ? "," : "") + R"({"group_type":"t","group_value":"v"})";
  }
  many += "]";
  EXPECT_FALSE(ParseGroupIdentification(many, kNow, &events, &r));
  EXPECT_EQ(r.http_status, 413);
}

TEST(IngestWire, IdentificationAcceptsAnObjectOrAnArray) {
  std::vector<ingest::Event> events;
  IngestRejection r;
  ASSERT_TRUE(ParseIdentification(R"({"user_id":"user-1","user_properties":{"a":1},"paying":"true",
      "start_version":"1.0","platform":"iOS"})",
                                  kNow, &events, &r));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].origin, ingest::EventOrigin::kIdentifyApi);
  EXPECT_EQ(events[0].builtins.single.at("paying"), true);
  EXPECT_EQ(events[0].builtins.single.at("start_version"), "1.0");
  EXPECT_EQ(events[0].builtins.device, (json::object{{"platform", "iOS"}}));
  events.clear();
  ASSERT_TRUE(
      ParseIdentification(R"([{"user_id":"user-1"},{"device_id":"device-2"}])", kNow, &events, &r));
  EXPECT_EQ(events.size(), 2u);
}

TEST(IngestWire, BadIdentificationIsMissingEvent) {
  std::vector<ingest::Event> events;
  IngestRejection r;
  EXPECT_FALSE(ParseIdentification("not json", kNow, &events, &r));
  json::object body = json::parse(RejectionBody(r)).as_object();
  EXPECT_EQ(body.at("error"), "missing_event");
  EXPECT_EQ(body.at("missing_field"), "identification");
  IngestRejection r2;
  EXPECT_FALSE(ParseIdentification(R"({"user_properties":{}})", kNow, &events, &r2));
  EXPECT_EQ(r2.events.missing_fields.at("user_id or device_id"), std::vector<int>{0});
}

TEST(IngestWire, ResponseBodiesCarryCode) {
  EXPECT_EQ(SuccessBody(3, 120, 99),
            R"({"code":200,"events_ingested":3,"payload_size_bytes":120,"server_upload_time":99})");
  EXPECT_EQ(ErrorBody(503, "busy"), R"({"code":503,"error":"busy"})");
  ingest::ThrottleReport t;
  t.eps_threshold = 30;
  t.throttled_events = {1, 2};
  t.throttled_devices["d"] = 31;
  t.throttled_users["u"] = 32;
  EXPECT_EQ(json::parse(ThrottledBody(t)),
            json::parse(R"({"code":429,"error":"Too many requests for some devices and users",
              "eps_threshold":30,"throttled_devices":{"d":31},"throttled_users":{"u":32},
              "throttled_events":[1,2],"exceeded_daily_quota_devices":{},"exceeded_daily_quota_users":{}})"));
}

TEST(IngestWire, AProjectOverItsRateGets429ListingEveryEventAndNoIds) {
  ingest::ThrottleReport t;
  t.project = true;
  t.eps_threshold = 1000;
  t.throttled_events = {0, 1, 2};
  EXPECT_EQ(json::parse(ThrottledBody(t)),
            json::parse(R"({"code":429,"error":"Too many requests for this project",
              "eps_threshold":1000,"throttled_devices":{},"throttled_users":{},
              "throttled_events":[0,1,2],"exceeded_daily_quota_devices":{},"exceeded_daily_quota_users":{}})"));
}

// An event as amplitude-js 8.21 sends it in the v1 form's `e`.
constexpr const char* kLegacyEvent = R"({"device_id":"dev-12345","user_id":"user-1",
  "timestamp":1700000000000,"event_id":3,"session_id":1699999999000,"event_type":"$identify",
  "version_name":null,"platform":"Web","os_name":"Chrome","os_version":"120",
  "device_model":"Linux","device_manufacturer":null,"language":"en-US","api_properties":{},
  "event_properties":{},"user_properties":{"$set":{"plan":"pro"},"$add":{"n":2}},
  "uuid":"9b1e-uuid","library":{"name":"amplitude-js","version":"8.21.10"},
  "sequence_number":7,"groups":{},"group_properties":{},"user_agent":"Mozilla/5.0",
  "partner_id":null})";

struct LegacyOutcome {
  bool ok;
  std::vector<ingest::Event> events;
  IngestRejection rejection;
  json::object body;
};

LegacyOutcome ParseLegacy(const std::string& e) {
  LegacyOutcome o;
  o.ok = ParseLegacyEvents(e, kNow, &o.events, &o.rejection);
  if (!o.ok) o.body = json::parse(RejectionBody(o.rejection)).as_object();
  return o;
}

TEST(LegacyUpload, TimestampIsTimeAndUuidIsInsertId) {
  LegacyOutcome o = ParseLegacy(std::string("[") + kLegacyEvent + "]");
  ASSERT_TRUE(o.ok) << RejectionBody(o.rejection);
  ASSERT_EQ(o.events.size(), 1u);
  const ingest::Event& e = o.events[0];
  EXPECT_EQ(e.user_id, "user-1");
  EXPECT_EQ(e.device_id, "dev-12345");
  EXPECT_EQ(e.time_ms, 1700000000000);
  EXPECT_EQ(e.insert_id, "9b1e-uuid");
  EXPECT_EQ(e.origin, ingest::EventOrigin::kIdentify);
  ASSERT_EQ(e.property_ops.size(), 2u);
  EXPECT_EQ(e.builtins.single.at("library"), "amplitude-js/8.21.10");
  EXPECT_EQ(e.builtins.device.at("os_name"), "Chrome");
  // The logged event names them the HTTP V2 way, and keeps the v1-only fields.
  json::object logged = json::parse(e.json).as_object();
  EXPECT_EQ(logged.at("time"), 1700000000000);
  EXPECT_EQ(logged.at("insert_id"), "9b1e-uuid");
  EXPECT_FALSE(logged.contains("timestamp"));
  EXPECT_FALSE(logged.contains("uuid"));
  EXPECT_EQ(logged.at("sequence_number"), 7);
  EXPECT_EQ(logged.at("api_properties"), json::object());
}

TEST(LegacyUpload, HttpV2NamesWinOverTheirV1Names) {
  LegacyOutcome o = ParseLegacy(
      R"([{"user_id":"user-1","event_type":"x","time":5,"timestamp":6,"insert_id":"a","uuid":"b"},
          {"user_id":"user-1","event_type":"y"}])");
  ASSERT_TRUE(o.ok) << RejectionBody(o.rejection);
  EXPECT_EQ(o.events[0].time_ms, 5);
  EXPECT_EQ(o.events[0].insert_id, "a");
  EXPECT_EQ(o.events[1].time_ms, kNow);  // neither: the upload's time, as over HTTP V2
  EXPECT_EQ(o.events[1].insert_id, "");
}

TEST(LegacyUpload, OldLogRevenueCarriesItsFieldsInApiProperties) {
  LegacyOutcome o = ParseLegacy(
      R"([{"user_id":"user-1","event_type":"revenue_amount","api_properties":{"special":
      "revenue_amount","price":2.5,"quantity":3,"productId":"sku-1"}},
      {"user_id":"user-1","event_type":"other","api_properties":{"price":9}}])");
  ASSERT_TRUE(o.ok) << RejectionBody(o.rejection);
  EXPECT_EQ(o.events[0].fields.at("price"), 2.5);
  EXPECT_EQ(o.events[0].fields.at("quantity"), 3);
  EXPECT_EQ(o.events[0].fields.at("productId"), "sku-1");
  EXPECT_FALSE(o.events[1].fields.contains("price"));  // not a revenue event
}

TEST(LegacyUpload, EventsAreRefusedAsHttpV2RefusesThem) {
  LegacyOutcome o = ParseLegacy(R"({"user_id":"user-1"})");
  ASSERT_FALSE(o.ok);
  EXPECT_EQ(o.body.at("error"), "Invalid event JSON");
  o = ParseLegacy("[");
  ASSERT_FALSE(o.ok);
  EXPECT_EQ(o.body.at("error"), "Invalid event JSON");
  o = ParseLegacy("[]");
  ASSERT_FALSE(o.ok);
  EXPECT_EQ(o.body.at("missing_field"), "e");
  o = ParseLegacy(R"([{"user_id":"user-1","event_type":"x"},
                      {"user_id":"user-1","event_type":"x","timestamp":"yesterday"},
                      {"user_id":"undefined","event_type":"x"}])");
  ASSERT_FALSE(o.ok);
  EXPECT_TRUE(o.events.empty());
  EXPECT_EQ(o.body.at("events_with_invalid_fields"),
            (json::object{{"time", {1}}, {"user_id", {2}}}));
}

TEST(LegacyUpload, EachMissingFieldIsNamed) {
  const std::map<std::string, std::string> full = {
      {"client", "k"}, {"e", "[]"}, {"v", "2"}, {"upload_time", "1"}, {"checksum", "x"}};
  LegacyForm form;
  IngestRejection r;
  ASSERT_TRUE(ParseLegacyUpload(full, &form, &r));
  EXPECT_EQ(form.client, "k");
  EXPECT_EQ(form.events, "[]");
  for (const auto& [name, value] : full) {
    std::map<std::string, std::string> fields = full;
    fields.erase(name);
    IngestRejection missing;
    ASSERT_FALSE(ParseLegacyUpload(fields, &form, &missing)) << name;
    EXPECT_EQ(missing.missing_field, name);
    fields[name] = "";
    IngestRejection empty;
    ASSERT_FALSE(ParseLegacyUpload(fields, &form, &empty)) << name;
    EXPECT_EQ(empty.missing_field, name);
  }
}

// The checksums below are Python's hashlib.md5 over the UTF-8 text, as blueimp-md5 (which
// amplitude-js uses) hashes a JavaScript string.
TEST(LegacyUpload, ChecksumIsTheMd5OfVersionKeyEventsAndUploadTime) {
  LegacyForm f{"key-1", R"([{"user_id":"user-1","event_type":"x","timestamp":1700000000000}])", "2",
               "1700000000500", "b1c230c5e456f60d47d36cc0aba414bb"};
  EXPECT_TRUE(LegacyChecksumMatches(f));
  LegacyForm upper = f;
  upper.checksum = "B1C230C5E456F60D47D36CC0ABA414BB";
  EXPECT_TRUE(LegacyChecksumMatches(upper));
  for (std::string LegacyForm::*field :
       {&LegacyForm::client, &LegacyForm::events, &LegacyForm::version, &LegacyForm::upload_time,
        &LegacyForm::checksum}) {
    LegacyForm changed = f;
    (changed.*field).push_back('0');
    EXPECT_FALSE(LegacyChecksumMatches(changed));
  }
  LegacyForm unicode{"key-1", "[{\"user_id\":\"zo\xC3\xAB-1\",\"event_type\":\"x\"}]", "2", "1",
                     "b2e7c9cb89683579d0a37ae679107f4d"};
  EXPECT_TRUE(LegacyChecksumMatches(unicode));
}

}  // namespace
}  // namespace profiled::api
