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
max_body_memory_mb = 128
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
  EXPECT_EQ(c->server.max_body_memory_mb, 128);
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
  EXPECT_EQ(c->storage.backend, "rocksdb");
  EXPECT_TRUE(c->storage.redis_nodes.empty());
  EXPECT_EQ(c->storage.redis_wait_replicas, 1);
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

TEST(Config, PrivacyStagingMinutesDefaultsToZeroAndIsChecked) {
  auto c = ParseConfig(kProject);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->privacy.staging_minutes, 0);
  c = ParseConfig(std::string("[privacy]\nstaging_minutes = 4320\n") + kProject);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->privacy.staging_minutes, 4320);
  EXPECT_EQ(ParseError(std::string("[privacy]\nstaging_minutes = -1\n") + kProject).message(),
            "config: privacy.staging_minutes: must be between 0 and 527040, got -1");
  EXPECT_EQ(ParseError(std::string("[privacy]\nstaging_minutes = \"1h\"\n") + kProject).message(),
            "config: privacy.staging_minutes: expected an integer");
  EXPECT_NE(ParseError(std::string("[privacy]\nstaging = 1\n") + kProject)
                .message()
                .find("privacy.staging"),
            std::string::npos);
}

TEST(Config, ConsoleSampleIntervalsDefaultAndAreChecked) {
  auto c = ParseConfig(kProject);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->console.rate_sample_seconds, 10);
  EXPECT_EQ(c->console.cohort_sample_seconds, 300);
  c = ParseConfig(std::string("[console]\nrate_sample_seconds = 1\ncohort_sample_seconds = 0\n") +
                  kProject);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->console.rate_sample_seconds, 1);
  EXPECT_EQ(c->console.cohort_sample_seconds, 0);
  c = ParseConfig(
      std::string("[console]\nrate_sample_seconds = 3600\ncohort_sample_seconds = 86400\n") +
      kProject);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->console.rate_sample_seconds, 3600);
  EXPECT_EQ(c->console.cohort_sample_seconds, 86400);
}

TEST(Config, ConsoleRefusesMalformedIntervalsNamingTheKey) {
  const std::pair<const char*, const char*> cases[] = {
      {"rate_sample_seconds = 0",
       "config: console.rate_sample_seconds: must be between 1 and 3600, got 0"},
      {"rate_sample_seconds = 3601",
       "config: console.rate_sample_seconds: must be between 1 and 3600, got 3601"},
      {"rate_sample_seconds = -5",
       "config: console.rate_sample_seconds: must be between 1 and 3600, got -5"},
      {"rate_sample_seconds = 1.5", "config: console.rate_sample_seconds: expected an integer"},
      {"rate_sample_seconds = \"10\"", "config: console.rate_sample_seconds: expected an integer"},
      {"rate_sample_seconds = true", "config: console.rate_sample_seconds: expected an integer"},
      {"cohort_sample_seconds = -1",
       "config: console.cohort_sample_seconds: must be between 0 and 86400, got -1"},
      {"cohort_sample_seconds = 86401",
       "config: console.cohort_sample_seconds: must be between 0 and 86400, got 86401"},
      {"cohort_sample_seconds = [300]",
       "config: console.cohort_sample_seconds: expected an integer"},
      {"rate_seconds = 10", "config: console.rate_seconds: unknown key"},
  };
  for (const auto& [line, message] : cases) {
    EXPECT_EQ(ParseError(std::string("[console]\n") + line + "\n" + kProject).message(), message)
        << line;
  }
  EXPECT_EQ(ParseError(std::string("console = 5\n") + kProject).message(),
            "config: console: expected a table");
}

TEST(Config, ReadsTheLimitsThatProtectTheStore) {
  auto c = ParseConfig(R"(
[definitions]
max_computations = 10
max_cohorts = 20
max_recommendations = 3
[[projects]]
id = "a"
api_key = "ka"
secret_key = "sa"
events_per_second = 2.5
profile_reads_per_minute = 600
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->definitions.max_computations, 10);
  EXPECT_EQ(c->definitions.max_cohorts, 20);
  EXPECT_EQ(c->definitions.max_recommendations, 3);
  EXPECT_EQ(c->projects[0].events_per_second, 2.5);
  EXPECT_EQ(c->projects[0].profile_reads_per_minute, 600);
}

TEST(Config, TheLimitsThatProtectTheStoreDefaultToOffOrToTheirBounds) {
  auto c = ParseConfig(kProject);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->definitions.max_computations, 1000);
  EXPECT_EQ(c->definitions.max_cohorts, 1000);
  EXPECT_EQ(c->definitions.max_recommendations, 100);
  EXPECT_EQ(c->projects[0].events_per_second, 0);
  EXPECT_EQ(c->projects[0].profile_reads_per_minute, 0);
}

TEST(Config, NegativeOrMistypedLimitsAreRefusedNamingTheKey) {
  std::string project = "[[projects]]\nid = \"a\"\napi_key = \"k\"\nsecret_key = \"s\"\n";
  EXPECT_EQ(ParseError(project + "events_per_second = -1\n").message(),
            "config: projects[0].events_per_second: must be between 0 (off) and 1000000000");
  EXPECT_EQ(ParseError(project + "events_per_second = \"fast\"\n").message(),
            "config: projects[0].events_per_second: expected a number");
  EXPECT_EQ(ParseError(project + "events_per_second = nan\n").message(),
            "config: projects[0].events_per_second: must be between 0 (off) and 1000000000");
  EXPECT_EQ(ParseError(project + "profile_reads_per_minute = -5\n").message(),
            "config: projects[0].profile_reads_per_minute: must be between 0 and 60000000, "
            "got -5");
  EXPECT_EQ(ParseError(project + "profile_reads_per_minute = 1.5\n").message(),
            "config: projects[0].profile_reads_per_minute: expected an integer");
  EXPECT_EQ(ParseError(project + "reads_per_minute = 5\n").message(),
            "config: projects[0].reads_per_minute: unknown key");
  EXPECT_EQ(ParseError("[definitions]\nmax_cohorts = -1\n" + project).message(),
            "config: definitions.max_cohorts: must be between 1 and 1000000, got -1");
  EXPECT_EQ(ParseError("[definitions]\nmax_computations = 0\n" + project).message(),
            "config: definitions.max_computations: must be between 1 and 1000000, got 0");
  EXPECT_EQ(ParseError("[definitions]\nmax_recs = 5\n" + project).message(),
            "config: definitions.max_recs: unknown key");
  EXPECT_EQ(ParseError("[ingest]\nthrottle_events_per_second = -3\n" + project).message(),
            "config: ingest.throttle_events_per_second: must be between 0 (off) and 1000000000");
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
  EXPECT_EQ(ParseError(std::string("[storage]\nbackend = \"redis\"\n") + kProject).message(),
            "config: storage.backend: expected \"rocksdb\" or \"redis-cluster\", got \"redis\"");
  EXPECT_EQ(ParseError("[[projects]]\nid = \"a\"\napi_key = \"k\"\n").message(),
            "config: projects[0].secret_key: missing (or give secret_keys)");
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

TEST(Config, AProjectMayHaveSeveralSecretKeys) {
  auto c = ParseConfig(
      "[[projects]]\nid = \"a\"\napi_key = \"k\"\nsecret_key = \"s1\"\n"
      "secret_keys = [\"s2\", \"s3\"]\n"
      "[[projects]]\nid = \"b\"\napi_key = \"kb\"\nsecret_keys = [\"sb\"]\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(SecretKeysOf(c->projects[0]), (std::vector<std::string_view>{"s1", "s2", "s3"}));
  EXPECT_EQ(SecretKeysOf(c->projects[1]), (std::vector<std::string_view>{"sb"}));
  EXPECT_EQ(c->projects[1].secret_key, "");
}

TEST(Config, SecretKeysAreCheckedWithoutQuotingThem) {
  const std::string head = "[[projects]]\nid = \"a\"\napi_key = \"k\"\n";
  EXPECT_EQ(ParseError(head + "secret_keys = []\n").message(),
            "config: projects[0].secret_keys: must hold at least one key");
  EXPECT_EQ(ParseError(head + "secret_keys = \"s\"\n").message(),
            "config: projects[0].secret_keys: expected an array of strings");
  EXPECT_EQ(ParseError(head + "secret_keys = [\"s\", 3]\n").message(),
            "config: projects[0].secret_keys[1]: expected a string");
  EXPECT_EQ(ParseError(head + "secret_keys = [\"s\", \"\"]\n").message(),
            "config: projects[0].secret_keys[1]: must not be empty");
  EXPECT_EQ(ParseError(head + "secret_key = \"\"\nsecret_keys = [\"s\"]\n").message(),
            "config: projects[0].secret_key: must not be empty");
  EXPECT_EQ(
      ParseError(head + "secret_key = \"topsecret\"\nsecret_keys = [\"topsecret\"]\n").message(),
      "config: projects[0].secret_keys[0]: listed twice in this project");
}

TEST(Config, NoSecretKeyMayBelongToTwoProjects) {
  const std::string a =
      "[[projects]]\nid = \"a\"\napi_key = \"ka\"\nsecret_keys = [\"s1\", \"s2\"]\n";
  EXPECT_EQ(
      ParseError(a + "[[projects]]\nid = \"b\"\napi_key = \"kb\"\nsecret_key = \"s2\"\n").message(),
      "config: projects[1].secret_key: already used by another project");
  EXPECT_EQ(ParseError(a + "[[projects]]\nid = \"b\"\napi_key = \"kb\"\n"
                           "secret_keys = [\"s3\", \"s1\"]\n")
                .message(),
            "config: projects[1].secret_keys[1]: already used by another project");
  // Another project's api_key is no secret key either, nor the reverse.
  EXPECT_EQ(
      ParseError(a + "[[projects]]\nid = \"b\"\napi_key = \"s2\"\nsecret_key = \"sb\"\n").message(),
      "config: projects[1].api_key: already used by another project");
  EXPECT_EQ(ParseError(a + "[[projects]]\nid = \"b\"\napi_key = \"kb\"\n"
                           "secret_keys = [\"ka\"]\n")
                .message(),
            "config: projects[1].secret_keys[0]: already used by another project");
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

// A [storage] table for backend = "redis-cluster" with `extra` lines, then a project.
std::string RedisStorage(const std::string& extra) {
  return "[storage]\nbackend = \"redis-cluster\"\n" + extra + kProject;
}

TEST(Config, ParsesTheRedisClusterBackend) {
  auto c =
      ParseConfig(RedisStorage("redis_nodes = [\"127.0.0.1:7000\", \"redis-b:7001\"]\n"
                               "redis_password = \"pw\"\nredis_wait_replicas = 2\n"
                               "redis_read_threads = 64\n"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->storage.backend, "redis-cluster");
  EXPECT_EQ(c->storage.redis_nodes, (std::vector<std::string>{"127.0.0.1:7000", "redis-b:7001"}));
  EXPECT_EQ(c->storage.redis_password, "pw");
  EXPECT_EQ(c->storage.redis_wait_replicas, 2);
  EXPECT_EQ(c->storage.redis_read_threads, 64);
  EXPECT_EQ(
      ParseError(RedisStorage("redis_nodes = [\"127.0.0.1:7000\"]\nredis_read_threads = 1025\n"))
          .code(),
      ErrorCode::kInvalidArgument);
}

TEST(Config, RedisClusterDefaultsToNoPasswordAndOneReplica) {
  auto c = ParseConfig(RedisStorage("redis_nodes = [\"127.0.0.1:7000\"]\n"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->storage.redis_password, "");
  EXPECT_EQ(c->storage.redis_wait_replicas, 1);
  EXPECT_EQ(c->storage.redis_read_threads, 0);
  auto primary_only =
      ParseConfig(RedisStorage("redis_nodes = [\"127.0.0.1:7000\"]\nredis_wait_replicas = 0\n"));
  ASSERT_TRUE(primary_only.ok()) << primary_only.status().ToString();
  EXPECT_EQ(primary_only->storage.redis_wait_replicas, 0);
}

TEST(Config, RedisClusterNeedsSeedNodes) {
  EXPECT_EQ(ParseError(RedisStorage("")).message(),
            "config: storage.redis_nodes: required with backend = \"redis-cluster\": at least "
            "one \"host:port\"");
  EXPECT_EQ(ParseError(RedisStorage("redis_nodes = []\n")).message(),
            "config: storage.redis_nodes: required with backend = \"redis-cluster\": at least "
            "one \"host:port\"");
}

TEST(Config, RedisNodesMustBeHostAndPort) {
  EXPECT_EQ(ParseError(RedisStorage("redis_nodes = [\"127.0.0.1:7000\", \"nohost\"]\n")).message(),
            "config: storage.redis_nodes[1]: expected \"host:port\", got \"nohost\"");
  EXPECT_EQ(ParseError(RedisStorage("redis_nodes = [\":7000\"]\n")).message(),
            "config: storage.redis_nodes[0]: expected \"host:port\", got \":7000\"");
  for (const char* bad : {"h:0", "h:65536", "h:", "h:70x", "h:-1"}) {
    EXPECT_EQ(ParseError(RedisStorage("redis_nodes = [\"" + std::string(bad) + "\"]\n")).message(),
              "config: storage.redis_nodes[0]: port must be between 1 and 65535 in \"" +
                  std::string(bad) + "\"");
  }
  EXPECT_TRUE(ParseConfig(RedisStorage("redis_nodes = [\"h:1\", \"h:65535\"]\n")).ok());
}

TEST(Config, RedisWaitReplicasIsBetweenZeroAndSixteen) {
  const std::string nodes = "redis_nodes = [\"127.0.0.1:7000\"]\n";
  EXPECT_EQ(ParseError(RedisStorage(nodes + "redis_wait_replicas = 17\n")).message(),
            "config: storage.redis_wait_replicas: must be between 0 and 16, got 17");
  EXPECT_EQ(ParseError(RedisStorage(nodes + "redis_wait_replicas = -1\n")).message(),
            "config: storage.redis_wait_replicas: must be between 0 and 16, got -1");
  EXPECT_TRUE(ParseConfig(RedisStorage(nodes + "redis_wait_replicas = 16\n")).ok());
}

TEST(Config, RedisKeysOfTheWrongTypeAreRefused) {
  const std::string nodes = "redis_nodes = [\"127.0.0.1:7000\"]\n";
  EXPECT_EQ(ParseError(RedisStorage("redis_nodes = \"127.0.0.1:7000\"\n")).message(),
            "config: storage.redis_nodes: expected an array of \"host:port\" strings");
  EXPECT_EQ(ParseError(RedisStorage("redis_nodes = [7000]\n")).message(),
            "config: storage.redis_nodes[0]: expected a \"host:port\" string");
  EXPECT_EQ(ParseError(RedisStorage(nodes + "redis_password = 5\n")).message(),
            "config: storage.redis_password: expected a string");
  EXPECT_EQ(ParseError(RedisStorage(nodes + "redis_wait_replicas = \"1\"\n")).message(),
            "config: storage.redis_wait_replicas: expected an integer");
}

// The redis_* keys are checked but unused with the embedded store, so a config can switch
// backends by its one backend line.
TEST(Config, RocksDbAcceptsButChecksTheRedisKeys) {
  auto c = ParseConfig(std::string("[storage]\nredis_nodes = [\"127.0.0.1:7000\"]\n"
                                   "redis_wait_replicas = 0\n") +
                       kProject);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->storage.backend, "rocksdb");
  EXPECT_TRUE(ParseConfig(std::string("[storage]\nredis_nodes = []\n") + kProject).ok());
  EXPECT_EQ(ParseError(std::string("[storage]\nredis_nodes = [\"h:0\"]\n") + kProject).message(),
            "config: storage.redis_nodes[0]: port must be between 1 and 65535 in \"h:0\"");
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
backend    = "rocksdb"      # the embedded default, or "redis-cluster" (part 4)
path       = "./data"
durability = "fsync"        # a 2xx from ingestion means the events are in the fsynced log
# with backend = "redis-cluster":
# redis_nodes = ["127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002"]  # seeds; the rest is discovered
# redis_password = ""       # AUTH when set
# redis_wait_replicas = 1   # a 2xx waits until this many replicas hold the write; 0 = primary only

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

TEST(Config, TheContractsRedisClusterLinesParseWhenUncommented) {
  auto c = ParseConfig(R"(
[storage]
backend = "redis-cluster"
redis_nodes = ["127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002"]  # seeds; the rest is discovered
redis_password = ""       # AUTH when set
redis_wait_replicas = 1   # a 2xx waits until this many replicas hold the write; 0 = primary only

admin_token = "change-me"

[[projects]]
id = "demo"
api_key = "k"
secret_key = "s"
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->storage.redis_nodes.size(), 3u);
  EXPECT_EQ(c->admin_token, "change-me");
}

TEST(Config, DemoConfigIsValid) { EXPECT_TRUE(ValidateConfig(DemoConfig()).ok()); }

}  // namespace
}  // namespace profiled
