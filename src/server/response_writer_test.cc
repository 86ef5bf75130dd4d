#include "server/response_writer.h"

#include <gtest/gtest.h>

namespace profiled::server {
namespace {

TEST(ResponseWriter, WritesStatusHeadersAndBody) {
  std::string out;
  WriteResponse({200, "application/json", "{}"}, true, {}, &out);
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\nServer: profiled\r\nContent-Type: application/json\r\n"
            "Content-Length: 2\r\n\r\n{}");
}

TEST(ResponseWriter, ClosingAndCorsHeaders) {
  std::string out;
  WriteResponse({404, "text/plain", ""}, false, "*", &out);
  EXPECT_EQ(out,
            "HTTP/1.1 404 Not Found\r\nServer: profiled\r\nContent-Type: text/plain\r\n"
            "Content-Length: 0\r\nAccess-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n");
}

TEST(ResponseWriter, RetryAfterIsSentWhenSet) {
  std::string out;
  api::HttpResponse response{503, "application/json", R"({"code":503,"error":"full"})"};
  response.retry_after_seconds = 2;
  WriteResponse(response, true, {}, &out);
  EXPECT_NE(out.find("\r\nRetry-After: 2\r\n"), std::string::npos) << out;
  out.clear();
  WriteResponse({503, "application/json", "{}"}, true, {}, &out);
  EXPECT_EQ(out.find("Retry-After"), std::string::npos);
}

TEST(ResponseWriter, A405NamesTheMethodsItsPathAllows) {
  std::string out;
  api::HttpResponse response{405, "application/json", "{}"};
  response.allow = "GET, OPTIONS";
  WriteResponse(response, true, {}, &out);
  EXPECT_NE(out.find("\r\nAllow: GET, OPTIONS\r\n"), std::string::npos) << out;
  out.clear();
  WriteResponse({405, "application/json", "{}"}, true, {}, &out);
  EXPECT_NE(out.find("\r\nAllow: GET, POST, OPTIONS\r\n"), std::string::npos) << out;
  out.clear();
  response.status = 200;  // only a 405 has one
  WriteResponse(response, true, {}, &out);
  EXPECT_EQ(out.find("Allow:"), std::string::npos) << out;
}

TEST(ResponseWriter, PreflightEchoesRequestedHeaders) {
  std::string out;
  WritePreflight("https://app.example", "content-type,x-custom", true, "*", &out);
  EXPECT_NE(out.find("HTTP/1.1 204 No Content\r\n"), std::string::npos);
  EXPECT_NE(out.find("Access-Control-Allow-Origin: *\r\n"), std::string::npos);
  EXPECT_NE(out.find("Access-Control-Allow-Headers: content-type,x-custom\r\n"), std::string::npos);
  EXPECT_NE(out.find("Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n"), std::string::npos);
}

}  // namespace
}  // namespace profiled::server
