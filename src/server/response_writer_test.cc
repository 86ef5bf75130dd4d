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
