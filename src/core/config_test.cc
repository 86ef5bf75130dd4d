#include "core/config.h"

#include <gtest/gtest.h>

namespace profiled {
namespace {

constexpr const char* kProject = R"(
[[projects]]
id = "demo"
api_key = "k1"
secret_key = "s1"
)";

Status ParseError(const std::string& text) { return ParseConfig(text).status(); }

TEST(Config, ParsesEverySection) {
  auto c = ParseConfig(R"(
admin_token = "adm"
[server]
listen = "0.0.0.0:9090"
threads = 3
max_connections = 50
idle_timeout_ms = 1000
read_timeout_ms = 2000
[storage]
backend = "rocksdb"
path = "/tmp/p"
durability = "buffered"
block_cache_mb = 64
row_cache_mb = 0
event_retention_days = 30
[ingest]
throttle_events_per_second = 30
throttle_window_seconds = 10
dedup_window_days = 3
max_queued_events = 5000
max_queued_mb = 16
[recs]
max_memory_mb = 512
[[projects]]
id = "a"
api_key = "ka"
secret_key = "sa"
profile_dialect = "amplitude"
[[projects]]
id = "b"
api_key = "kb"
secret_key = "sb"
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->server.host, "0.0.0.0");
  EXPECT_EQ(c->server.port, 9090);
  EXPECT_EQ(c->server.threads, 3);
  EXPECT_EQ(c->server.max_connections, 50);
  EXPECT_EQ(c->server.idle_timeout_ms, 1000);
  EXPECT_EQ(c->server.read_timeout_ms, 2000);
  EXPECT_EQ(c->storage.path, "/tmp/p");
  EXPECT_EQ(c->storage.durability, Durability::kBuffered);
  EXPECT_EQ(c->storage.block_cache_mb, 64);
  EXPECT_EQ(c->storage.row_cache_mb, 0);
  EXPECT_EQ(c->storage.event_retention_days, 30);
  EXPECT_EQ(c->ingest.throttle_events_per_second, 30);
  EXPECT_EQ(c->ingest.throttle_window_seconds, 10);
  EXPECT_EQ(c->ingest.dedup_window_days, 3);
  EXPECT_EQ(c->ingest.max_queued_events, 5000);
  EXPECT_EQ(c->ingest.max_queued_mb, 16);
  EXPECT_EQ(c->recs.max_memory_mb, 512);
  EXPECT_EQ(c->admin_token, "adm");
  ASSERT_EQ(c->projects.size(), 2u);
  EXPECT_EQ(c->projects[0].dialect, ProfileDialect::kAmplitude);
  EXPECT_EQ(c->projects[1].dialect, ProfileDialect::kSeed);
}

TEST(Config, DefaultsMatchTheContract) {
  auto c = ParseConfig(kProject);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->server.host, "127.0.0.1");
  EXPECT_EQ(c->server.port, 8080);
  EXPECT_EQ(c->server.threads, 0);
  EXPECT_EQ(c->storage.path, "./data");
  EXPECT_EQ(c->storage.durability, Durability::kFsync);
  EXPECT_EQ(c->storage.event_retention_days, 90);
  EXPECT_EQ(c->ingest.throttle_events_per_second, 0);
  EXPECT_EQ(c->ingest.throttle_window_seconds, 30);
  EXPECT_EQ(c->ingest.dedup_window_days, 7);
  EXPECT_EQ(c->ingest.max_queued_events, 200000);
  EXPECT_EQ(c->ingest.max_queued_mb, 256);
  EXPECT_EQ(c->recs.max_memory_mb, 4096);
}

TEST(Config, RecsMemoryIsBoundedAndItsKeysChecked) {
  EXPECT_NE(ParseError(std::string("[recs]\nmax_memory_mb = 8\n") + kProject)
                .message()
                .find("recs.max_memory_mb"),
            std::string::npos);
  EXPECT_NE(ParseError(std::string("[recs]\nmax_memory = 8\n") + kProject)
                .message()
                .find("recs.max_memory"),
            std::string::npos);
}

TEST(Config, ErrorsNameTheOffendingKey) {
  EXPECT_EQ(ParseError(std::string("[storage]\ndurability = \"sometimes\"\n") + kProject).message(),
            "config: storage.durability: expected \"fsync\" or \"buffered\", got \"sometimes\"");
  EXPECT_EQ(ParseError(std::string("[server]\nthreds = 2\n") + kProject).message(),
            "config: server.threds: unknown key");
  EXPECT_EQ(ParseError(std::string("[server]\nlisten = \"nohost\"\n") + kProject).message(),
            "config: server.listen: expected HOST:PORT, got \"nohost\"");
  EXPECT_EQ(ParseError(std::string("[server]\nthreads = \"two\"\n") + kProject).message(),
            "config: server.threads: expected an integer");
  EXPECT_EQ(
      ParseError(std::string("[storage]\nbackend = \"redis-cluster\"\n") + kProject).message(),
      "config: storage.backend: \"redis-cluster\" is not available in this version");
  EXPECT_EQ(ParseError("[[projects]]\nid = \"a\"\napi_key = \"k\"\n").message(),
            "config: projects[0].secret_key: missing");
  EXPECT_EQ(ParseError("").message(),
            "config: projects: at least one [[projects]] entry is required");
}

TEST(Config, KeysMustIdentifyOneProject) {
  std::string two = std::string(kProject) +
                    "[[projects]]\nid = \"other\"\napi_key = \"k1\"\nsecret_key = \"s2\"\n";
  EXPECT_EQ(ParseError(two).message(),
            "config: projects[1].api_key: already used by another project");
  // A secret key reused as another project's public api_key would let that api_key read
  // the first project's profiles.
  std::string crossed = std::string(kProject) +
                        "[[projects]]\nid = \"other\"\napi_key = \"s1\"\nsecret_key = \"s2\"\n";
  EXPECT_EQ(ParseError(crossed).message(),
            "config: projects[1].api_key: already used by another project");
  EXPECT_EQ(ParseError(std::string(kProject) + "[[projects]]\nid = \"b\"\napi_key = \"k2\"\n"
                                               "secret_key = \"k1\"\n")
                .message(),
            "config: projects[1].secret_key: already used by another project");
  std::string dup = std::string(kProject) + kProject;
  EXPECT_EQ(ParseError(dup).message(), "config: projects[1].id: duplicate project id \"demo\"");
}

TEST(Config, RejectsBadProjectIdsAndDialects) {
  EXPECT_EQ(
      ParseError("[[projects]]\nid = \"a/b\"\napi_key = \"k\"\nsecret_key = \"s\"\n").message(),
      "config: projects[0].id: must be 1-64 characters of A-Z a-z 0-9 - _");
  EXPECT_EQ(ParseError("[[projects]]\nid = \"a\"\napi_key = \"k\"\nsecret_key = \"s\"\n"
                       "profile_dialect = \"x\"\n")
                .message(),
            "config: projects[0].profile_dialect: expected \"seed\" or \"amplitude\", got \"x\"");
}

TEST(Config, TomlSyntaxErrorsGiveTheLine) {
  Status s = ParseError("[server]\nlisten = \n");
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.message().rfind("config: line 2: ", 0), 0u) << s.message();
}

TEST(Config, ListenOverrideAcceptsIpv6AndRejectsBadPorts) {
  ServerConfig s;
  ASSERT_TRUE(ParseListen("[::1]:81", "--listen", &s).ok());
  EXPECT_EQ(s.host, "::1");
  EXPECT_EQ(s.port, 81);
  EXPECT_EQ(ParseListen("h:99999", "--listen", &s).message(),
            "config: --listen: invalid port in \"h:99999\"");
}

TEST(Config, LoadConfigNamesAMissingFile) {
  EXPECT_EQ(LoadConfig("/nonexistent/x.toml").status().message(),
            "config: cannot read file /nonexistent/x.toml");
}

TEST(Config, TheContractsExampleParsesAsWritten) {
  // In TOML, admin_token after [storage] belongs to the storage table.
  auto c = ParseConfig(R"(
[server]
listen  = "127.0.0.1:8080"
threads = 0                 # 0 = one per core

[storage]
backend    = "rocksdb"      # the embedded default; "redis-cluster" comes later
path       = "./data"
durability = "fsync"        # a 2xx from ingestion means the events are in the fsynced log

admin_token = "change-me"   # Authorization: Bearer <admin_token> on /admin/v1

[[projects]]
id              = "demo"
api_key         = "..."     # ingestion: body/form field api_key
secret_key      = "..."     # Profile API: Authorization: Api-Key <secret_key>
profile_dialect = "seed"    # "seed" (default) or "amplitude"
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->admin_token, "change-me");
}

TEST(Config, DemoConfigIsValid) { EXPECT_TRUE(ValidateConfig(DemoConfig()).ok()); }

}  // namespace
}  // namespace profiled
