#include "server/console_assets.h"

#include <gtest/gtest.h>

#include <string>

#include "server/response_writer.h"
#include "server/routes.h"

namespace profiled::server {
namespace {

TEST(ConsoleAssets, ThePageAndItsFilesAreServedWithTheirTypes) {
  for (const char* path : {"/console", "/console/"}) {
    api::HttpResponse page = ConsoleAsset(path);
    EXPECT_EQ(page.status, 200) << path;
    EXPECT_STREQ(page.content_type, "text/html; charset=utf-8");
    EXPECT_NE(page.body.find("<script src=\"/console/app.js\""), std::string::npos);
    EXPECT_NE(page.body.find("href=\"/console/console.css\""), std::string::npos);
  }
  api::HttpResponse js = ConsoleAsset("/console/app.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_STREQ(js.content_type, "text/javascript; charset=utf-8");
  EXPECT_NE(js.body.find("sessionStorage"), std::string::npos);
  api::HttpResponse css = ConsoleAsset("/console/console.css");
  EXPECT_EQ(css.status, 200);
  EXPECT_STREQ(css.content_type, "text/css; charset=utf-8");
  EXPECT_FALSE(css.body.empty());
}

// The script sets no element's markup from a string: every value is text (textContent).
TEST(ConsoleAssets, TheScriptNeverWritesMarkup) {
  std::string js(ConsoleAsset("/console/app.js").body);
  for (const char* sink :
       {"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("}) {
    EXPECT_EQ(js.find(sink), std::string::npos) << sink;
  }
}

TEST(ConsoleAssets, HeadersForbidSniffingFramingAndOtherOrigins) {
  std::string out;
  WriteResponse(ConsoleAsset("/console"), true, {}, &out);
  EXPECT_NE(out.find("\r\nCache-Control: no-cache\r\n"), std::string::npos) << out.substr(0, 600);
  EXPECT_NE(out.find("\r\nX-Content-Type-Options: nosniff\r\n"), std::string::npos);
  EXPECT_NE(out.find("\r\nContent-Security-Policy: default-src 'none'; script-src 'self'; "),
            std::string::npos);
  EXPECT_NE(out.find("frame-ancestors 'none'\r\n\r\n<!doctype html>"), std::string::npos);
}

TEST(ConsoleAssets, UnknownNamesAre404) {
  for (const char* path : {"/console/app.js.map", "/console/index.html", "/console/../metrics",
                           "/console/app.js/", "/console/x/app.js", "/consolex"}) {
    api::HttpResponse r = ConsoleAsset(path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(r.body, R"({"code":404,"error":"No such console file"})");
    EXPECT_TRUE(r.extra_headers.empty());
  }
}

TEST(ConsoleAssets, RoutesReachTheConsoleWithGetOnly) {
  EXPECT_EQ(MatchRoute("GET", "/console"), Route::kConsole);
  EXPECT_EQ(MatchRoute("GET", "/console/app.js"), Route::kConsole);
  EXPECT_EQ(MatchRoute("GET", "/console/anything"), Route::kConsole);
  EXPECT_EQ(MatchRoute("POST", "/console"), Route::kMethodNotAllowed);
  EXPECT_EQ(MatchRoute("GET", "/consoles"), Route::kNotFound);
  EXPECT_STREQ(RouteName(Route::kConsole), "/console");
}

}  // namespace
}  // namespace profiled::server
