#include "core/json_writer.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <iterator>
#include <random>

namespace profiled {
namespace {

TEST(JsonWriter, EscapesWhatJsonRequires) {
  std::string out;
  AppendJsonString(&out, std::string("a\"b\\c\nd\x01\te", 10));
  EXPECT_EQ(out, R"("a\"b\\c\nd\u0001\te")");
  EXPECT_EQ(boost::json::parse(out).as_string(), std::string("a\"b\\c\nd\x01\te", 10));
}

TEST(JsonWriter, KeepsUtf8AsIs) {
  std::string out;
  AppendJsonString(&out, "h\xC3\xA9");
  EXPECT_EQ(out, "\"h\xC3\xA9\"");
}

TEST(JsonWriter, WritesIntegers) {
  std::string out;
  AppendJsonInt(&out, -42);
  out += ',';
  AppendJsonUint(&out, 18446744073709551615ull);
  EXPECT_EQ(out, "-42,18446744073709551615");
}

TEST(JsonWriter, InvalidUtf8BecomesTheReplacementCharacter) {
  std::string out;
  // A lone continuation byte, a cut sequence, an overlong form, a surrogate, 0xFF.
  AppendJsonString(&out,
                   "a\x80"
                   "b\xC3\xA9\xE2\x82\xC0\xAF\xED\xA0\x80\xFF\xF0\x9F\x8E\x89");
  EXPECT_EQ(out,
            "\"a\\ufffd"
            "b\xC3\xA9\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\xF0\x9F\x8E\x89\"");
  EXPECT_NO_THROW(boost::json::parse(out));
}

TEST(JsonWriter, LongStringsRoundTripWhereverTheSpecialCharactersFall) {
  const std::string pieces[] = {
      "a", "b", "\"", "\\", "\n", "\x01", "\x1f", " ", "\x7f", "\xC3\xA9", "\xF0\x9F\x8E\x89", "/"};
  std::mt19937 random(7);
  for (int round = 0; round < 2000; ++round) {
    std::string s;
    size_t length = random() % 40;
    for (size_t i = 0; i < length; ++i) s += pieces[random() % std::size(pieces)];
    std::string out;
    AppendJsonString(&out, s);
    EXPECT_EQ(boost::json::parse(out).as_string(), s) << out;
  }
}

TEST(JsonWriter, Utf8PrefixNeverCutsACharacter) {
  EXPECT_EQ(Utf8Prefix("abc", 5), "abc");
  EXPECT_EQ(Utf8Prefix("ab\xC3\xA9", 3), "ab");
  EXPECT_EQ(Utf8Prefix("ab\xC3\xA9", 4), "ab\xC3\xA9");
  EXPECT_EQ(Utf8Prefix("\xF0\x9F\x8E\x89x", 3), "");
}

std::string Double(double v) {
  std::string out;
  AppendJsonDouble(&out, v);
  return out;
}

TEST(JsonWriter, WritesDoublesAsPeopleWriteThem) {
  EXPECT_EQ(Double(0.1), "0.1");
  EXPECT_EQ(Double(-0.0), "0");
  EXPECT_EQ(Double(0.0), "0");
  EXPECT_EQ(Double(1.5), "1.5");
  EXPECT_EQ(Double(-2.25), "-2.25");
  EXPECT_EQ(Double(100.0), "100");
  EXPECT_EQ(Double(18446744073709551616.0), "18446744073709552000");
  EXPECT_EQ(Double(1e20), "100000000000000000000");
  EXPECT_EQ(Double(1e21), "1e+21");
  EXPECT_EQ(Double(1.5e-7), "1.5e-7");
  EXPECT_EQ(Double(0.000001), "0.000001");
  EXPECT_EQ(Double(123456.789), "123456.789");
  EXPECT_EQ(Double(1.7976931348623157e308), "1.7976931348623157e+308");
  EXPECT_EQ(Double(5e-324), "5e-324");
}

TEST(JsonWriter, DoublesReadBackExactly) {
  for (double v : {0.1, 1.0 / 3, 2.0 / 3 * 1e15, 123e-20, 9007199254740993.0, -1e300, 4.35,
                   1.7976931348623157e308, 2.2250738585072014e-308}) {
    std::string text = Double(v);
    EXPECT_EQ(boost::json::parse(text).to_number<double>(), v) << text;
  }
}

}  // namespace
}  // namespace profiled
