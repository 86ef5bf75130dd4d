#include "core/config.h"

#include <toml++/toml.h>

#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

namespace profiled {

namespace {

Status KeyError(std::string_view key, std::string_view problem) {
  return Status::InvalidArgument("config: " + std::string(key) + ": " + std::string(problem));
}

std::string Join(std::string_view prefix, std::string_view key) {
  return prefix.empty() ? std::string(key) : std::string(prefix) + "." + std::string(key);
}

Status CheckKnownKeys(const toml::table& table, std::string_view prefix,
                      std::initializer_list<std::string_view> known) {
  for (const auto& [k, v] : table) {
    bool found = false;
    for (auto name : known) found = found || name == k.str();
    if (!found) return KeyError(Join(prefix, k.str()), "unknown key");
  }
  return Status::Ok();
}

Status ReadString(const toml::table& t, std::string_view prefix, std::string_view key,
                  std::string* out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return Status::Ok();
  auto v = n->value<std::string>();
  if (!n->is_string() || !v) return KeyError(Join(prefix, key), "expected a string");
  *out = *v;
  return Status::Ok();
}

// Reads an optional integer within [min, max] into *out (left alone when absent).
template <typename T>
Status ReadIntInto(const toml::table& t, std::string_view prefix, std::string_view key, int64_t min,
                   int64_t max, T* out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return Status::Ok();
  if (!n->is_integer()) return KeyError(Join(prefix, key), "expected an integer");
  int64_t v = *n->value<int64_t>();
  if (v < min || v > max) {
    return KeyError(Join(prefix, key), "must be between " + std::to_string(min) + " and " +
                                           std::to_string(max) + ", got " + std::to_string(v));
  }
  *out = static_cast<T>(v);
  return Status::Ok();
}

Status ReadServer(const toml::table& t, ServerConfig* s) {
  PROFILED_RETURN_IF_ERROR(CheckKnownKeys(
      t, "server",
      {"listen", "threads", "max_connections", "idle_timeout_ms", "read_timeout_ms",
       "max_body_memory_mb", "cors_allow_origin", "log_format", "tls_cert", "tls_key"}));
  std::string listen;
  PROFILED_RETURN_IF_ERROR(ReadString(t, "server", "listen", &listen));
  if (t.contains("listen")) PROFILED_RETURN_IF_ERROR(ParseListen(listen, "server.listen", s));
  PROFILED_RETURN_IF_ERROR(ReadIntInto(t, "server", "threads", 0, 256, &s->threads));
  PROFILED_RETURN_IF_ERROR(
      ReadIntInto(t, "server", "max_connections", 1, 1000000, &s->max_connections));
  PROFILED_RETURN_IF_ERROR(
      ReadIntInto(t, "server", "idle_timeout_ms", 100, 3600000, &s->idle_timeout_ms));
  PROFILED_RETURN_IF_ERROR(
      ReadIntInto(t, "server", "read_timeout_ms", 100, 3600000, &s->read_timeout_ms));
  // At least twice the largest body a route takes (32 MiB), so any one request fits.
  PROFILED_RETURN_IF_ERROR(
      ReadIntInto(t, "server", "max_body_memory_mb", 64, 1048576, &s->max_body_memory_mb));
  PROFILED_RETURN_IF_ERROR(ReadString(t, "server", "cors_allow_origin", &s->cors_allow_origin));
  std::string log_format = "text";
  PROFILED_RETURN_IF_ERROR(ReadString(t, "server", "log_format", &log_format));
  if (log_format != "text" && log_format != "json") {
    return KeyError("server.log_format",
                    "expected \"text\" or \"json\", got \"" + log_format + "\"");
  }
  s->json_logs = log_format == "json";
  PROFILED_RETURN_IF_ERROR(ReadString(t, "server", "tls_cert", &s->tls_cert));
  PROFILED_RETURN_IF_ERROR(ReadString(t, "server", "tls_key", &s->tls_key));
  if (s->tls_cert.empty() != s->tls_key.empty()) {
    return KeyError(s->tls_cert.empty() ? "server.tls_cert" : "server.tls_key",
                    "missing: HTTPS needs both tls_cert and tls_key");
  }
  return Status::Ok();
}

// A Redis node's address as the Redis client reads it: "host:port", split at the last colon,
// with a non-empty host and a port of 1-65535.
Status CheckRedisNode(std::string_view node, std::string_view key) {
  size_t colon = node.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return KeyError(key, "expected \"host:port\", got \"" + std::string(node) + "\"");
  }
  std::string_view port_text = node.substr(colon + 1);
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port < 1 || port > 65535) {
    return KeyError(key, "port must be between 1 and 65535 in \"" + std::string(node) + "\"");
  }
  return Status::Ok();
}

Status ReadRedisNodes(const toml::table& t, std::vector<std::string>* out) {
  const toml::node* n = t.get("redis_nodes");
  if (n == nullptr) return Status::Ok();
  const toml::array* nodes = n->as_array();
  if (nodes == nullptr) {
    return KeyError("storage.redis_nodes", "expected an array of \"host:port\" strings");
  }
  out->clear();
  for (size_t i = 0; i < nodes->size(); ++i) {
    std::string key = "storage.redis_nodes[" + std::to_string(i) + "]";
    const toml::value<std::string>* node = (*nodes)[i].as_string();
    if (node == nullptr) return KeyError(key, "expected a \"host:port\" string");
    PROFILED_RETURN_IF_ERROR(CheckRedisNode(node->get(), key));
    out->push_back(node->get());
  }
  return Status::Ok();
}

Status ReadStorage(const toml::table& t, StorageConfig* s) {
  PROFILED_RETURN_IF_ERROR(
      CheckKnownKeys(t, "storage",
                     {"backend", "path", "durability", "block_cache_mb", "row_cache_mb",
                      "event_retention_days", "admin_token", "redis_nodes", "redis_password",
                      "redis_wait_replicas", "redis_read_threads"}));
  PROFILED_RETURN_IF_ERROR(ReadString(t, "storage", "backend", &s->backend));
  if (s->backend != "rocksdb" && s->backend != "redis-cluster") {
    return KeyError("storage.backend",
                    "expected \"rocksdb\" or \"redis-cluster\", got \"" + s->backend + "\"");
  }
  PROFILED_RETURN_IF_ERROR(ReadString(t, "storage", "path", &s->path));
  if (s->path.empty()) return KeyError("storage.path", "must not be empty");
  std::string durability = "fsync";
  PROFILED_RETURN_IF_ERROR(ReadString(t, "storage", "durability", &durability));
  if (durability == "fsync") {
    s->durability = Durability::kFsync;
  } else if (durability == "buffered") {
    s->durability = Durability::kBuffered;
  } else {
    return KeyError("storage.durability",
                    "expected \"fsync\" or \"buffered\", got \"" + durability + "\"");
  }
  PROFILED_RETURN_IF_ERROR(
      ReadIntInto(t, "storage", "block_cache_mb", 8, 1 << 20, &s->block_cache_mb));
  PROFILED_RETURN_IF_ERROR(ReadIntInto(t, "storage", "row_cache_mb", 0, 1 << 20, &s->row_cache_mb));
  PROFILED_RETURN_IF_ERROR(
      ReadIntInto(t, "storage", "event_retention_days", 1, 36500, &s->event_retention_days));
  // The redis_* keys are checked whatever the backend (a typo fails now, not on the day the
  // backend is switched), and needed only with redis-cluster.
  PROFILED_RETURN_IF_ERROR(ReadRedisNodes(t, &s->redis_nodes));
  PROFILED_RETURN_IF_ERROR(ReadString(t, "storage", "redis_password", &s->redis_password));
  PROFILED_RETURN_IF_ERROR(
      ReadIntInto(t, "storage", "redis_wait_replicas", 0, 16, &s->redis_wait_replicas));
  PROFILED_RETURN_IF_ERROR(
      ReadIntInto(t, "storage", "redis_read_threads", 0, 1024, &s->redis_read_threads));
  if (s->backend == "redis-cluster" && s->redis_nodes.empty()) {
    return KeyError("storage.redis_nodes",
                    "required with backend = \"redis-cluster\": at least one \"host:port\"");
  }
  return Status::Ok();
}

// A rate of events per second: a number >= 0 (0 = off), left alone when absent.
Status ReadRate(const toml::table& t, std::string_view prefix, std::string_view key, double* out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return Status::Ok();
  if (!n->is_number()) return KeyError(Join(prefix, key), "expected a number");
  double v = *n->value<double>();
  if (!(v >= 0) || v > 1e9) {
    return KeyError(Join(prefix, key), "must be between 0 (off) and 1000000000");
  }
  *out = v;
  return Status::Ok();
}

Status ReadIngest(const toml::table& t, IngestConfig* s) {
  PROFILED_RETURN_IF_ERROR(
      CheckKnownKeys(t, "ingest",
                     {"throttle_events_per_second", "throttle_window_seconds", "dedup_window_days",
                      "max_queued_events", "max_queued_mb"}));
  PROFILED_RETURN_IF_ERROR(
      ReadRate(t, "ingest", "throttle_events_per_second", &s->throttle_events_per_second));
  PROFILED_RETURN_IF_ERROR(
      ReadIntInto(t, "ingest", "throttle_window_seconds", 1, 3600, &s->throttle_window_seconds));
  PROFILED_RETURN_IF_ERROR(
      ReadIntInto(t, "ingest", "dedup_window_days", 1, 3650, &s->dedup_window_days));
  PROFILED_RETURN_IF_ERROR(
      ReadIntInto(t, "ingest", "max_queued_events", 1000, 100000000, &s->max_queued_events));
  PROFILED_RETURN_IF_ERROR(
      ReadIntInto(t, "ingest", "max_queued_mb", 1, 1 << 20, &s->max_queued_mb));
  return Status::Ok();
}

Status ReadRecs(const toml::table& t, RecsConfig* s) {
  PROFILED_RETURN_IF_ERROR(CheckKnownKeys(t, "recs", {"max_memory_mb"}));
  return ReadIntInto(t, "recs", "max_memory_mb", 16, 1 << 24, &s->max_memory_mb);
}

Status ReadDefinitions(const toml::table& t, DefinitionsConfig* s) {
  PROFILED_RETURN_IF_ERROR(
      CheckKnownKeys(t, "definitions", {"max_computations", "max_cohorts", "max_recommendations"}));
  PROFILED_RETURN_IF_ERROR(
      ReadIntInto(t, "definitions", "max_computations", 1, 1000000, &s->max_computations));
  PROFILED_RETURN_IF_ERROR(
      ReadIntInto(t, "definitions", "max_cohorts", 1, 1000000, &s->max_cohorts));
  return ReadIntInto(t, "definitions", "max_recommendations", 1, 1000000, &s->max_recommendations);
}

Status ReadPrivacy(const toml::table& t, PrivacyConfig* s) {
  PROFILED_RETURN_IF_ERROR(CheckKnownKeys(t, "privacy", {"staging_minutes"}));
  // Up to a year: Amplitude's own jobs wait 10-13 days.
  return ReadIntInto(t, "privacy", "staging_minutes", 0, int64_t{366} * 24 * 60,
                     &s->staging_minutes);
}

Status ReadConsole(const toml::table& t, ConsoleConfig* s) {
  PROFILED_RETURN_IF_ERROR(
      CheckKnownKeys(t, "console", {"rate_sample_seconds", "cohort_sample_seconds"}));
  PROFILED_RETURN_IF_ERROR(
      ReadIntInto(t, "console", "rate_sample_seconds", 1, 3600, &s->rate_sample_seconds));
  // Up to a day; 0 turns the cohort sampling off (each sample scans every user).
  return ReadIntInto(t, "console", "cohort_sample_seconds", 0, 86400, &s->cohort_sample_seconds);
}

Status ReadTesting(const toml::table& t, TestingConfig* s) {
  PROFILED_RETURN_IF_ERROR(
      CheckKnownKeys(t, "testing",
                     {"clock_control", "clock_offset_ms", "backfill_chunk_events",
                      "backfill_chunk_delay_ms", "deletion_chunk_events"}));
  PROFILED_RETURN_IF_ERROR(
      ReadIntInto(t, "testing", "deletion_chunk_events", 1, 10000000, &s->deletion_chunk_events));
  PROFILED_RETURN_IF_ERROR(
      ReadIntInto(t, "testing", "backfill_chunk_events", 1, 1000000, &s->backfill_chunk_events));
  PROFILED_RETURN_IF_ERROR(
      ReadIntInto(t, "testing", "backfill_chunk_delay_ms", 0, 60000, &s->backfill_chunk_delay_ms));
  if (const toml::node* n = t.get("clock_control")) {
    if (!n->is_boolean()) return KeyError("testing.clock_control", "expected true or false");
    s->clock_control = *n->value<bool>();
  }
  // Up to 100 years either way: enough for any test, far from overflowing a time in ms.
  constexpr int64_t kCentury = int64_t{100} * 366 * 86400 * 1000;
  return ReadIntInto(t, "testing", "clock_offset_ms", -kCentury, kCentury, &s->clock_offset_ms);
}

// A project's secret_keys: a non-empty array of non-empty strings (left alone when absent).
// The messages never quote a key: config errors are printed and logged.
Status ReadSecretKeys(const toml::table& t, std::string_view prefix,
                      std::vector<std::string>* out) {
  const toml::node* n = t.get("secret_keys");
  if (n == nullptr) return Status::Ok();
  const std::string key = Join(prefix, "secret_keys");
  const toml::array* keys = n->as_array();
  if (keys == nullptr) return KeyError(key, "expected an array of strings");
  if (keys->empty()) return KeyError(key, "must hold at least one key");
  for (size_t i = 0; i < keys->size(); ++i) {
    const toml::value<std::string>* k = (*keys)[i].as_string();
    std::string where = key + "[" + std::to_string(i) + "]";
    if (k == nullptr) return KeyError(where, "expected a string");
    if (k->get().empty()) return KeyError(where, "must not be empty");
    out->push_back(k->get());
  }
  return Status::Ok();
}

bool IsValidProjectId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

Status ReadProject(const toml::table& t, size_t index, ProjectConfig* p) {
  std::string prefix = "projects[" + std::to_string(index) + "]";
  PROFILED_RETURN_IF_ERROR(
      CheckKnownKeys(t, prefix,
                     {"id", "api_key", "secret_key", "secret_keys", "profile_dialect",
                      "definitions", "events_per_second", "profile_reads_per_minute"}));
  for (auto key : {"id", "api_key"}) {
    if (!t.contains(key)) return KeyError(Join(prefix, key), "missing");
  }
  if (!t.contains("secret_key") && !t.contains("secret_keys")) {
    return KeyError(Join(prefix, "secret_key"), "missing (or give secret_keys)");
  }
  PROFILED_RETURN_IF_ERROR(ReadString(t, prefix, "id", &p->id));
  PROFILED_RETURN_IF_ERROR(ReadString(t, prefix, "api_key", &p->api_key));
  PROFILED_RETURN_IF_ERROR(ReadString(t, prefix, "secret_key", &p->secret_key));
  PROFILED_RETURN_IF_ERROR(ReadSecretKeys(t, prefix, &p->secret_keys));
  if (!IsValidProjectId(p->id)) {
    return KeyError(Join(prefix, "id"), "must be 1-64 characters of A-Z a-z 0-9 - _");
  }
  if (p->api_key.empty()) return KeyError(Join(prefix, "api_key"), "must not be empty");
  if (t.contains("secret_key") && p->secret_key.empty()) {
    return KeyError(Join(prefix, "secret_key"), "must not be empty");
  }
  PROFILED_RETURN_IF_ERROR(ReadString(t, prefix, "definitions", &p->definitions_file));
  PROFILED_RETURN_IF_ERROR(ReadRate(t, prefix, "events_per_second", &p->events_per_second));
  PROFILED_RETURN_IF_ERROR(ReadIntInto(t, prefix, "profile_reads_per_minute", 0, 60000000,
                                       &p->profile_reads_per_minute));
  std::string dialect = "seed";
  PROFILED_RETURN_IF_ERROR(ReadString(t, prefix, "profile_dialect", &dialect));
  if (dialect == "seed") {
    p->dialect = ProfileDialect::kSeed;
  } else if (dialect == "amplitude") {
    p->dialect = ProfileDialect::kAmplitude;
  } else {
    return KeyError(Join(prefix, "profile_dialect"),
                    "expected \"seed\" or \"amplitude\", got \"" + dialect + "\"");
  }
  return Status::Ok();
}

Result<Config> ParseTable(const toml::table& root) {
  Config c;
  PROFILED_RETURN_IF_ERROR(
      CheckKnownKeys(root, "",
                     {"server", "storage", "ingest", "recs", "definitions", "privacy", "console",
                      "testing", "admin_token", "projects"}));
  struct Section {
    const char* name;
    Status (*read)(const toml::table&, Config*);
  };
  const Section sections[] = {
      {"server", [](const toml::table& t, Config* cfg) { return ReadServer(t, &cfg->server); }},
      {"storage", [](const toml::table& t, Config* cfg) { return ReadStorage(t, &cfg->storage); }},
      {"ingest", [](const toml::table& t, Config* cfg) { return ReadIngest(t, &cfg->ingest); }},
      {"recs", [](const toml::table& t, Config* cfg) { return ReadRecs(t, &cfg->recs); }},
      {"definitions",
       [](const toml::table& t, Config* cfg) { return ReadDefinitions(t, &cfg->definitions); }},
      {"privacy", [](const toml::table& t, Config* cfg) { return ReadPrivacy(t, &cfg->privacy); }},
      {"console", [](const toml::table& t, Config* cfg) { return ReadConsole(t, &cfg->console); }},
      {"testing", [](const toml::table& t, Config* cfg) { return ReadTesting(t, &cfg->testing); }},
  };
  for (const auto& s : sections) {
    const toml::node* n = root.get(s.name);
    if (n == nullptr) continue;
    if (!n->is_table()) return KeyError(s.name, "expected a table");
    PROFILED_RETURN_IF_ERROR(s.read(*n->as_table(), &c));
  }
  PROFILED_RETURN_IF_ERROR(ReadString(root, "", "admin_token", &c.admin_token));
  // Configs written from the original specification's example put admin_token after
  // [storage], where TOML files it under storage; they must work as written, so both
  // places are accepted (README.md, "Configuration").
  if (const toml::table* storage = root["storage"].as_table()) {
    std::string nested;
    PROFILED_RETURN_IF_ERROR(ReadString(*storage, "storage", "admin_token", &nested));
    if (!nested.empty() && !c.admin_token.empty() && nested != c.admin_token) {
      return KeyError("storage.admin_token", "conflicts with the top-level admin_token");
    }
    if (!nested.empty()) c.admin_token = nested;
  }
  if (const toml::node* n = root.get("projects")) {
    const toml::array* arr = n->as_array();
    if (arr == nullptr) return KeyError("projects", "expected an array of tables ([[projects]])");
    for (size_t i = 0; i < arr->size(); ++i) {
      const toml::table* t = (*arr)[i].as_table();
      if (t == nullptr) return KeyError("projects[" + std::to_string(i) + "]", "expected a table");
      ProjectConfig p;
      PROFILED_RETURN_IF_ERROR(ReadProject(*t, i, &p));
      c.projects.push_back(std::move(p));
    }
  }
  PROFILED_RETURN_IF_ERROR(ValidateConfig(c));
  return c;
}

}  // namespace

Status ValidateConfig(const Config& c) {
  if (c.projects.empty())
    return KeyError("projects", "at least one [[projects]] entry is required");
  std::set<std::string> ids;
  std::set<std::string_view> keys;
  for (size_t i = 0; i < c.projects.size(); ++i) {
    const auto& p = c.projects[i];
    std::string prefix = "projects[" + std::to_string(i) + "]";
    if (!ids.insert(p.id).second)
      return KeyError(prefix + ".id", "duplicate project id \"" + p.id + "\"");
    // No key, public or secret, may belong to two projects: one project's key must never
    // open another's data. (A project whose secret equals its own api_key only exposes
    // itself; main.cc warns about it, and some example configs do exactly that.)
    if (!keys.insert(p.api_key).second) {
      return KeyError(prefix + ".api_key", "already used by another project");
    }
    std::set<std::string_view> own;
    for (size_t k = 0; k < p.secret_keys.size() + 1; ++k) {
      std::string_view key = k == 0 ? std::string_view(p.secret_key) : p.secret_keys[k - 1];
      std::string name =
          k == 0 ? prefix + ".secret_key" : prefix + ".secret_keys[" + std::to_string(k - 1) + "]";
      if (k == 0 && key.empty()) continue;
      if (!own.insert(key).second) return KeyError(name, "listed twice in this project");
      if (key != p.api_key && !keys.insert(key).second) {
        return KeyError(name, "already used by another project");
      }
    }
    if (own.empty()) return KeyError(prefix + ".secret_key", "missing (or give secret_keys)");
  }
  return Status::Ok();
}

std::vector<std::string_view> SecretKeysOf(const ProjectConfig& p) {
  std::vector<std::string_view> out;
  if (!p.secret_key.empty()) out.emplace_back(p.secret_key);
  for (const std::string& k : p.secret_keys) out.emplace_back(k);
  return out;
}

Status ParseListen(std::string_view listen, std::string_view key, ServerConfig* server) {
  auto colon = listen.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return KeyError(key, "expected HOST:PORT, got \"" + std::string(listen) + "\"");
  }
  std::string_view host = listen.substr(0, colon);
  std::string_view port_text = listen.substr(colon + 1);
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port > 65535) {
    return KeyError(key, "invalid port in \"" + std::string(listen) + "\"");
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  server->host = std::string(host);
  server->port = static_cast<uint16_t>(port);
  return Status::Ok();
}

Result<Config> ParseConfig(std::string_view toml_text) {
  try {
    toml::table root = toml::parse(toml_text);
    return ParseTable(root);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return Status::InvalidArgument("config: line " + std::to_string(where.line) + ": " +
                                   std::string(e.description()));
  }
}

Result<Config> LoadConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument("config: cannot read file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return ParseConfig(text.str());
}

Config DemoConfig() {
  Config c;
  c.admin_token = "demo-admin-token";
  c.projects.push_back(ProjectConfig{.id = "demo",
                                     .api_key = "demo-api-key",
                                     .secret_key = "demo-secret-key",
                                     .dialect = ProfileDialect::kSeed,
                                     .definitions_file = {}});
  return c;
}

}  // namespace profiled
