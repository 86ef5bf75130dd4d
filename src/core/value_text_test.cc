#include "core/value_text.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string_view>
#include <utility>

namespace profiled {
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

TEST(ValueText, EveryDoubleReadsAndWritesBackExactly) {
  // Boost.JSON 1.81's own parser misreads about one in ten of these.
  std::mt19937_64 random(42);
  std::uniform_real_distribution<double> mantissa(1.0, 10.0);
  std::uniform_int_distribution<int> exponent(-30, 30);
  for (int i = 0; i < 20000; ++i) {
    double v = mantissa(random) * std::pow(10.0, exponent(random));
    if (i % 2 == 1) v = -v;
    json::value written(v);
    std::string text = ValueText(written);
    boost::system::error_code ec;
    json::value read = ParseJson(text, 8, &ec);
    ASSERT_FALSE(ec) << text;
    // Integral doubles are written without a fraction, so they read back as integers.
    ASSERT_EQ(read.to_number<double>(), v) << text;
    ASSERT_EQ(ValueText(read), text);
  }
  boost::system::error_code ec;
  EXPECT_EQ(
      ValueText(ParseJson("[97.43057599473337,962.0190834121097,0.30000000000000004]", 8, &ec)),
      "[97.43057599473337,962.0190834121097,0.30000000000000004]");
}

TEST(ValueText, ReadBackNumberIsWhatTheWrittenTextReadsAs) {
  const double cases[] = {2.0,
                          -0.0,
                          0.5,
                          0.0,
                          9.2e18,
                          9223372036854775808.0,
                          -9223372036854775808.0,
                          18446744073709551616.0,
                          1e20,
                          1e21,
                          -1e300,
                          5e-324,
                          123456789.0};
  for (double d : cases) {
    json::value written(d);
    boost::system::error_code ec;
    json::value read = ParseJson(ValueText(written), 8, &ec);
    ASSERT_FALSE(ec);
    EXPECT_EQ(ReadBackNumber(d), read) << ValueText(written);
    EXPECT_EQ(ToReadBackNumbers(&written), !read.is_double()) << ValueText(written);
    EXPECT_EQ(written, read);
  }
  EXPECT_EQ(ReadBackNumber(2.0), json::value(2));
  EXPECT_EQ(ReadBackNumber(9223372036854775808.0), json::value(9223372036854776000ull));
  // -2^63 is written -9223372036854776000, below int64's range: it reads back as a double.
  EXPECT_TRUE(ReadBackNumber(-9223372036854775808.0).is_double());
  EXPECT_TRUE(ReadBackNumber(1e20).is_double());  // written 100000000000000000000: past uint64
  json::value nested = json::parse(R"({"a":[1.0,{"b":2.5,"c":-0.0}],"d":"3.0"})");
  EXPECT_TRUE(HasNumberReadBackDifferently(nested));
  EXPECT_TRUE(ToReadBackNumbers(&nested));
  EXPECT_FALSE(HasNumberReadBackDifferently(nested));
  EXPECT_EQ(nested, json::parse(R"({"a":[1,{"b":2.5,"c":0}],"d":"3.0"})"));
}

TEST(ValueText, ParseDecimalDigitsReadsOneTo18DigitsOnly) {
  int64_t n = -1;
  for (auto [text, want] : {std::pair<std::string_view, int64_t>{"0", 0},
                            {"007", 7},
                            {"550000000", 550000000},
                            {"999999999999999999", 999999999999999999}}) {
    ASSERT_TRUE(ParseDecimalDigits(text, &n)) << text;
    EXPECT_EQ(n, want) << text;
  }
  for (std::string_view text : {"", "1000000000000000000", "-1", "+1", "1.0", "1e3", " 1", "12a"}) {
    n = -1;
    EXPECT_FALSE(ParseDecimalDigits(text, &n)) << text;
    EXPECT_EQ(n, -1) << text;  // untouched
  }
}

TEST(ValueText, ParseJsonReportsWhatBoostReports) {
  boost::system::error_code ec;
  ParseJson("{\"a\":1} x", 8, &ec);
  EXPECT_TRUE(ec);
  ParseJson("[[[1]]]", 2, &ec);
  EXPECT_TRUE(ec);
  ParseJson("[[[1]]]", 3, &ec);
  EXPECT_FALSE(ec);
  json::value v = ParseJson("[1e309,-1e400,1e-400,18446744073709551615,-5]", 8, &ec);
  EXPECT_FALSE(ec);
  EXPECT_TRUE(HasNonFiniteNumber(v));
  EXPECT_EQ(v.at(2).get_double(), 0.0);
  EXPECT_EQ(v.at(3).get_uint64(), 18446744073709551615ull);
  EXPECT_EQ(v.at(4).get_int64(), -5);
}

TEST(ValueText, TextSizeBoundIsAtLeastTheTextSize) {
  for (const char* text : {R"({"a":[1,-2.5e-300,"x\"y",null,true,{"k\n":"é"}],"b":{}})", R"("")",
                           "18446744073709551615", R"([[],[[]],{}])", "-1.7976931348623157e308"}) {
    json::value v = json::parse(text);
    EXPECT_GE(TextSizeBound(v), ValueText(v).size()) << text;
  }
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
}  // namespace profiled
