#include "api/profile_wire.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace profiled::api {
namespace {

namespace json = boost::json;

read::UserData User(uint64_t amplitude_id, store::ProfileView profile) {
  read::UserData u;
  u.amplitude_id = amplitude_id;
  u.profile = profile;
  return u;
}

read::UserData Alice() {
  return User(42, {"alice", "device-1", R"({"platform":"Web","plan":"builtin"})",
                   R"({"plan":"pro","n":3})"});
}

// Alice with a count, a sum, a first value (a string) and two cohorts.
read::UserData AliceWithComputations() {
  read::UserData u = Alice();
  // One by one: GCC 12 misreads an initializer list of variants holding strings
  // (-Wmaybe-uninitialized at -O2 with sanitizers).
  u.computed.emplace_back(7, int64_t{12});
  u.computed.emplace_back(8, 2.5);
  u.computed.emplace_back(9, compute::JsonText{"\"books\""});
  u.cohort_ids = {"c1", "c\"2"};
  return u;
}

// Alice with two recommendations: a model's and a control group's (random) one.
read::UserData AliceWithRecommendations() {
  read::UserData u = Alice();
  read::ServedRecommendation model;
  model.rec_id = "r1";
  model.title = "For \"you\"";
  model.items = {"sku1", "sku2"};
  model.type = "ease";
  model.last_updated_ms = 1'700'000'000'999;
  u.recommendations.push_back(model);
  read::ServedRecommendation control;
  control.rec_id = "r2";
  control.items = {"sku9"};
  control.is_control = true;
  control.type = "random";
  control.last_updated_ms = 1'700'000'100'000;
  u.recommendations.push_back(control);
  return u;
}

TEST(ProfileWire, ParsesEveryParameter) {
  ProfileQuery q;
  ASSERT_TRUE(
      ParseProfileQuery("user_id=a%20b&device_id=d&get_recs=true&rec_id=r1,r2&rec_type=model"
                        "&limit=5&comp_id=7,8&get_amp_props=1&get_cohort_ids=true"
                        "&get_computations=false&get_propensity&unknown=x",
                        &q)
          .ok());
  EXPECT_EQ(q.user_id, "a b");
  EXPECT_EQ(q.device_id, "d");
  EXPECT_TRUE(q.get_recs);
  EXPECT_EQ(q.rec_ids, (std::vector<std::string>{"r1", "r2"}));
  EXPECT_EQ(q.rec_type, "model");
  EXPECT_EQ(q.limit, 5);
  EXPECT_EQ(q.comp_ids, (std::vector<std::string>{"7", "8"}));
  EXPECT_TRUE(q.get_amp_props);
  EXPECT_TRUE(q.get_cohort_ids);
  EXPECT_FALSE(q.get_computations);
}

TEST(ProfileWire, BadParametersAreNamed) {
  ProfileQuery q;
  EXPECT_EQ(ParseProfileQuery("", &q).message(), "user_id or device_id is required");
  EXPECT_EQ(ParseProfileQuery("user_id=", &q).message(), "user_id or device_id is required");
  EXPECT_EQ(ParseProfileQuery("user_id=u&get_recs=maybe", &q).message(),
            "get_recs must be true or false, got \"maybe\"");
  EXPECT_EQ(ParseProfileQuery("user_id=u&rec_type=best", &q).message(),
            "rec_type must be \"model\" or \"random\", got \"best\"");
  EXPECT_EQ(ParseProfileQuery("user_id=u&limit=0", &q).message(),
            "limit must be an integer from 1 to 1000, got \"0\"");
  EXPECT_EQ(ParseProfileQuery("user_id=%zz", &q).message(), "malformed query string");
}

TEST(ProfileWire, CompIdIsACommaSeparatedListOfIntegers) {
  ProfileQuery q;
  ASSERT_TRUE(ParseProfileQuery("user_id=u&comp_id=1,007,0,9223372036854775807", &q).ok());
  EXPECT_EQ(q.comp_ids, (std::vector<std::string>{"1", "7", "0", "9223372036854775807"}));
  for (const char* bad : {"abc", "1,abc", "", "1,,2", "1,", ",1", "-1", "+1", "1.5", " 1", "1e3",
                          "9223372036854775808", "0x10"}) {
    Status s = ParseProfileQuery(std::string("user_id=u&comp_id=") + bad, &q);
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("comp_id must be"), std::string::npos) << bad;
  }
}

TEST(ProfileWire, SeedDialectShape) {
  std::string out;
  WriteSeedProfile(ProfileQuery{}, Alice(), &out);
  EXPECT_EQ(json::parse(out), json::parse(R"({"userData":{"user_id":"alice","amplitude_id":42,
      "user_properties":{"plan":"pro","n":3},"computed_properties":{},"cohort_ids":[]}})"));
  ProfileQuery recs;
  recs.get_recs = true;
  out.clear();
  WriteSeedProfile(recs, Alice(), &out);
  EXPECT_EQ(json::parse(out).at("userData").at("recommendations"), json::array());
}

TEST(ProfileWire, SeedDialectLeavesOutTheUserIdOfAnAnonymousDevice) {
  std::string out;
  WriteSeedProfile(ProfileQuery{}, User(1, {"", "device-1", "{}", "{}"}), &out);
  EXPECT_EQ(json::parse(out), json::parse(R"({"userData":{"amplitude_id":1,
      "user_properties":{},"computed_properties":{},"cohort_ids":[]}})"));
}

TEST(ProfileWire, AmplitudeDialectAnonymousUserIdIsNull) {
  std::string out;
  ASSERT_TRUE(
      WriteAmplitudeProfile(ProfileQuery{}, User(1, {"", "device-1", "{}", "{}"}), &out).ok());
  EXPECT_TRUE(json::parse(out).at("userData").at("user_id").is_null());
}

TEST(ProfileWire, AmplitudeDialectNullsWhatWasNotAskedFor) {
  std::string out;
  ASSERT_TRUE(WriteAmplitudeProfile(ProfileQuery{}, Alice(), &out).ok());
  EXPECT_EQ(json::parse(out), json::parse(R"({"userData":{"recommendations":null,"user_id":"alice",
      "device_id":"device-1","amp_props":null,"cohort_ids":null}})"));
}

TEST(ProfileWire, AmplitudeDialectFillsWhatWasAskedFor) {
  ProfileQuery q;
  q.get_amp_props = true;
  q.get_cohort_ids = true;
  q.get_recs = true;
  std::string out;
  ASSERT_TRUE(WriteAmplitudeProfile(q, Alice(), &out).ok());
  // Custom properties win over built-ins of the same name.
  EXPECT_EQ(json::parse(out), json::parse(R"({"userData":{"recommendations":[],"user_id":"alice",
      "device_id":"device-1","amp_props":{"platform":"Web","plan":"pro","n":3},"cohort_ids":[]}})"));
}

TEST(ProfileWire, AmplitudeDialectWritesGroupsAndTheirPropertiesOnlyWithGetGroupProps) {
  ProfileQuery q;
  ASSERT_TRUE(ParseProfileQuery("user_id=u&get_group_props=true", &q).ok());
  EXPECT_TRUE(ReadOptionsFor(q, ProfileDialect::kAmplitude).groups);
  EXPECT_FALSE(ReadOptionsFor(q, ProfileDialect::kSeed).groups);
  read::UserData user = Alice();
  user.groups = {{"org", "acme", R"({"plan":"pro"})"}, {"team", "a", "{}"}, {"team", "b", "{}"}};
  std::string out;
  ASSERT_TRUE(WriteAmplitudeProfile(q, user, &out).ok());
  EXPECT_EQ(json::parse(out), json::parse(R"({"userData":{"recommendations":null,"user_id":"alice",
      "device_id":"device-1","amp_props":null,"cohort_ids":null,
      "groups":{"org":["acme"],"team":["a","b"]},
      "group_properties":{"org":{"acme":{"plan":"pro"}},"team":{"a":{},"b":{}}}}})"));
  user.groups.clear();
  out.clear();
  ASSERT_TRUE(WriteAmplitudeProfile(q, user, &out).ok());
  EXPECT_EQ(json::parse(out).at("userData").at("groups"), json::object{});
  EXPECT_EQ(json::parse(out).at("userData").at("group_properties"), json::object{});
  EXPECT_FALSE(ParseProfileQuery("user_id=u&get_group_props=maybe", &q).ok());
}

TEST(ProfileWire, AmplitudeDialectComputationsOnlyGiveAnEmptyObject) {
  ProfileQuery q;
  q.get_computations = true;
  std::string out;
  ASSERT_TRUE(WriteAmplitudeProfile(q, Alice(), &out).ok());
  EXPECT_EQ(json::parse(out).at("userData").at("amp_props"), json::object());
}

TEST(ProfileWire, SeedDialectWritesComputedValuesKeyedByIdAndCohortIds) {
  std::string out;
  WriteSeedProfile(ProfileQuery{}, AliceWithComputations(), &out);
  json::value v = json::parse(out);
  EXPECT_EQ(v.at("userData").at("computed_properties"),
            json::parse(R"({"7":12,"8":2.5,"9":"books"})"));
  EXPECT_EQ(v.at("userData").at("cohort_ids"), json::parse(R"(["c1","c\"2"])"));
}

TEST(ProfileWire, AmplitudeDialectPutsComputationsInAmpPropsAsStrings) {
  ProfileQuery q;
  q.get_computations = true;
  q.get_cohort_ids = true;
  std::string out;
  ASSERT_TRUE(WriteAmplitudeProfile(q, AliceWithComputations(), &out).ok());
  json::value v = json::parse(out);
  EXPECT_EQ(v.at("userData").at("amp_props"),
            json::parse(R"({"computed-prop-7":"12","computed-prop-8":"2.5",
                             "computed-prop-9":"books"})"));
  EXPECT_EQ(v.at("userData").at("cohort_ids"), json::parse(R"(["c1","c\"2"])"));
  q.get_amp_props = true;
  out.clear();
  ASSERT_TRUE(WriteAmplitudeProfile(q, AliceWithComputations(), &out).ok());
  EXPECT_EQ(json::parse(out).at("userData").at("amp_props"),
            json::parse(R"({"platform":"Web","plan":"pro","n":3,"computed-prop-7":"12",
                             "computed-prop-8":"2.5","computed-prop-9":"books"})"));
}

TEST(ProfileWire, ReadOptionsFollowTheDialect) {
  ProfileQuery q;
  ASSERT_TRUE(ParseProfileQuery("user_id=u&comp_id=7,9", &q).ok());
  read::ReadOptions seed = ReadOptionsFor(q, ProfileDialect::kSeed);
  EXPECT_TRUE(seed.computations);
  EXPECT_TRUE(seed.cohorts);
  EXPECT_EQ(seed.computation_ids, (std::vector<uint64_t>{7, 9}));
  read::ReadOptions amp = ReadOptionsFor(q, ProfileDialect::kAmplitude);
  EXPECT_TRUE(amp.computations);
  EXPECT_FALSE(amp.cohorts);
  EXPECT_EQ(amp.computation_ids, (std::vector<uint64_t>{7, 9}));
  // get_computations returns every computation, comp_id or not.
  ASSERT_TRUE(ParseProfileQuery("user_id=u&comp_id=7&get_computations=true", &q).ok());
  EXPECT_TRUE(ReadOptionsFor(q, ProfileDialect::kAmplitude).computation_ids.empty());
  ProfileQuery none;
  ASSERT_TRUE(ParseProfileQuery("user_id=u", &none).ok());
  read::ReadOptions plain = ReadOptionsFor(none, ProfileDialect::kAmplitude);
  EXPECT_FALSE(plain.computations);
  EXPECT_FALSE(plain.cohorts);
}

TEST(ProfileWire, SeedDialectWritesRecommendationsInTheSeedShape) {
  ProfileQuery q;
  q.get_recs = true;
  std::string out;
  WriteSeedProfile(q, AliceWithRecommendations(), &out);
  EXPECT_EQ(json::parse(out).at("userData").at("recommendations"), json::parse(R"([
      {"rec_id":"r1","child_ids":["sku1","sku2"],"is_control":false,
       "recommendation_type":"ease","title":"For \"you\""},
      {"rec_id":"r2","child_ids":["sku9"],"is_control":true,"recommendation_type":"random",
       "title":""}])"));
}

// The seed's Recommendation schema (tests/e2e/seed/amplitude-user-profile-api-openapi.json):
// rec_id, recommendation_type and title strings, child_ids an array of strings, is_control a
// boolean, nothing else.
TEST(ProfileWire, SeedDialectRecommendationsMatchTheSeedSchema) {
  ProfileQuery q;
  q.get_recs = true;
  std::string out;
  WriteSeedProfile(q, AliceWithRecommendations(), &out);
  const json::value body = json::parse(out);
  const json::array& recs = body.at("userData").at("recommendations").as_array();
  ASSERT_EQ(recs.size(), 2u);
  for (const json::value& v : recs) {
    const json::object& r = v.as_object();
    EXPECT_EQ(r.size(), 5u);
    EXPECT_TRUE(r.at("rec_id").is_string());
    EXPECT_TRUE(r.at("recommendation_type").is_string());
    EXPECT_TRUE(r.at("title").is_string());
    EXPECT_TRUE(r.at("is_control").is_bool());
    for (const json::value& item : r.at("child_ids").as_array()) EXPECT_TRUE(item.is_string());
  }
}

TEST(ProfileWire, SeedDialectLeavesOutRecommendationsWithoutGetRecs) {
  std::string out;
  WriteSeedProfile(ProfileQuery{}, AliceWithRecommendations(), &out);
  EXPECT_FALSE(json::parse(out).at("userData").as_object().contains("recommendations"));
}

TEST(ProfileWire, AmplitudeDialectWritesRecommendationsInAmplitudesShape) {
  ProfileQuery q;
  q.get_recs = true;
  std::string out;
  ASSERT_TRUE(WriteAmplitudeProfile(q, AliceWithRecommendations(), &out).ok());
  // last_updated is in Unix seconds, rounded down.
  EXPECT_EQ(json::parse(out).at("userData").at("recommendations"), json::parse(R"([
      {"rec_id":"r1","child_rec_id":"r1","items":["sku1","sku2"],"is_control":false,
       "recommendation_source":"ease","last_updated":1700000000},
      {"rec_id":"r2","child_rec_id":"r2","items":["sku9"],"is_control":true,
       "recommendation_source":"random","last_updated":1700000100}])"));
  out.clear();
  ASSERT_TRUE(WriteAmplitudeProfile(ProfileQuery{}, AliceWithRecommendations(), &out).ok());
  EXPECT_TRUE(json::parse(out).at("userData").at("recommendations").is_null());
}

TEST(ProfileWire, AmplitudeDialectRefusesStoredPropertiesThatDoNotParse) {
  ProfileQuery q;
  q.get_amp_props = true;
  std::string out;
  Status s = WriteAmplitudeProfile(q, User(1, {"alice", "", "{}", "{\"a\":}"}), &out);
  EXPECT_EQ(s.code(), ErrorCode::kCorruption);
  s = WriteAmplitudeProfile(q, User(1, {"alice", "", "[1]", "{}"}), &out);
  EXPECT_EQ(s.code(), ErrorCode::kCorruption);
}

TEST(ProfileWire, AmplitudeDialectRefusesAStoredComputedValueThatDoesNotParse) {
  // A damaged aggregates record's first/last text, found by fuzz/user_record_fuzz.cc: it went
  // into the answer as it was, which then was not JSON.
  ProfileQuery q;
  q.get_computations = true;
  for (const char* text : {"\"free'", "\"", "[1,", "\"a\"x"}) {
    read::UserData user = Alice();
    user.computed = {{6, compute::Value(compute::JsonText{text})}};
    std::string out;
    EXPECT_EQ(WriteAmplitudeProfile(q, user, &out).code(), ErrorCode::kCorruption) << text;
  }
  read::UserData user = Alice();
  user.computed = {{6, compute::Value(compute::JsonText{"[1,\"x\"]"})}};
  std::string out;
  ASSERT_TRUE(WriteAmplitudeProfile(q, user, &out).ok());
  EXPECT_EQ(json::parse(out).at("userData").at("amp_props"),
            json::parse(R"({"computed-prop-6":"[1,\"x\"]"})"));
}

}  // namespace
}  // namespace profiled::api
