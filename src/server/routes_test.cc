#include "server/routes.h"

#include <gtest/gtest.h>

namespace profiled::server {
namespace {

TEST(Routes, MatchesMethodsAndPaths) {
  EXPECT_EQ(MatchRoute("POST", "/2/httpapi"), Route::kHttpApi);
  EXPECT_EQ(MatchRoute("POST", "/batch"), Route::kBatch);
  EXPECT_EQ(MatchRoute("POST", "/identify"), Route::kIdentify);
  EXPECT_EQ(MatchRoute("GET", "/identify"), Route::kIdentify);
  EXPECT_EQ(MatchRoute("POST", "/groupidentify"), Route::kGroupIdentify);
  EXPECT_EQ(MatchRoute("GET", "/groupidentify"), Route::kGroupIdentify);
  EXPECT_EQ(MatchRoute("PUT", "/groupidentify"), Route::kMethodNotAllowed);
  EXPECT_EQ(MatchRoute("GET", "/v1/userprofile"), Route::kProfile);
  EXPECT_EQ(MatchRoute("GET", "/healthz"), Route::kHealth);
  EXPECT_EQ(MatchRoute("GET", "/metrics"), Route::kMetrics);
  EXPECT_EQ(MatchRoute("OPTIONS", "/2/httpapi"), Route::kPreflight);
  // The privacy API checks its own methods (POST and GET on the list, DELETE below it).
  for (const char* method : {"POST", "GET", "DELETE", "PUT"}) {
    EXPECT_EQ(MatchRoute(method, "/api/2/deletions/users"), Route::kDeletions) << method;
    EXPECT_EQ(MatchRoute(method, "/api/2/deletions/users/42/2026-12-01"), Route::kDeletions);
  }
  EXPECT_EQ(MatchRoute("POST", "/api/2/deletions/usersx"), Route::kNotFound);
  EXPECT_EQ(BodyLimit(Route::kDeletions), 1u << 20);
  EXPECT_STREQ(RouteName(Route::kDeletions), "/api/2/deletions");
  EXPECT_EQ(MatchRoute("POST", "/"), Route::kLegacyUpload);
  EXPECT_EQ(MatchRoute("OPTIONS", "/"), Route::kPreflight);
  EXPECT_EQ(MatchRoute("GET", "/config/abc%2Bdef"), Route::kRemoteConfig);
  EXPECT_EQ(MatchRoute("OPTIONS", "/config/abc"), Route::kPreflight);
}

TEST(Routes, RemoteConfigTakesExactlyOneKeySegment) {
  for (const char* path : {"/config/", "/config", "/config/a/", "/config/a/b", "/configs/a"}) {
    EXPECT_EQ(MatchRoute("GET", path), Route::kNotFound) << path;
  }
  EXPECT_EQ(MatchRoute("POST", "/config/abc"), Route::kMethodNotAllowed);
}

TEST(Routes, WrongMethodOnAKnownPathIsNotNotFound) {
  EXPECT_EQ(MatchRoute("GET", "/2/httpapi"), Route::kMethodNotAllowed);
  EXPECT_EQ(MatchRoute("POST", "/v1/userprofile"), Route::kMethodNotAllowed);
  EXPECT_EQ(MatchRoute("DELETE", "/batch"), Route::kMethodNotAllowed);
  EXPECT_EQ(MatchRoute("GET", "/"), Route::kMethodNotAllowed);  // the root is the v1 upload
}

TEST(Routes, AllowedMethodsNameWhatEachPathTakes) {
  for (const char* path : {"/v1/userprofile", "/config/abc", "/healthz", "/metrics",
                           "/openapi.json", "/console", "/console/app.js"}) {
    EXPECT_EQ(AllowedMethods(path), "GET, OPTIONS") << path;
    EXPECT_EQ(MatchRoute("HEAD", path), Route::kMethodNotAllowed) << path;
  }
  for (const char* path : {"/2/httpapi", "/batch", "/"}) {
    EXPECT_EQ(AllowedMethods(path), "POST, OPTIONS") << path;
  }
  EXPECT_EQ(AllowedMethods("/identify"), "GET, POST, OPTIONS");
  EXPECT_EQ(AllowedMethods("/groupidentify"), "GET, POST, OPTIONS");
}

TEST(Routes, UnknownPathsAreNotFound) {
  for (const char* path : {"//", "/v1/userprofiles", "/v1/userprofile/", "/2/httpapix", "/2/"}) {
    EXPECT_EQ(MatchRoute("GET", path), Route::kNotFound) << path;
    EXPECT_EQ(MatchRoute("POST", path), Route::kNotFound) << path;
  }
}

TEST(Routes, PathsBelowAnIngestionPathAreInvalidRequestPaths) {
  for (const char* path :
       {"/2/httpapi/", "/2/httpapi/extra", "/batch/", "/identify/x", "/groupidentify/x"}) {
    EXPECT_EQ(MatchRoute("POST", path), Route::kInvalidPath) << path;
    EXPECT_EQ(MatchRoute("GET", path), Route::kInvalidPath) << path;
  }
  EXPECT_EQ(BodyLimit(Route::kInvalidPath), 20u << 20);
}

TEST(Routes, TargetsSplitAtTheFirstQuestionMark) {
  RequestTarget t = SplitTarget("/v1/userprofile?user_id=a?b&x=1");
  EXPECT_EQ(t.path, "/v1/userprofile");
  EXPECT_EQ(t.query, "user_id=a?b&x=1");
  t = SplitTarget("/healthz");
  EXPECT_EQ(t.path, "/healthz");
  EXPECT_EQ(t.query, "");
  t = SplitTarget("/x?");
  EXPECT_EQ(t.path, "/x");
  EXPECT_EQ(t.query, "");
}

TEST(Routes, BodyLimitsFollowAmplitude) {
  EXPECT_EQ(BodyLimit(Route::kHttpApi), 1u << 20);
  EXPECT_EQ(BodyLimit(Route::kIdentify), 1u << 20);
  EXPECT_EQ(BodyLimit(Route::kBatch), 20u << 20);
  EXPECT_EQ(BodyLimit(Route::kLegacyUpload), 2u << 20);
}

TEST(Routes, EveryRouteHasItsOwnMetricsName) {
  EXPECT_STREQ(RouteName(Route::kLegacyUpload), "/");
  EXPECT_STREQ(RouteName(Route::kRemoteConfig), "/config");
}

}  // namespace
}  // namespace profiled::server
