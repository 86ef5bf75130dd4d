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

TEST(SecretIndex, FindsExactlyTheKeysFiled) {
  SecretIndex index;
  EXPECT_TRUE(index.empty());
  EXPECT_TRUE(index.Add("alpha-secret", 0));
  EXPECT_TRUE(index.Add("beta-secret", 1));
  EXPECT_TRUE(index.Add("beta-secret-2", 1));
  EXPECT_EQ(index.Find("alpha-secret"), 0u);
  EXPECT_EQ(index.Find("beta-secret"), 1u);
  EXPECT_EQ(index.Find("beta-secret-2"), 1u);
  // Prefixes, extensions, other cases and near misses are no key.
  for (std::string_view guess :
       {"", "alpha", "alpha-secre", "alpha-secretX", "Alpha-secret", "alpha-secreT", "beta"}) {
    EXPECT_EQ(index.Find(guess), SecretIndex::kNone) << guess;
  }
}

TEST(SecretIndex, RefusesAKeyFiledTwice) {
  SecretIndex index;
  EXPECT_TRUE(index.Add("k", 0));
  EXPECT_FALSE(index.Add("k", 1));
  EXPECT_EQ(index.Find("k"), 0u);
}

TEST(SecretIndex, KeysWithAnyBytesAndManyKeysAreFound) {
  SecretIndex index;
  for (size_t i = 0; i < 1000; ++i) {
    ASSERT_TRUE(index.Add("key-" + std::to_string(i) + std::string(1, '\0') + "x", i));
  }
  for (size_t i = 0; i < 1000; ++i) {
    EXPECT_EQ(index.Find("key-" + std::to_string(i) + std::string(1, '\0') + "x"), i);
    EXPECT_EQ(index.Find("key-" + std::to_string(i)), SecretIndex::kNone);
  }
}

TEST(SecretIndex, TwoIndexesHashWithTheirOwnKeys) {
  // Not a timing test: what the per-index random key buys is that two processes (or two
  // reloads) file the same secret in unrelated places, which the lookups must not notice.
  SecretIndex a;
  SecretIndex b;
  ASSERT_TRUE(a.Add("same", 7));
  ASSERT_TRUE(b.Add("same", 9));
  EXPECT_EQ(a.Find("same"), 7u);
  EXPECT_EQ(b.Find("same"), 9u);
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
