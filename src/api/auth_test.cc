#include "api/auth.h"

#include <gtest/gtest.h>

namespace profiled::api {
namespace {

TEST(Auth, CredentialsFollowTheSchemeInAnyCase) {
  EXPECT_EQ(CredentialsOf("Bearer tok", "bearer"), "tok");
  EXPECT_EQ(CredentialsOf("BEARER   tok  ", "bearer"), "tok");
  EXPECT_EQ(CredentialsOf("Api-Key k", "api-key"), "k");
  EXPECT_EQ(CredentialsOf("Basic dG9r", "bearer"), "");
  EXPECT_EQ(CredentialsOf("Bearertok", "bearer"), "");
  EXPECT_EQ(CredentialsOf("Bearer ", "bearer"), "");
  EXPECT_EQ(CredentialsOf("", "bearer"), "");
}

TEST(Auth, SecretsCompareWholly) {
  EXPECT_TRUE(SameSecret("abc", "abc"));
  EXPECT_FALSE(SameSecret("abc", "abd"));
  EXPECT_FALSE(SameSecret("abc", "ab"));
  EXPECT_TRUE(SameSecret("", ""));
}

TEST(Auth, Base64DecodesStandardTextOnly) {
  std::string out;
  ASSERT_TRUE(DecodeBase64("a2V5OnNlY3JldA==", &out));
  EXPECT_EQ(out, "key:secret");
  ASSERT_TRUE(DecodeBase64("a2V5OnNlY3JldA", &out));
  EXPECT_EQ(out, "key:secret");
  EXPECT_FALSE(DecodeBase64("a2V5=OnNl", &out));
  EXPECT_FALSE(DecodeBase64("a2V5===", &out));
  EXPECT_FALSE(DecodeBase64("a2V5 OnNl", &out));
  EXPECT_FALSE(DecodeBase64("a2V5-_", &out));
}

}  // namespace
}  // namespace profiled::api
