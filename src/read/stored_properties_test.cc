#include "read/stored_properties.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/value_text.h"

namespace profiled::read {
namespace {

namespace json = boost::json;

// What the full reader gives for `names`: the reference PickStoredProperties must match.
json::object Reference(std::string_view text, const std::vector<std::string>& names) {
  json::object all;
  EXPECT_TRUE(ParseStoredObject(text, &all).ok()) << text;
  json::object picked;
  for (const std::string& name : names) {
    if (const json::value* v = all.if_contains(name)) picked[name] = *v;
  }
  return picked;
}

// `text` (an object) with a long first member: over the length above which the names are
// searched for before the members are scanned.
std::string Padded(std::string_view text) {
  return R"({"pad":")" + std::string(2100, 'x') + "\"," + std::string(text.substr(1));
}

// PickStoredProperties' picks as an object of the names found, for comparing with Reference.
Status PickInto(std::string_view text, const std::vector<std::string>& names, json::object* out) {
  json::array values;
  std::vector<const json::value*> found;
  Status s = PickStoredProperties(text, names, &values, &found);
  out->clear();
  if (!s.ok()) return s;
  EXPECT_EQ(found.size(), names.size());
  for (size_t i = 0; i < found.size(); ++i) {
    if (found[i] != nullptr) (*out)[names[i]] = *found[i];
  }
  return s;
}

json::object Pick(std::string_view text, const std::vector<std::string>& names) {
  json::object out;
  Status s = PickInto(text, names, &out);
  EXPECT_TRUE(s.ok()) << s.ToString() << " for " << text;
  return out;
}

TEST(PickStoredProperties, PicksTheNamedMembersAsTheFullReaderReadsThem) {
  const std::vector<std::string> names = {"a", "b", "c", "d", "e", "f", "g", "h", "plan"};
  const std::vector<std::string> texts = {
      R"({})",
      R"( { } )",
      R"({"plan":"pro","visits":3})",
      R"({"a":1,"b":-2.5,"c":true,"d":false,"e":null,"f":"x","g":[1,{"h":2}],"h":{"i":[]}})",
      R"({"skip":{"deep":["}",{"]":"\"{"}]},"a":"after a nested value"})",
      R"({"a":97.43057599473337,"b":1e400,"c":18446744073709551615,"d":-0})",
      R"({"a":0,"b":-1,"c":123456789012345678,"d":-123456789012345678,"e":1234567890123456789})",
      R"({"a":-0.0,"b":1.0,"c":1e2,"d":-12,"e":-0})",
      R"({"a":"caf\u00e9","b":"tab\there","c":"\"quoted\"","d":"é ü","e":"\u0001"})",
      R"({ "a" : 1 , "b" : [ 1 , 2 ] , "plan" : "team" })",
      R"({"x\"y":1,"a":2})",
      R"({"a":Infinity,"b":-Infinity,"c":NaN})",
      R"({"a\u0062":1,"b":2})",
      R"({"a":1, "plan":"team"})",
      R"({"a":1,"b":[1, 2],"plan":{ "x" : "y" }})",
  };
  for (const std::string& text : texts) {
    EXPECT_EQ(Pick(text, names), Reference(text, names)) << text;
    if (text.find('"') == std::string::npos) continue;  // an empty object: nothing to pad
    // The same text over the length above which the names are searched for first.
    EXPECT_EQ(Pick(Padded(text), names), Reference(Padded(text), names)) << text;
  }
}

TEST(PickStoredProperties, ForgetsTheCompactScansPicksWhenItGivesUp) {
  // The compact scan picks "a", then gives up at the space; the general scan must start
  // from nothing, or it would not count "a", read on past "b" and fail at the damaged "c"
  // (which picking never reaches once every name is found).
  json::object out;
  ASSERT_TRUE(PickInto(R"({"a":1, "b":2,"c":})", {"a", "b"}, &out).ok());
  EXPECT_EQ(out, (json::object{{"a", 1}, {"b", 2}}));
}

TEST(PickStoredProperties, LeavesOutNamesThatAreNotThere) {
  EXPECT_TRUE(Pick(R"({"plan":"pro"})", {"country"}).empty());
  EXPECT_TRUE(Pick(R"({"plan":"pro"})", {}).empty());
}

TEST(PickStoredProperties, KeepsExactNumbers) {
  json::object picked = Pick(R"({"n":97.43057599473337})", {"n"});
  EXPECT_EQ(picked.at("n").as_double(), 97.43057599473337);
}

TEST(PickStoredProperties, AllocatesWithTheValuesStorage) {
  unsigned char buffer[1024];
  json::monotonic_resource resource(buffer, sizeof(buffer));
  json::array values(&resource);
  std::vector<const json::value*> found;
  ASSERT_TRUE(PickStoredProperties(R"({"long":"a string longer than any small buffer"})", {"long"},
                                   &values, &found)
                  .ok());
  ASSERT_NE(found[0], nullptr);
  EXPECT_EQ(found[0]->storage().get(), values.storage().get());
}

TEST(PickStoredProperties, RefusesTextThatIsNotAnObject) {
  for (std::string_view text :
       {"", "[]", "{", R"({"a":1)", R"({"a" 1})", R"({,"a":1})", R"({"a":1}x)", "nonsense",
        R"({"a":tru})", R"({"a":012})", R"({"a":"unterminated})", R"({"a":[1,2})", "\"a\""}) {
    json::object out;
    EXPECT_EQ(PickInto(text, {"a"}, &out).code(), ErrorCode::kCorruption) << text;
  }
}

TEST(PickStoredProperties, LeavesNothingFoundWhenItRefusesAText) {
  // "a" is picked before "b"'s value turns out damaged, by the compact scan and by the
  // general one; the refusal must not leave it found.
  for (std::string_view text : {R"({"a":1,"b":tru})", R"({"a":1, "b":tru})"}) {
    json::array values;
    std::vector<const json::value*> found;
    EXPECT_EQ(PickStoredProperties(text, {"a", "b"}, &values, &found).code(),
              ErrorCode::kCorruption)
        << text;
    EXPECT_EQ(found, (std::vector<const json::value*>{nullptr, nullptr})) << text;
  }
}

TEST(PickStoredProperties, FindsNothingWhenNoNameOccursInTheText) {
  // Short texts are scanned, long ones searched first: both must read the same.
  for (bool padded : {false, true}) {
    auto text = [&](std::string_view t) { return padded ? Padded(t) : std::string(t); };
    json::object out;
    // "plan" occurs only inside a longer name and a value: not a member.
    ASSERT_TRUE(PickInto(text(R"({"plans":1,"x":"my plan"})"), {"plan"}, &out).ok());
    EXPECT_TRUE(out.empty());
    // A name written as a value is looked at properly, and still not taken as a member.
    ASSERT_TRUE(PickInto(text(R"({"x":"plan","plan":2})"), {"plan"}, &out).ok());
    EXPECT_EQ(out.at("plan").as_int64(), 2);
    out.clear();
    ASSERT_TRUE(PickInto(text(R"({"x":"plan"})"), {"plan"}, &out).ok());
    EXPECT_TRUE(out.empty());
    // A name that may be escaped in the text is never ruled out by the search.
    ASSERT_TRUE(PickInto(text(R"({"a\"b":3})"), {"a\"b"}, &out).ok());
    EXPECT_EQ(out.at("a\"b").as_int64(), 3);
  }
}

TEST(PickStoredProperties, PicksAmongManyNamesAsAmongFew) {
  // Past 16 names, members are looked up by a binary search instead of one by one.
  std::vector<std::string> names;
  names.reserve(40);
  for (int i = 0; i < 40; ++i) names.push_back("n" + std::to_string(100 + i));
  std::sort(names.begin(), names.end());
  const std::string text = R"({"n105":1,"x":2,"n139":"last","n1000":3})";
  json::object picked = Pick(text, names);
  EXPECT_EQ(picked, Reference(text, names));
  EXPECT_EQ(picked.size(), 2u);
}

TEST(PickStoredProperties, ANameThatOccursOnlyNestedDoesNotStopThePickEarly) {
  // "b" occurs in the text only inside "a"'s value, so picking cannot stop after "a": it
  // goes on to the end and still finds "c".
  for (const std::string& text :
       {std::string(R"({"a":{"b":1},"x":"b","c":2})"), Padded(R"({"a":{"b":1},"x":"b","c":2})")}) {
    json::object out;
    ASSERT_TRUE(PickInto(text, {"a", "b", "c"}, &out).ok());
    EXPECT_EQ(out.size(), 2u);
    EXPECT_TRUE(out.at("a").is_object());
    EXPECT_EQ(out.at("c").as_int64(), 2);
    EXPECT_FALSE(out.contains("b"));
  }
}

TEST(PickStoredProperties, NeverReadsOutsideTheTextWhateverItHolds) {
  // Every prefix of a valid text: each is refused or read, never a crash (run under ASan).
  // With escapes, and without (a text core/json_writer.h could have written, scanned apart).
  for (const std::string text :
       {R"({"a":{"b":["c\"",1.5,{"d":null}]},"e":"f\\","g":true,"h":-12,"i":"\u00e9"})",
        R"({"a":{"b":["c",1.5,{"d":null}]},"e":"f","g":true,"h":-12,"i":"é"})"}) {
    for (size_t n = 0; n <= text.size(); ++n) {
      // An allocation of exactly n bytes, so ASan catches a read one past its end (a
      // std::string would end in its inline buffer or a NUL).
      const auto bytes = std::make_unique<char[]>(n);
      std::copy_n(text.data(), n, bytes.get());
      const std::string_view prefix(bytes.get(), n);
      json::object out;
      Status s = PickInto(prefix, {"a", "e", "g", "h", "i"}, &out);
      // Read when whole; refused when not braced like an object. (A prefix that happens to end
      // in a nested object's brace may be read: members after the last picked one are not
      // scanned.)
      if (n == text.size()) {
        EXPECT_TRUE(s.ok()) << prefix;
      } else if (!prefix.ends_with('}')) {
        EXPECT_FALSE(s.ok()) << prefix;
      }
    }
  }
}

}  // namespace
}  // namespace profiled::read
