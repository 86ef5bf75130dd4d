// Config: the server's settings, read from TOML (README.md, "Configuration") and validated whole.
//
// ParseConfig/LoadConfig return either a complete, valid Config or an InvalidArgument
// whose message names the offending key ("storage.durability: ..."). A Config is a plain
// value; after start-up it is shared read-only between threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace profiled {

enum class ProfileDialect { kSeed, kAmplitude };

// kFsync: a 2xx means the events are in the fsynced write-ahead log.
// kBuffered: a 2xx means the log was written to the OS; survives a process crash, not
// a power failure.
enum class Durability { kFsync, kBuffered };

struct ServerConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  int threads = 0;              // 0 = one per core
  int max_connections = 10000;  // beyond this, new connections get 503 and are closed
  int idle_timeout_ms = 60000;  // keep-alive connection with no request in flight
  int read_timeout_ms = 30000;  // from the first byte of a request to its last
  // Request bodies held at once, across connections (declared lengths, the route's limit for
  // a chunked body, decoded gzip); a request past it gets 503 with Retry-After.
  int max_body_memory_mb = 1024;
  std::string cors_allow_origin = "*";
  bool json_logs = false;  // log_format = "json": one JSON object per log line
  // HTTPS: PEM certificate chain and private key; both empty = plain HTTP. Re-read on SIGHUP.
  std::string tls_cert;
  std::string tls_key;
};

// path and the caches are the embedded store's (backend "rocksdb"), the redis_* keys are the
// Redis Cluster store's (backend "redis-cluster", docs/SCALING.md). Either backend's keys are
// validated and ignored under the other, so switching backends is a one-line change.
struct StorageConfig {
  std::string backend = "rocksdb";
  std::string path = "./data";
  Durability durability = Durability::kFsync;
  int block_cache_mb = 512;
  int row_cache_mb = 256;  // whole values cached by key for point reads; 0 = off
  int event_retention_days = 90;
  // Seeds, "host:port" each; the other nodes are discovered. Required with redis-cluster.
  std::vector<std::string> redis_nodes;
  std::string redis_password;   // AUTH when not empty
  int redis_wait_replicas = 1;  // a 2xx waits until this many replicas hold the write; 0 = primary
  int redis_read_threads =
      0;  // threads for the profile reads an I/O thread hands off; 0 = 4 per I/O thread
};

struct IngestConfig {
  double throttle_events_per_second = 0;  // per user_id and per device_id; 0 = off
  int throttle_window_seconds = 30;       // the rate is averaged over this window
  int dedup_window_days = 7;              // insert_id de-duplication window
  // Bounds of the queue in front of the ingest writer; a batch past either gets 503
  // with Retry-After.
  int max_queued_events = 200000;
  int max_queued_mb = 256;  // the queued events' JSON text
};

// A project's keys: api_key for ingestion; secret_key and secret_keys, every key of the
// Profile API and the cohort API (either may be empty or absent, not both), so that a key can
// be rotated without downtime (README.md, "Rotating keys"). SecretKeysOf lists them.
struct ProjectConfig {
  std::string id;
  std::string api_key;
  std::string secret_key;  // the `secret_key` of the file; may be empty when secret_keys is not
  ProfileDialect dialect = ProfileDialect::kSeed;
  // A JSON file {"computations":[...],"cohorts":[...]} of definitions applied at start-up
  // (docs/API.md, "Definitions"); empty = none.
  std::string definitions_file;
  std::vector<std::string> secret_keys = {};  // the `secret_keys` of the file, in its order
  // Events per second the project may send, all ids together, averaged over
  // ingest.throttle_window_seconds; a batch past it gets 429 whole. 0 = no limit.
  double events_per_second = 0;
  // Profile API reads per minute (GET /v1/userprofile, all its secret keys together); past it
  // 429 with Retry-After. 0 = no limit.
  int profile_reads_per_minute = 0;
};

// Every secret key of `p`: secret_key (when not empty), then secret_keys. Views into `p`.
std::vector<std::string_view> SecretKeysOf(const ProjectConfig& p);

struct RecsConfig {
  // The recommendation models of every project together, and the training in progress, stay
  // within about this much memory: an ease model that would not fit is trained as itemknn
  // instead, and its status says why (docs/RECS.md, "Training in the server").
  int max_memory_mb = 4096;
};

// How many definitions of each kind one project may have (static cohorts count as cohorts).
// A PUT of a new id past the bound is refused; changing an existing definition never is.
struct DefinitionsConfig {
  int max_computations = 1000;
  int max_cohorts = 1000;
  int max_recommendations = 100;
};

// Privacy deletions (POST /api/2/deletions/users; docs/API.md, "Privacy deletion").
struct PrivacyConfig {
  // A deletion job runs this long after its first request, so a staged id can still be taken
  // out (DELETE /api/2/deletions/users/{amplitude_id}/{day}); 0 = at once.
  int staging_minutes = 0;
};

// The console's plots (GET /admin/v1/stats; docs/API.md, "Console API"), sampled in memory.
struct ConsoleConfig {
  // Ingestion, read and request rates are sampled this often (1-3600 s).
  int rate_sample_seconds = 10;
  // Every project's cohort sizes are counted this often (a scan of its users; 1-86400 s), the
  // first right at start-up; 0 = never.
  int cohort_sample_seconds = 300;
};

// Test seams; never needed in production.
struct TestingConfig {
  // Lets PUT /admin/v1/testing/clock move the server's clock (for end-to-end tests of
  // rolling windows). Off by default.
  bool clock_control = false;
  int64_t clock_offset_ms = 0;  // added to the system clock from the start
  // Backfills read the event log in chunks of this many events, and the writer waits this
  // long between two chunks (ingestion is not delayed): a slow backfill, so tests can stop
  // the server in the middle of one.
  int backfill_chunk_events = 2000;
  int backfill_chunk_delay_ms = 0;
  // A privacy deletion reads the event log in chunks of this many events (a small one lets
  // tests kill the server in the middle of a deletion).
  int deletion_chunk_events = 20000;
};

struct Config {
  ServerConfig server;
  StorageConfig storage;
  IngestConfig ingest;
  RecsConfig recs;
  DefinitionsConfig definitions;
  PrivacyConfig privacy;
  ConsoleConfig console;
  TestingConfig testing;
  std::string admin_token;
  std::vector<ProjectConfig> projects;
};

// Parses TOML text. Unknown keys are errors too, so a typo never silently falls back to
// a default.
Result<Config> ParseConfig(std::string_view toml_text);

// Reads and parses a file; a missing or unreadable file is an error naming the path.
Result<Config> LoadConfig(const std::string& path);

// The configuration `profiled serve` uses without --config: one project "demo" with
// fixed, printed keys.
Config DemoConfig();

// Parses "HOST:PORT" into the server config; the error names `key`.
Status ParseListen(std::string_view listen, std::string_view key, ServerConfig* server);

// Checks cross-field rules (unique ids and keys, at least one project, a secret key for each).
Status ValidateConfig(const Config& config);

}  // namespace profiled
