#include "server/routes.h"

namespace profiled::server {

namespace {
constexpr size_t kMiB = size_t{1024} * 1024;
}

RequestTarget SplitTarget(std::string_view target) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) return {target, {}};
  return {target.substr(0, q), target.substr(q + 1)};
}

Route MatchRoute(std::string_view method, std::string_view path) {
  if (method == "OPTIONS") return Route::kPreflight;
  bool get = method == "GET";
  bool post = method == "POST";
  auto pick = [](bool allowed, Route r) { return allowed ? r : Route::kMethodNotAllowed; };
  if (path == "/v1/userprofile") return pick(get, Route::kProfile);
  if (path == "/2/httpapi") return pick(post, Route::kHttpApi);
  if (path == "/batch") return pick(post, Route::kBatch);
  if (path == "/identify") return pick(get || post, Route::kIdentify);
  if (path == "/groupidentify") return pick(get || post, Route::kGroupIdentify);
  if (path == "/") return pick(post, Route::kLegacyUpload);
  if (path.starts_with("/config/")) {
    std::string_view key = path.substr(8);
    if (!key.empty() && key.find('/') == std::string_view::npos) {
      return pick(get, Route::kRemoteConfig);
    }
    return Route::kNotFound;
  }
  if (path == "/healthz") return pick(get, Route::kHealth);
  if (path == "/metrics") return pick(get, Route::kMetrics);
  if (path == "/openapi.json") return pick(get, Route::kOpenApi);
  if (path == "/console" || path.starts_with("/console/")) return pick(get, Route::kConsole);
  // Each admin and cohort endpoint checks its own methods (they differ per resource).
  if (path.starts_with("/admin/v1/")) return Route::kAdmin;
  if (path == "/api/3/cohorts" || path.starts_with("/api/3/cohorts/") ||
      path.starts_with("/api/5/cohorts/")) {
    return Route::kCohorts;
  }
  if (path == "/api/2/deletions/users" || path.starts_with("/api/2/deletions/users/")) {
    return Route::kDeletions;
  }
  for (std::string_view prefix : {"/2/httpapi/", "/batch/", "/identify/", "/groupidentify/"}) {
    if (path.starts_with(prefix)) return Route::kInvalidPath;
  }
  return Route::kNotFound;
}

std::string_view AllowedMethods(std::string_view path) {
  if (path == "/v1/userprofile" || path.starts_with("/config/") || path == "/healthz" ||
      path == "/metrics" || path == "/openapi.json" || path == "/console" ||
      path.starts_with("/console/")) {
    return "GET, OPTIONS";
  }
  if (path == "/2/httpapi" || path == "/batch" || path == "/") return "POST, OPTIONS";
  return "GET, POST, OPTIONS";  // /identify, /groupidentify
}

size_t BodyLimit(Route route) {
  switch (route) {
    case Route::kBatch:
    // An SDK pointed at a wrong ingestion path must learn that, not that its batch is too
    // large: accept the largest ingestion body before answering 400.
    case Route::kInvalidPath: return 20 * kMiB;
    case Route::kHttpApi:
    case Route::kIdentify:
    case Route::kGroupIdentify:
    case Route::kAdmin:
    // At most 200 ids and a requester: far below.
    case Route::kDeletions: return kMiB;
    // Form encoding about doubles a JSON batch (amplitude-js percent-encodes its quotes,
    // braces, colons and commas): about what /2/httpapi takes. amplitude-js halves its batch
    // on a 413.
    case Route::kLegacyUpload: return 2 * kMiB;
    // A static cohort upload carries up to 100,000 ids, as Amplitude's does.
    case Route::kCohorts: return 32 * kMiB;
    default: return size_t{64} * 1024;  // no other route reads a body
  }
}

const char* RouteName(Route route) {
  switch (route) {
    case Route::kHttpApi: return "/2/httpapi";
    case Route::kBatch: return "/batch";
    case Route::kIdentify: return "/identify";
    case Route::kGroupIdentify: return "/groupidentify";
    case Route::kProfile: return "/v1/userprofile";
    case Route::kHealth: return "/healthz";
    case Route::kMetrics: return "/metrics";
    case Route::kOpenApi: return "/openapi.json";
    case Route::kConsole: return "/console";
    case Route::kAdmin: return "/admin/v1";
    case Route::kCohorts: return "/api/cohorts";
    case Route::kLegacyUpload: return "/";
    case Route::kRemoteConfig: return "/config";
    case Route::kDeletions: return "/api/2/deletions";
    case Route::kPreflight: return "OPTIONS";
    case Route::kMethodNotAllowed: return "method_not_allowed";
    case Route::kInvalidPath: return "invalid_path";
    case Route::kNotFound:
    case Route::kCount: return "not_found";
  }
  return "not_found";
}

}  // namespace profiled::server
