#include "server/routes.h"

#include <gtest/gtest.h>

namespace profiled::server {
namespace {

TEST(Routes, MatchesMethodsAndPaths) {
  EXPECT_EQ(MatchRoute("POST", "/2/httpapi"), Route::kHttpApi);
  EXPECT_EQ(MatchRoute("POST", "/batch"), Route::kBatch);
  EXPECT_EQ(MatchRoute("POST", "/identify"), Route::kIdentify);
  EXPECT_EQ(MatchRoute("GET", "/identify"), Route::kIdentify);
  EXPECT_EQ(MatchRoute("GET", "/v1/userprofile"), Route::kProfile);
  EXPECT_EQ(MatchRoute("GET", "/healthz"), Route::kHealth);
  EXPECT_EQ(MatchRoute("GET", "/metrics"), Route::kMetrics);
  EXPECT_EQ(MatchRoute("OPTIONS", "/2/httpapi"), Route::kPreflight);
}

TEST(Routes, WrongMethodOnAKnownPathIsNotNotFound) {
  EXPECT_EQ(MatchRoute("GET", "/2/httpapi"), Route::kMethodNotAllowed);
  EXPECT_EQ(MatchRoute("POST", "/v1/userprofile"), Route::kMethodNotAllowed);
  EXPECT_EQ(MatchRoute("DELETE", "/batch"), Route::kMethodNotAllowed);
}

TEST(Routes, UnknownPathsAreNotFound) {
  EXPECT_EQ(MatchRoute("GET", "/"), Route::kNotFound);
  EXPECT_EQ(MatchRoute("GET", "/v1/userprofiles"), Route::kNotFound);
  EXPECT_EQ(MatchRoute("GET", "/v1/userprofile/"), Route::kNotFound);
  EXPECT_EQ(MatchRoute("POST", "/2/httpapix"), Route::kNotFound);
  EXPECT_EQ(MatchRoute("POST", "/2/"), Route::kNotFound);
}

TEST(Routes, PathsBelowAnIngestionPathAreInvalidRequestPaths) {
  EXPECT_EQ(MatchRoute("POST", "/2/httpapi/"), Route::kInvalidPath);
  EXPECT_EQ(MatchRoute("POST", "/2/httpapi/extra"), Route::kInvalidPath);
  EXPECT_EQ(MatchRoute("POST", "/batch/"), Route::kInvalidPath);
  EXPECT_EQ(MatchRoute("GET", "/identify/x"), Route::kInvalidPath);
  EXPECT_EQ(BodyLimit(Route::kInvalidPath), 20u << 20);
}

TEST(Routes, BodyLimitsFollowAmplitude) {
  EXPECT_EQ(BodyLimit(Route::kHttpApi), 1u << 20);
  EXPECT_EQ(BodyLimit(Route::kIdentify), 1u << 20);
  EXPECT_EQ(BodyLimit(Route::kBatch), 20u << 20);
}

}  // namespace
}  // namespace profiled::server
