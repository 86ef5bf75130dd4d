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
}

TEST(ParseServerUrl, RefusesWhatItCannotSendTo) {
  for (const char* bad : {"", "127.0.0.1:8080", "https://h:443", "http://", "http://:80",
                          "http://h:0", "http://h:65536", "http://h:x", "http://h:80/2/httpapi",
                          "http://user@h:80", "http://[::1", "http://h:"}) {
    EXPECT_FALSE(ParseServerUrl(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace profiled::cli
