#include "cli/import_events.h"

#include <gtest/gtest.h>

namespace profiled::cli {
namespace {

TEST(ParseServerUrl, TakesHostAndPort) {
  Result<HostPort> a = ParseServerUrl("http://127.0.0.1:8080");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8080);
  Result<HostPort> b = ParseServerUrl("http://profiles.internal/");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "profiles.internal");
  EXPECT_EQ(b->port, 80);
  Result<HostPort> c = ParseServerUrl("http://[::1]:9000");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->port, 9000);
  EXPECT_FALSE(c->https);
  Result<HostPort> d = ParseServerUrl("https://profiles.example.com");
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->https);
  EXPECT_EQ(d->port, 443);
  Result<HostPort> e = ParseServerUrl("https://127.0.0.1:8443/");
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->https);
  EXPECT_EQ(e->port, 8443);
}

TEST(ParseServerUrl, RefusesWhatItCannotSendTo) {
  for (const char* bad : {"", "127.0.0.1:8080", "ftp://h:21", "https://", "http://", "http://:80",
                          "http://h:0", "http://h:65536", "http://h:x", "http://h:80/2/httpapi",
                          "http://user@h:80", "http://[::1", "http://h:"}) {
    EXPECT_FALSE(ParseServerUrl(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace profiled::cli
