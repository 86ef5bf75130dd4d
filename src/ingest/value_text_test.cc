#include "ingest/value_text.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <limits>

namespace profiled::ingest {
namespace {

namespace json = boost::json;

TEST(ValueText, WritesNumbersAsPeopleWriteThem) {
  json::value v =
      json::parse(R"({"a":0.1,"b":-0.0,"c":18446744073709551616,"d":9223372036854775807,)"
                  R"("e":18446744073709551615,"f":[1.5e-7,100,-3],"g":"x\"y","h":null,"i":true})");
  EXPECT_EQ(ValueText(v),
            R"({"a":0.1,"b":0,"c":18446744073709552000,"d":9223372036854775807,)"
            R"("e":18446744073709551615,"f":[1.5e-7,100,-3],"g":"x\"y","h":null,"i":true})");
}

TEST(ValueText, FindsNonFiniteNumbersAtAnyDepth) {
  EXPECT_FALSE(HasNonFiniteNumber(json::parse(R"({"a":[1,{"b":1e308}]})")));
  EXPECT_TRUE(HasNonFiniteNumber(json::parse(R"({"a":[1,{"b":1e309}]})")));
  EXPECT_TRUE(HasNonFiniteNumber(json::parse("-1e309")));
  EXPECT_TRUE(HasNonFiniteNumber(json::value(std::numeric_limits<double>::quiet_NaN())));
}

TEST(ValueText, StoredNonFiniteWordsAreRepairedOutsideStrings) {
  // What Boost.JSON 1.81 wrote for 1e309, -1e309 and NaN in profiled's first version.
  json::object o;
  ASSERT_TRUE(
      ParseStoredObject(
          R"({"big":Infinity,"small":-Infinity,"nan":NaN,"s":"Infinity \"NaN\"","n":1E-1})", &o)
          .ok());
  EXPECT_EQ(ObjectText(o),
            R"({"big":1.7976931348623157e+308,"small":-1.7976931348623157e+308,"nan":null,)"
            R"("s":"Infinity \"NaN\"","n":0.1})");
}

TEST(ValueText, StoredValuesAsDeepAsIngestionAllowsParse) {
  std::string deep = std::string(41, '[') + "1" + std::string(41, ']');
  json::object o;
  ASSERT_TRUE(ParseStoredObject(R"({"deep":)" + deep + "}", &o).ok());
  EXPECT_EQ(ObjectText(o), R"({"deep":)" + deep + "}");
}

TEST(ValueText, StoredTextThatIsNotAnObjectIsCorruption) {
  json::object o;
  EXPECT_EQ(ParseStoredObject("[1]", &o).code(), ErrorCode::kCorruption);
  EXPECT_EQ(ParseStoredObject("{\"a\":", &o).code(), ErrorCode::kCorruption);
  EXPECT_EQ(ParseStoredObject("{\"a\":Infinit}", &o).code(), ErrorCode::kCorruption);
}

}  // namespace
}  // namespace profiled::ingest
