#include "api/access.h"

#include <gtest/gtest.h>

namespace profiled::api {
namespace {

Config TwoProjects() {
  Config c;
  c.admin_token = "admin-token";
  c.projects.push_back({"a", "a-api", "a-secret-1", ProfileDialect::kSeed, {}, {"a-secret-2"}});
  c.projects.push_back({"b", "b-api", "", ProfileDialect::kAmplitude, {}, {"b-secret"}});
  return c;
}

TEST(Access, EverySecretKeyOfAProjectOpensItAndNoOther) {
  Access access(TwoProjects());
  ASSERT_NE(access.BySecretKey("a-secret-1"), nullptr);
  EXPECT_EQ(access.BySecretKey("a-secret-1")->id, "a");
  EXPECT_EQ(access.BySecretKey("a-secret-2")->id, "a");
  EXPECT_EQ(access.BySecretKey("b-secret")->id, "b");
  EXPECT_EQ(access.BySecretKey("b-secret")->dialect, ProfileDialect::kAmplitude);
  // An api key is no secret key, and the empty secret_key of b is no key at all.
  EXPECT_EQ(access.BySecretKey("a-api"), nullptr);
  EXPECT_EQ(access.BySecretKey(""), nullptr);
  EXPECT_EQ(access.BySecretKey("a-secret-"), nullptr);
}

TEST(Access, ApiKeysAndIdsFindTheirProject) {
  Access access(TwoProjects());
  EXPECT_EQ(access.ByApiKey("a-api")->id, "a");
  EXPECT_EQ(access.ByApiKey("b-api")->id, "b");
  EXPECT_EQ(access.ByApiKey("a-secret-1"), nullptr);
  EXPECT_EQ(access.ById("b")->api_key, "b-api");
  EXPECT_EQ(access.ById("c"), nullptr);
}

TEST(Access, AKeyPairMustBeOneProjects) {
  Access access(TwoProjects());
  EXPECT_EQ(access.ByKeyPair("a-api", "a-secret-1")->id, "a");
  EXPECT_EQ(access.ByKeyPair("a-api", "a-secret-2")->id, "a");
  EXPECT_EQ(access.ByKeyPair("b-api", "b-secret")->id, "b");
  EXPECT_EQ(access.ByKeyPair("a-api", "b-secret"), nullptr);
  EXPECT_EQ(access.ByKeyPair("b-api", "a-secret-1"), nullptr);
  EXPECT_EQ(access.ByKeyPair("a-api", "wrong"), nullptr);
  EXPECT_EQ(access.ByKeyPair("wrong", "a-secret-1"), nullptr);
  EXPECT_EQ(access.ByKeyPair("a-secret-1", "a-api"), nullptr);
}

TEST(Access, TheAdminTokenIsComparedWhole) {
  Access access(TwoProjects());
  EXPECT_TRUE(access.IsAdminToken("admin-token"));
  EXPECT_FALSE(access.IsAdminToken("admin-toke"));
  EXPECT_FALSE(access.IsAdminToken("admin-token "));
  EXPECT_FALSE(access.IsAdminToken(""));
  EXPECT_FALSE(access.IsAdminToken("a-secret-1"));
}

TEST(Access, NoAdminTokenMeansNoTokenIsAccepted) {
  Config c = TwoProjects();
  c.admin_token.clear();
  Access access(c);
  EXPECT_FALSE(access.IsAdminToken(""));
  EXPECT_FALSE(access.IsAdminToken("admin-token"));
}

TEST(Access, ProfileReadLimitsArePerProjectAndGoOnAcrossAReload) {
  Config c = TwoProjects();
  c.projects[0].profile_reads_per_minute = 3;
  Access first(c);
  const ProjectConfig& a = *first.ById("a");
  for (int i = 0; i < 2; ++i) ASSERT_EQ(first.ProfileReads(a).Take(1000), 0);
  c.projects[1].profile_reads_per_minute = 1;
  Access second(c, &first, 1000);
  EXPECT_EQ(second.ProfileReads(*second.ById("a")).Take(1000), 0);  // the third of three
  EXPECT_GT(second.ProfileReads(*second.ById("a")).Take(1000), 0);
  EXPECT_EQ(second.ProfileReads(*second.ById("b")).Take(1000), 0);  // b counts its own
  EXPECT_GT(second.ProfileReads(*second.ById("b")).Take(1000), 0);
}

}  // namespace
}  // namespace profiled::api
