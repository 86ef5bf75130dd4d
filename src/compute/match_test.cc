#include "compute/match.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace profiled::compute {
namespace {

namespace json = boost::json;

Filter F(FilterOp op, std::vector<std::string> values = {}) {
  return Filter{"p", op, std::move(values)};
}

bool M(FilterOp op, std::vector<std::string> values, const json::value& v) {
  return Matches(F(op, std::move(values)), &v);
}

bool Missing(FilterOp op, std::vector<std::string> values = {"x"}) {
  return Matches(F(op, std::move(values)), nullptr);
}

TEST(Match, IsComparesStringsCaseSensitively) {
  EXPECT_TRUE(M(FilterOp::kIs, {"books"}, json::value("books")));
  EXPECT_FALSE(M(FilterOp::kIs, {"Books"}, json::value("books")));
  EXPECT_TRUE(M(FilterOp::kIs, {"music", "books"}, json::value("books")));
  EXPECT_FALSE(M(FilterOp::kIs, {"book"}, json::value("books")));
}

TEST(Match, IsComparesNumbersAsNumbersWhenBothSidesAreNumeric) {
  EXPECT_TRUE(M(FilterOp::kIs, {"12.5"}, json::value(12.5)));
  EXPECT_TRUE(M(FilterOp::kIs, {"12.50"}, json::value("12.5")));
  EXPECT_TRUE(M(FilterOp::kIs, {"3"}, json::value(3.0)));
  EXPECT_TRUE(M(FilterOp::kIs, {"3.0"}, json::value(3)));
  EXPECT_TRUE(M(FilterOp::kIs, {"1e3"}, json::value(1000)));
  EXPECT_TRUE(M(FilterOp::kIs, {"18446744073709551615"},
                json::value(std::numeric_limits<uint64_t>::max())));
  EXPECT_FALSE(M(FilterOp::kIs, {"12.51"}, json::value(12.5)));
}

TEST(Match, IsFallsBackToTextWhenOneSideIsNotNumeric) {
  EXPECT_FALSE(M(FilterOp::kIs, {"12abc"}, json::value(12)));
  EXPECT_TRUE(M(FilterOp::kIs, {" 12"}, json::value(" 12")));
  EXPECT_FALSE(M(FilterOp::kIs, {" 12"}, json::value(12)));
}

TEST(Match, IsComparesBooleansAsTrueOrFalse) {
  EXPECT_TRUE(M(FilterOp::kIs, {"true"}, json::value(true)));
  EXPECT_TRUE(M(FilterOp::kIs, {"false"}, json::value(false)));
  EXPECT_FALSE(M(FilterOp::kIs, {"True"}, json::value(true)));
  EXPECT_FALSE(M(FilterOp::kIs, {"1"}, json::value(true)));
}

TEST(Match, IsNotIsTheNegationOfIs) {
  EXPECT_FALSE(M(FilterOp::kIsNot, {"books"}, json::value("books")));
  EXPECT_TRUE(M(FilterOp::kIsNot, {"books"}, json::value("music")));
  EXPECT_FALSE(M(FilterOp::kIsNot, {"5"}, json::value("5.0")));
}

TEST(Match, ContainsLooksForASubstringOfTheText) {
  EXPECT_TRUE(M(FilterOp::kContains, {"ook"}, json::value("books")));
  EXPECT_FALSE(M(FilterOp::kContains, {"OOK"}, json::value("books")));
  EXPECT_TRUE(M(FilterOp::kContains, {"zz", "bo"}, json::value("books")));
  EXPECT_TRUE(M(FilterOp::kContains, {"2.5"}, json::value(12.5)));
  EXPECT_TRUE(M(FilterOp::kContains, {"ru"}, json::value(true)));
}

TEST(Match, DoesNotContainIsTheNegationOfContains) {
  EXPECT_FALSE(M(FilterOp::kDoesNotContain, {"ook"}, json::value("books")));
  EXPECT_TRUE(M(FilterOp::kDoesNotContain, {"xyz"}, json::value("books")));
}

TEST(Match, OrderedOpsCompareNumbers) {
  EXPECT_TRUE(M(FilterOp::kGreater, {"10"}, json::value(10.5)));
  EXPECT_FALSE(M(FilterOp::kGreater, {"10"}, json::value(10)));
  EXPECT_TRUE(M(FilterOp::kGreaterOrEqual, {"10"}, json::value(10)));
  EXPECT_FALSE(M(FilterOp::kGreaterOrEqual, {"10"}, json::value(9.99)));
  EXPECT_TRUE(M(FilterOp::kLess, {"10"}, json::value(-3)));
  EXPECT_FALSE(M(FilterOp::kLess, {"10"}, json::value(10)));
  EXPECT_TRUE(M(FilterOp::kLessOrEqual, {"10"}, json::value(10)));
  EXPECT_FALSE(M(FilterOp::kLessOrEqual, {"10"}, json::value(10.01)));
}

TEST(Match, OrderedOpsReadNumbersThatAreStrings) {
  EXPECT_TRUE(M(FilterOp::kGreater, {"12"}, json::value("12.5")));
  EXPECT_TRUE(M(FilterOp::kLess, {"100"}, json::value("99")));  // not text order
}

TEST(Match, OrderedOpsNeverMatchANonNumericValue) {
  for (FilterOp op :
       {FilterOp::kGreater, FilterOp::kGreaterOrEqual, FilterOp::kLess, FilterOp::kLessOrEqual}) {
    EXPECT_FALSE(M(op, {"0"}, json::value("abc")));
    EXPECT_FALSE(M(op, {"0"}, json::value(true)));
    EXPECT_FALSE(M(op, {"0"}, json::value("12 ")));
    EXPECT_FALSE(M(op, {"0"}, json::value("inf")));
    EXPECT_FALSE(M(op, {"0"}, json::value("nan")));
    EXPECT_FALSE(M(op, {"0"}, json::object{{"a", 1}}));
  }
}

TEST(Match, SetAndNotSetTellPresence) {
  EXPECT_TRUE(M(FilterOp::kSet, {}, json::value("")));
  EXPECT_TRUE(M(FilterOp::kSet, {}, json::value(0)));
  EXPECT_TRUE(M(FilterOp::kSet, {}, json::array{}));
  EXPECT_TRUE(M(FilterOp::kSet, {}, json::object{}));
  EXPECT_FALSE(M(FilterOp::kSet, {}, json::value(nullptr)));
  EXPECT_FALSE(Missing(FilterOp::kSet, {}));
  EXPECT_TRUE(M(FilterOp::kNotSet, {}, json::value(nullptr)));
  EXPECT_TRUE(Missing(FilterOp::kNotSet, {}));
  EXPECT_FALSE(M(FilterOp::kNotSet, {}, json::value("x")));
}

TEST(Match, AMissingValueMatchesOnlyTheNegativeOps) {
  EXPECT_FALSE(Missing(FilterOp::kIs));
  EXPECT_TRUE(Missing(FilterOp::kIsNot));
  EXPECT_FALSE(Missing(FilterOp::kContains));
  EXPECT_TRUE(Missing(FilterOp::kDoesNotContain));
  EXPECT_FALSE(Missing(FilterOp::kGreater, {"0"}));
  EXPECT_FALSE(Missing(FilterOp::kGreaterOrEqual, {"0"}));
  EXPECT_FALSE(Missing(FilterOp::kLess, {"0"}));
  EXPECT_FALSE(Missing(FilterOp::kLessOrEqual, {"0"}));
}

TEST(Match, NullIsTreatedAsMissing) {
  json::value null;
  EXPECT_FALSE(M(FilterOp::kIs, {"null"}, null));
  EXPECT_TRUE(M(FilterOp::kIsNot, {"x"}, null));
  EXPECT_FALSE(M(FilterOp::kContains, {"n"}, null));
  EXPECT_TRUE(M(FilterOp::kDoesNotContain, {"n"}, null));
}

TEST(Match, AnArrayMatchesAPositiveOpWhenAnyElementDoes) {
  json::value tags = json::array{"a", 7, "12.5", nullptr};
  EXPECT_TRUE(M(FilterOp::kIs, {"a"}, tags));
  EXPECT_TRUE(M(FilterOp::kIs, {"7.0"}, tags));
  EXPECT_FALSE(M(FilterOp::kIs, {"b"}, tags));
  EXPECT_TRUE(M(FilterOp::kContains, {"2.5"}, tags));
  EXPECT_TRUE(M(FilterOp::kGreater, {"10"}, tags));
  EXPECT_FALSE(M(FilterOp::kGreater, {"100"}, tags));
  EXPECT_TRUE(M(FilterOp::kLess, {"8"}, tags));
}

TEST(Match, AnArrayMatchesANegativeOpWhenNoElementMatchesThePositiveOne) {
  json::value tags = json::array{"a", "b"};
  EXPECT_FALSE(M(FilterOp::kIsNot, {"a"}, tags));
  EXPECT_TRUE(M(FilterOp::kIsNot, {"c"}, tags));
  EXPECT_FALSE(M(FilterOp::kDoesNotContain, {"b"}, tags));
  EXPECT_TRUE(M(FilterOp::kDoesNotContain, {"z"}, tags));
  EXPECT_TRUE(M(FilterOp::kIsNot, {"a"}, json::array{}));
  EXPECT_FALSE(M(FilterOp::kIs, {"a"}, json::array{}));
}

TEST(Match, NestedArraysAreSearched) {
  EXPECT_TRUE(M(FilterOp::kIs, {"x"}, json::array{json::array{"x"}}));
}

TEST(Match, AnObjectMatchesOnlySet) {
  json::value o = json::object{{"a", "b"}};
  EXPECT_TRUE(M(FilterOp::kSet, {}, o));
  EXPECT_FALSE(M(FilterOp::kNotSet, {}, o));
  EXPECT_FALSE(M(FilterOp::kIs, {"a"}, o));
  EXPECT_FALSE(M(FilterOp::kIsNot, {"a"}, o));
  EXPECT_FALSE(M(FilterOp::kContains, {"a"}, o));
  EXPECT_FALSE(M(FilterOp::kDoesNotContain, {"a"}, o));
  EXPECT_FALSE(M(FilterOp::kIs, {"a"}, json::array{o}));
}

TEST(AsNumber, ReadsFiniteNumbersAndWholeNumericStrings) {
  EXPECT_EQ(AsNumber(json::value(3)), 3.0);
  EXPECT_EQ(AsNumber(json::value(uint64_t{5})), 5.0);
  EXPECT_EQ(AsNumber(json::value(2.5)), 2.5);
  EXPECT_EQ(AsNumber(json::value("12.5")), 12.5);
  EXPECT_EQ(AsNumber(json::value("12.50")), 12.5);
  EXPECT_EQ(AsNumber(json::value("-7")), -7.0);
  EXPECT_EQ(AsNumber(json::value("1e3")), 1000.0);
  EXPECT_EQ(AsNumber(std::string_view("0.1")), 0.1);
}

TEST(AsNumber, ReadsWholeNumbersAsTheGeneralParserDoes) {
  // Short integers are read without std::from_chars; they must give the very same double.
  for (const char* text : {"0", "-0", "7", "007", "-12", "550000000", "999999999999999",
                           "-999999999999999", "100000000000000"}) {
    double want = 0;
    const std::string_view t(text);
    std::from_chars(t.data(), t.data() + t.size(), want);
    std::optional<double> got = AsNumber(t);
    ASSERT_TRUE(got.has_value()) << text;
    EXPECT_EQ(*got, want) << text;
    EXPECT_EQ(std::signbit(*got), std::signbit(want)) << text;
  }
}

TEST(AsNumber, RefusesAnythingElse) {
  for (const char* text : {"", " 1", "1 ", "+1", "1,5", "12abc", "0x10", "inf", "-inf", "nan",
                           "NaN", "infinity", "1e999", "--1", "."}) {
    EXPECT_FALSE(AsNumber(std::string_view(text)).has_value()) << text;
  }
  EXPECT_FALSE(AsNumber(json::value(true)).has_value());
  EXPECT_FALSE(AsNumber(json::value(nullptr)).has_value());
  EXPECT_FALSE(AsNumber(json::array{1}).has_value());
  EXPECT_FALSE(AsNumber(json::value(std::numeric_limits<double>::infinity())).has_value());
  EXPECT_FALSE(AsNumber(json::value(std::numeric_limits<double>::quiet_NaN())).has_value());
}

}  // namespace
}  // namespace profiled::compute
