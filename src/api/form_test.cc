#include "api/form.h"

#include <gtest/gtest.h>

namespace profiled::api {
namespace {

TEST(Form, DecodesUrlencodedPairs) {
  std::map<std::string, std::string> f;
  EXPECT_EQ(ParseFormBody("application/x-www-form-urlencoded",
                          "api_key=k%201&identification=%7B%22a%22%3A1%7D&x=a+b&empty=&x=2", &f),
            "");
  EXPECT_EQ(f.at("api_key"), "k 1");
  EXPECT_EQ(f.at("identification"), R"({"a":1})");
  EXPECT_EQ(f.at("x"), "a b");  // the first of a repeated name wins
  EXPECT_EQ(f.at("empty"), "");
}

TEST(Form, RejectsBrokenPercentEncoding) {
  std::map<std::string, std::string> f;
  EXPECT_NE(ParseFormBody("", "a=%zz", &f), "");
  EXPECT_NE(ParseFormBody("", "a=%4", &f), "");
}

TEST(Form, DecodesMultipart) {
  std::string body =
      "--XyZ\r\nContent-Disposition: form-data; name=\"api_key\"\r\n\r\nkey-1\r\n"
      "--XyZ\r\nContent-Disposition: form-data; name=\"identification\"\r\n"
      "Content-Type: application/json\r\n\r\n{\"user_id\":\"u\"}\r\n--XyZ--\r\n";
  std::map<std::string, std::string> f;
  EXPECT_EQ(ParseFormBody("multipart/form-data; boundary=XyZ", body, &f), "");
  EXPECT_EQ(f.at("api_key"), "key-1");
  EXPECT_EQ(f.at("identification"), R"({"user_id":"u"})");
}

TEST(Form, MultipartWithoutBoundaryIsAnError) {
  std::map<std::string, std::string> f;
  EXPECT_EQ(ParseFormBody("multipart/form-data", "x", &f),
            "multipart/form-data without a boundary");
  EXPECT_NE(ParseFormBody("multipart/form-data; boundary=b", "--b\r\nno end", &f), "");
}

TEST(Form, QueryFieldsStopWhenTheCallbackSaysSo) {
  int seen = 0;
  EXPECT_FALSE(ForEachFormField("a=1&b=2&c=3",
                                [&](std::string_view, const std::string&) { return ++seen < 2; }));
  EXPECT_EQ(seen, 2);
}

TEST(PathSegments, SplitsOnSlashesAndDropsEmptySegments) {
  EXPECT_EQ(PathSegments("/admin/v1//projects/p/"),
            (std::vector<std::string_view>{"admin", "v1", "projects", "p"}));
  EXPECT_TRUE(PathSegments("/").empty());
  EXPECT_TRUE(PathSegments("").empty());
}

TEST(DecodePathSegment, DecodesPercentEscapesAndKeepsPlus) {
  std::string out;
  ASSERT_TRUE(DecodePathSegment("a%2Bb%2Fc+d%20e", &out));
  EXPECT_EQ(out, "a+b/c+d e");
  EXPECT_FALSE(DecodePathSegment("a%2", &out));
  EXPECT_FALSE(DecodePathSegment("a%zz", &out));
}

}  // namespace
}  // namespace profiled::api
