#include "server/console_assets.h"

namespace profiled::server {

// Generated from src/server/console/ by cmake/embed_text.cmake (src/server/CMakeLists.txt).
std::string_view ConsoleHtml();
std::string_view ConsoleJs();
std::string_view ConsoleCss();

namespace {

// The page renders every server value as text, never as markup; the policy is the second
// line: were a value ever parsed as HTML, no inline script or handler of it would run, and
// nothing could be loaded from or sent to another origin. `img-src data:` is the page's empty
// favicon (no request for /favicon.ico).
constexpr std::string_view kHeaders =
    "\r\nCache-Control: no-cache"
    "\r\nX-Content-Type-Options: nosniff"
    "\r\nReferrer-Policy: no-referrer"
    "\r\nContent-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'";

api::HttpResponse File(const char* content_type, std::string_view body) {
  api::HttpResponse response{200, content_type, std::string(body)};
  response.extra_headers = kHeaders;
  return response;
}

}  // namespace

api::HttpResponse ConsoleAsset(std::string_view path) {
  if (path == "/console" || path == "/console/")
    return File("text/html; charset=utf-8", ConsoleHtml());
  if (path == "/console/app.js") return File("text/javascript; charset=utf-8", ConsoleJs());
  if (path == "/console/console.css") return File("text/css; charset=utf-8", ConsoleCss());
  return {404, "application/json", R"({"code":404,"error":"No such console file"})"};
}

}  // namespace profiled::server
