// The console's static files (src/server/console/: the page, its script, its stylesheet),
// compiled into the binary at build time (cmake/embed_text.cmake) and served at GET /console
// and GET /console/{name} without authentication: they hold no data. The page asks the admin
// API for everything it shows, with the admin token its user signs in with (docs/API.md,
// "Console").
//
// Pure functions over static data; thread-safe.
#pragma once

#include <string_view>

#include "api/endpoints.h"

namespace profiled::server {

// The answer to GET `path`, a path at or below /console: "/console" and "/console/" are the
// page (text/html), "/console/app.js" its script (text/javascript), "/console/console.css" its
// stylesheet (text/css), each 200 with `Cache-Control: no-cache` (the names carry no version:
// a browser asks again after an upgrade), `X-Content-Type-Options: nosniff` and the page's
// Content-Security-Policy (scripts, styles and requests of its own origin only, no inline
// script, no framing). Any other name is 404 {"code":404,"error":"No such console file"}.
api::HttpResponse ConsoleAsset(std::string_view path);

}  // namespace profiled::server
