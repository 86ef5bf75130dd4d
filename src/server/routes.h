// Routes: which endpoint a method and path reach, and each route's body limit.
//
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

namespace profiled::server {

enum class Route {
  kHttpApi = 0,       // POST /2/httpapi
  kBatch,             // POST /batch
  kIdentify,          // GET|POST /identify
  kProfile,           // GET /v1/userprofile
  kHealth,            // GET /healthz
  kMetrics,           // GET /metrics
  kOpenApi,           // GET /openapi.json
  kAdmin,             // /admin/v1/... (definitions; Bearer admin_token)
  kCohorts,           // /api/3/cohorts... and /api/5/cohorts/... (Amplitude's cohort API)
  kLegacyUpload,      // POST / (amplitude-js's v1 form upload)
  kRemoteConfig,      // GET /config/{api_key} (analytics-browser's remote configuration)
  kDeletions,         // /api/2/deletions/users[/...] (Amplitude's User Privacy API)
  kPreflight,         // OPTIONS on any path (CORS)
  kMethodNotAllowed,  // a known path with the wrong method
  kInvalidPath,       // a path below an ingestion path (/2/httpapi/..., /batch/..., /identify/...)
  kNotFound,          // any other path
  kGroupIdentify,     // GET|POST /groupidentify (Amplitude's Group Identify API)
  kConsole,           // GET /console and /console/{asset} (the console's static files)
  kCount,
};

// The largest request line plus headers the server reads: beyond, 431 (or 414 when the request
// line alone is longer).
inline constexpr size_t kHeaderLimit = size_t{16} * 1024;

// A request target split at its first '?': the path, and the query after it (undecoded; empty
// when there is none). Views into `target`.
struct RequestTarget {
  std::string_view path;
  std::string_view query;
};
RequestTarget SplitTarget(std::string_view target);

// The route of a request. The ingestion paths match exactly, as Amplitude's do: a path
// below one (a trailing slash included) is kInvalidPath, which Amplitude answers with
// 400 "Invalid request path"; any other unknown path is kNotFound.
Route MatchRoute(std::string_view method, std::string_view path);

// What a 405 from MatchRoute (kMethodNotAllowed) names in its Allow header: the methods the
// path takes ("GET, OPTIONS" for the read-only paths, "POST, OPTIONS" for the batch uploads).
std::string_view AllowedMethods(std::string_view path);

// The largest body accepted, before and after gzip decoding.
size_t BodyLimit(Route route);

// The label /metrics uses.
const char* RouteName(Route route);

}  // namespace profiled::server
