#include "api/json_writer.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace profiled::api {
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

}  // namespace
}  // namespace profiled::api
