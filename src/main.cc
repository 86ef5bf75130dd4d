// profiled: the command line. `profiled serve` wires config -> store -> ingestor ->
// endpoints -> HTTP server, then waits for signals: SIGHUP reloads the config file (keys,
// projects, limits: README.md, "Reloading the configuration"), SIGTERM/SIGINT shut down in
// the reverse order: stop accepting and answer what is in flight, commit what is queued, close
// the store. `profiled eval` measures the recommendation models offline on a ratings file
// (docs/RECS.md); `profiled import-ratings` loads one into a running server as events, and
// `profiled train` has a running server train a recommendation now. `profiled import` replays
// an Amplitude export archive or an NDJSON file of events into a running server.
#include <pthread.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <future>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>

#include "api/access.h"
#include "api/endpoints.h"
#include "cli/import_events.h"
#include "cli/import_ratings.h"
#include "cli/train.h"
#include "cluster/redis_store.h"
#include "compute/catalog.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/config_reload.h"
#include "core/json_writer.h"
#include "core/log.h"
#include "core/metrics.h"
#include "ingest/definitions.h"
#include "ingest/ingestor.h"
#include "ingest/rec_trainer.h"
#include "ingest/schema_upgrade.h"
#include "read/profile_reader.h"
#include "read/stats_sampler.h"
#include "recs/evaluation.h"
#include "recs/evidence_eval.h"
#include "recs/model.h"
#include "recs/model_shelf.h"
#include "recs/protocol.h"
#include "recs/ratings.h"
#include "recs/selection.h"
#include "recs/serving.h"
#include "server/http_server.h"
#include "store/store.h"

namespace {

using namespace profiled;

constexpr int kExitConfigError = 2;

// "host:port,host:port": storage.redis_nodes for the log.
std::string SeedList(const StorageConfig& storage) {
  std::string seeds;
  for (const std::string& node : storage.redis_nodes) {
    seeds += (seeds.empty() ? "" : ",") + node;
  }
  return seeds;
}

cluster::RedisStoreOptions RedisStoreOptionsFromConfig(const Config& config) {
  cluster::RedisStoreOptions options;
  options.client.seeds = config.storage.redis_nodes;
  options.client.password = config.storage.redis_password;
  options.wait_replicas = config.storage.redis_wait_replicas;
  options.dedup_window_days = config.ingest.dedup_window_days;
  return options;
}

// The certificate of [server] tls_cert and tls_key; null when HTTPS is off.
Result<std::shared_ptr<server::TlsContext>> LoadTls(const ServerConfig& server) {
  if (server.tls_cert.empty()) return std::shared_ptr<server::TlsContext>();
  return server::LoadTlsContext(server.tls_cert, server.tls_key);
}

// The config file with the command line's overrides (--listen, --data-dir) applied; its
// errors name the key and never quote a key's value.
Result<Config> ReadConfig(const std::string& config_path, const std::string& listen,
                          const std::string& data_dir) {
  Result<Config> config = LoadConfig(config_path);
  if (!config.ok()) return config.status();
  if (!listen.empty()) PROFILED_RETURN_IF_ERROR(ParseListen(listen, "--listen", &config->server));
  if (!data_dir.empty()) config->storage.path = data_dir;
  return config;
}

void WarnOfSecretsThatAreApiKeys(const Config& config) {
  for (const auto& p : config.projects) {
    for (std::string_view secret : SecretKeysOf(p)) {
      if (secret != p.api_key) continue;
      LogWarn("project \"" + p.id + "\": a secret key equals its api_key, so anyone holding " +
              "the ingestion key can read this project's profiles");
    }
  }
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

// What a configuration reload changes in the running server (README.md, "Reloading the
// configuration"); all of it outlives the reloads, which run on the signal thread.
struct Reloadable {
  std::string config_path;  // empty: the demo project, nothing to reload
  std::string listen;
  std::string data_dir;
  Config& running;  // as it runs: the last reload's plan
  // Every project the registry, the writer and the trainer serve: the configured ones and
  // those a reload removed (their data stays; a later reload may add them back).
  std::set<std::string>& loaded;
  api::Endpoints& endpoints;
  ingest::Ingestor& ingestor;
  ingest::DefinitionRegistry& registry;
  ingest::RecTrainer& trainer;
  server::HttpServer& server;
  read::StatsSampler& stats;
};

// SIGHUP: reads the config file again and applies what can change live: projects and their
// keys, the admin token, limits; the rest stays as it runs, one log line naming each setting
// left. A file that does not load, or a definitions file that does not parse, changes nothing.
// Requests in flight finish with the keys they started with; no connection is closed.
void Reload(Reloadable& r) {
  if (r.config_path.empty()) {
    LogWarn("SIGHUP: serving the demo project without --config; there is no file to reload");
    return;
  }
  Result<Config> next = ReadConfig(r.config_path, r.listen, r.data_dir);
  if (!next.ok()) {
    LogError("config reload refused, the running configuration is kept: " +
             next.status().message());
    return;
  }
  for (const ProjectConfig& p : next->projects) {
    if (p.definitions_file.empty()) continue;
    if (Status s = api::CheckDefinitionsFile(p.definitions_file); !s.ok()) {
      LogError("config reload refused, the running configuration is kept: project " + p.id + ": " +
               s.message());
      return;
    }
  }
  ReloadPlan plan = PlanReload(r.running, *next);
  // The certificate files are read again even when their paths are the same: a renewed
  // certificate is put in place and the server told with SIGHUP.
  Result<std::shared_ptr<server::TlsContext>> tls = LoadTls(plan.config.server);
  if (!tls.ok()) {
    LogError("config reload refused, the running configuration is kept: " + tls.status().message());
    return;
  }
  for (const std::string& name : plan.needs_restart) {
    LogWarn("config reload: " + name + " changed, which needs a restart; it stays as it runs");
  }
  // New projects: their stored definitions loaded (and their files applied, below) before
  // their keys work.
  std::vector<std::string> fresh;
  for (const ProjectConfig& p : plan.config.projects) {
    if (r.loaded.count(p.id) == 0) fresh.push_back(p.id);
  }
  if (!fresh.empty()) {
    std::promise<Status> done;
    r.ingestor.AddProjects(fresh, [&done](Status s) { done.set_value(std::move(s)); });
    if (Status s = done.get_future().get(); !s.ok()) {
      LogError("config reload refused, the running configuration is kept: cannot load the " +
               std::string("definitions of ") + JoinNames(fresh) + ": " + s.ToString());
      return;
    }
    r.loaded.insert(fresh.begin(), fresh.end());
    r.trainer.AddProjects(fresh);
  }
  // The files count against the new bounds.
  r.registry.SetLimits(plan.config.definitions);
  for (const ProjectConfig& p : plan.config.projects) {
    if (p.definitions_file.empty()) continue;
    if (Status s = api::ApplyDefinitionsFile(p.id, p.definitions_file, r.ingestor, r.registry);
        !s.ok()) {
      r.registry.SetLimits(r.running.definitions);
      LogError(
          "config reload stopped, keys and limits are kept as they were (the definitions "
          "applied before this one stay): project " +
          p.id + ": " + s.message());
      return;
    }
  }
  r.endpoints.SetConfig(plan.config);
  std::vector<std::string> ids;
  for (const ProjectConfig& p : plan.config.projects) ids.push_back(p.id);
  r.stats.SetProjects(std::move(ids));
  r.ingestor.SetLimits(ingest::IngestorOptionsFromConfig(plan.config));
  r.server.SetLimits(plan.config.server);
  if (*tls) r.server.SetTls(*tls);
  SetLogFormat(plan.config.server.json_logs ? LogFormat::kJson : LogFormat::kText);
  WarnOfSecretsThatAreApiKeys(plan.config);
  LogInfo("config reloaded from " + r.config_path + ": " +
          std::to_string(plan.config.projects.size()) + " projects; added: " +
          JoinNames(plan.added_projects) + "; removed: " + JoinNames(plan.removed_projects) +
          "; keys changed: " + JoinNames(plan.rekeyed_projects) +
          "; settings changed: " + JoinNames(plan.changed));
  r.running = std::move(plan.config);
}

// The demo project's keys, for the person who ran `make run`: on stdout, once, never in the
// log stream (which may be collected and kept).
void PrintDemoKeys(const Config& config) {
  const ProjectConfig& p = config.projects.front();
  std::printf(
      "profiled: demo project \"%s\" (serve without --config); its keys:\n"
      "  api_key      %s   (ingestion: the api_key of /2/httpapi, /batch, /identify)\n"
      "  secret_key   %s   (GET /v1/userprofile: Authorization: Api-Key <secret_key>)\n"
      "  admin_token  %s   (/admin/v1: Authorization: Bearer <admin_token>)\n",
      p.id.c_str(), p.api_key.c_str(), p.secret_key.c_str(), config.admin_token.c_str());
  std::fflush(stdout);
}

// `profiled check-config`: loads the file as `serve` would (with the same overrides) and
// checks every project's definitions file, without opening the store or a port. Prints one
// line naming the offending key and exits 2 on the first problem; otherwise prints what the
// file configures and exits 0.
int CheckConfig(const std::string& config_path, const std::string& listen,
                const std::string& data_dir) {
  Result<Config> config = ReadConfig(config_path, listen, data_dir);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.status().message().c_str());
    return kExitConfigError;
  }
  std::vector<std::string> ids;
  for (const ProjectConfig& p : config->projects) {
    ids.push_back(p.id);
    if (p.definitions_file.empty()) continue;
    if (Status s = api::CheckDefinitionsFile(p.definitions_file); !s.ok()) {
      std::fprintf(stderr, "config: projects \"%s\" definitions: %s\n", p.id.c_str(),
                   s.message().c_str());
      return kExitConfigError;
    }
  }
  if (Result<std::shared_ptr<server::TlsContext>> tls = LoadTls(config->server); !tls.ok()) {
    std::fprintf(stderr, "%s\n", tls.status().message().c_str());
    return kExitConfigError;
  }
  const Config& c = *config;
  std::string where =
      c.storage.backend == "rocksdb" ? c.storage.path : JoinNames(c.storage.redis_nodes);
  std::printf("%s: ok: listen %s://%s:%u, storage %s (%s), %zu project(s): %s\n",
              config_path.c_str(), c.server.tls_cert.empty() ? "http" : "https",
              c.server.host.c_str(), static_cast<unsigned>(c.server.port),
              c.storage.backend.c_str(), where.c_str(), ids.size(), JoinNames(ids).c_str());
  return 0;
}

int Serve(const std::string& config_path, const std::string& listen, const std::string& data_dir) {
  Config config;
  bool demo = config_path.empty();
  if (demo) {
    config = DemoConfig();
    if (!listen.empty()) {
      if (Status s = ParseListen(listen, "--listen", &config.server); !s.ok()) {
        std::fprintf(stderr, "%s\n", s.message().c_str());
        return kExitConfigError;
      }
    }
    if (!data_dir.empty()) config.storage.path = data_dir;
  } else {
    Result<Config> loaded = ReadConfig(config_path, listen, data_dir);
    if (!loaded.ok()) {
      std::fprintf(stderr, "%s\n", loaded.status().message().c_str());
      return kExitConfigError;
    }
    config = std::move(loaded.value());
  }
  SetLogFormat(config.server.json_logs ? LogFormat::kJson : LogFormat::kText);
  WarnOfSecretsThatAreApiKeys(config);
  Result<std::shared_ptr<server::TlsContext>> tls = LoadTls(config.server);
  if (!tls.ok()) {
    std::fprintf(stderr, "%s\n", tls.status().message().c_str());
    return kExitConfigError;
  }

  // Signals are taken by sigwait below; every thread started from here inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  Metrics metrics;
  const bool on_redis = config.storage.backend == "redis-cluster";
  std::unique_ptr<store::Store> store;
  // On redis-cluster the ingest writer's view of `store` (RedisStore::Writer(): it locks what
  // it reads); declared after `store`, so destroyed before it. Null on rocksdb: the writer
  // uses `store`.
  std::unique_ptr<store::Store> redis_writer;
  // The recommendation trainer's locking view, for its lease and model heads; null on rocksdb.
  std::unique_ptr<store::Store> redis_trainer_view;
  if (on_redis) {
    Result<std::unique_ptr<cluster::RedisStore>> opened =
        cluster::RedisStore::Open(RedisStoreOptionsFromConfig(config));
    if (!opened.ok()) {
      LogError("cannot open the Redis Cluster store (seeds " + SeedList(config.storage) +
               "): " + opened.status().message());
      return 1;
    }
    redis_writer = (*opened)->Writer();
    redis_trainer_view = (*opened)->Writer();
    LogInfo("store: redis-cluster seeds=" + SeedList(config.storage) +
            " node=" + (*opened)->node_id());
    store = std::move(opened.value());
  } else {
    store::RocksDbOptions store_options;
    store_options.path = config.storage.path;
    store_options.block_cache_bytes = static_cast<size_t>(config.storage.block_cache_mb) << 20;
    store_options.row_cache_bytes = static_cast<size_t>(config.storage.row_cache_mb) << 20;
    store_options.dedup_window_days = config.ingest.dedup_window_days;
    Result<std::unique_ptr<store::Store>> opened = store::OpenRocksDbStore(store_options);
    if (!opened.ok()) {
      LogError(opened.status().message());
      return 1;
    }
    store = std::move(opened.value());
  }
  store::Store& ingest_store = on_redis ? *redis_writer : *store;
  const std::string store_location =
      on_redis ? "Redis Cluster " + SeedList(config.storage) : config.storage.path;
  if (Status upgraded = ingest::UpgradeStore(*store); !upgraded.ok()) {
    LogError("cannot upgrade the store at " + store_location + ": " + upgraded.ToString());
    return 1;
  }
  metrics.SetStoreSizeSource([s = store.get()] { return s->ApproximateSizeBytes(); });

  OffsetClock clock(config.testing.clock_offset_ms);
  compute::CatalogHolder catalogs;
  // The registry commits through the writer's view too: on redis-cluster its changes lock the
  // project's definitions version in the writer's transaction (ingest/definitions.h).
  ingest::DefinitionRegistry registry(ingest_store, catalogs, api::ParseStoredDefinition, clock,
                                      store.get());
  std::vector<std::string> project_ids;
  for (const auto& p : config.projects) project_ids.push_back(p.id);
  if (Status loaded = registry.Load(project_ids); !loaded.ok()) {
    LogError("cannot load the definitions: " + loaded.ToString());
    return 1;
  }
  registry.SetLimits(config.definitions);

  ingest::IngestorOptions ingest_options = ingest::IngestorOptionsFromConfig(config);
  ingest::Ingestor ingestor(ingest_store, ingest_options, clock, &metrics, &registry);
  ingestor.Start();
  for (const auto& p : config.projects) {
    if (p.definitions_file.empty()) continue;
    if (Status s = api::ApplyDefinitionsFile(p.id, p.definitions_file, ingestor, registry);
        !s.ok()) {
      std::fprintf(stderr, "%s\n", s.message().c_str());
      ingestor.Stop();
      return kExitConfigError;
    }
  }

  recs::ModelShelf shelf;
  ingest::RecTrainerOptions trainer_options;
  trainer_options.memory_budget_bytes = static_cast<uint64_t>(config.recs.max_memory_mb) << 20;
  trainer_options.locking_store = redis_trainer_view.get();
  ingest::RecTrainer trainer(*store, catalogs, shelf, clock, project_ids, trainer_options);
  trainer.Start();
  read::ProfileReader reader(*store, catalogs, clock, &shelf);
  // The console's plots: on threads of their own, never an I/O thread or the writer.
  read::StatsSampler stats(
      metrics, clock,
      [&reader](std::string_view project, read::CohortSizeMap* sizes,
                const std::atomic<bool>& cancel) {
        return reader.CohortSizes(project, sizes, &cancel);
      },
      config.console.rate_sample_seconds, config.console.cohort_sample_seconds, project_ids);
  api::Endpoints endpoints(config, *store, ingestor, metrics, clock, reader, &registry);
  endpoints.EnableRecommendations(&trainer);
  endpoints.EnableConsoleStats(&stats);
  if (config.testing.clock_control) endpoints.EnableClockControl(&clock);
  server::HttpServer server(config.server, endpoints, metrics, *tls);
  Status started = server.Start();
  if (!started.ok()) {
    LogError(started.message());
    endpoints.Stop();
    stats.Stop();
    trainer.Stop();
    ingestor.Stop();
    return 1;
  }
  // Only now: the sampler reads the Metrics routes, which the server registered while it was
  // built (Metrics::RegisterRoute is not safe alongside reads).
  stats.Start();
  const std::string storage =
      on_redis ? "backend=redis-cluster seeds=" + SeedList(config.storage) +
                     " wait_replicas=" + std::to_string(config.storage.redis_wait_replicas)
               : "data=" + config.storage.path +
                     " durability=" + (ingest_options.sync ? "fsync" : "buffered");
  LogInfo("listening on " + config.server.host + ":" + std::to_string(server.port()) +
          (*tls ? " https " : " ") + storage);
  if (demo) {
    LogInfo("demo project \"" + config.projects.front().id +
            "\" (no --config): its keys are printed on stdout");
    PrintDemoKeys(config);
  }

  std::set<std::string> loaded(project_ids.begin(), project_ids.end());
  Reloadable reloadable{config_path, listen,   data_dir, config, loaded, endpoints,
                        ingestor,    registry, trainer,  server, stats};
  int signal = 0;
  for (;;) {
    sigwait(&signals, &signal);
    if (signal != SIGHUP) break;
    LogInfo("received SIGHUP, reloading the configuration");
    Reload(reloadable);
  }
  LogInfo(std::string("received ") + (signal == SIGTERM ? "SIGTERM" : "SIGINT") +
          ", shutting down");
  // The console's scans end first, so the requests waiting for them get their 503 while the
  // server still answers.
  endpoints.BeginStop();
  server.Stop();
  endpoints.Stop();
  stats.Stop();
  trainer.Stop();
  ingestor.Stop();
  redis_writer.reset();
  store.reset();
  LogInfo("stopped");
  return 0;
}

struct EvalFlags {
  std::string ratings_path;
  std::string format;
  std::vector<std::string> models;
  std::vector<std::string> protocols;
  std::string ks = "10,20";
  uint64_t seed = 1;
  double min_rating = 4.0;
  std::vector<std::string> params;
  std::string dump_split_dir;
  bool select = false;
  int32_t select_folds = 1;
  std::optional<double> select_share;
};

// "10,20" -> {10, 20}; an empty list, a zero, a repeat, or anything but digits and commas is
// an error.
Result<std::vector<size_t>> ParseCutoffs(const std::string& text) {
  std::vector<size_t> ks;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) {
    size_t k = 0;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), k);
    if (ec != std::errc() || end != part.data() + part.size() || k == 0 || k > 100000) {
      return Status::InvalidArgument("--k: \"" + part + "\" is not a cutoff between 1 and 100000");
    }
    if (std::find(ks.begin(), ks.end(), k) != ks.end()) {
      return Status::InvalidArgument("--k: " + part + " is given twice");
    }
    ks.push_back(k);
  }
  if (ks.empty()) return Status::InvalidArgument("--k: no cutoff given");
  return ks;
}

// What --select chose for a run, for its JSON line.
struct SelectedParams {
  std::vector<std::pair<std::string, double>> params;
  double validation_ndcg = 0;
  size_t validation_users = 0;
  size_t candidates = 0;
};

// One line of JSON per run, in the key order docs/RECS.md shows.
std::string EvalReportJson(std::string_view model, const recs::EvalReport& report,
                           const SelectedParams* selected) {
  auto rounded = [](double v, double scale) { return std::round(v * scale) / scale; };
  std::string out = "{\"model\":";
  AppendJsonString(&out, model);
  out += ",\"protocol\":";
  AppendJsonString(&out, recs::ProtocolName(report.protocol));
  out += ",\"users\":";
  AppendJsonUint(&out, report.users);
  out += ",\"items\":";
  AppendJsonInt(&out, report.items);
  for (const recs::CutoffMetrics& c : report.cutoffs) {
    out += ",\"recall@" + std::to_string(c.k) + "\":";
    AppendJsonDouble(&out, rounded(c.recall, 1e6));
    out += ",\"ndcg@" + std::to_string(c.k) + "\":";
    AppendJsonDouble(&out, rounded(c.ndcg, 1e6));
  }
  out += ",\"coverage@10\":";
  AppendJsonDouble(&out, rounded(report.coverage_at_10, 1e6));
  out += ",\"train_seconds\":";
  AppendJsonDouble(&out, rounded(report.train_seconds, 1e3));
  if (selected != nullptr) {
    out += ",\"params\":{";
    for (size_t i = 0; i < selected->params.size(); ++i) {
      if (i > 0) out += ',';
      AppendJsonString(&out, selected->params[i].first);
      out += ':';
      AppendJsonDouble(&out, selected->params[i].second);
    }
    out += "},\"candidates\":";
    AppendJsonUint(&out, selected->candidates);
    out += ",\"validation_users\":";
    AppendJsonUint(&out, selected->validation_users);
    out += ",\"validation_ndcg@10\":";
    AppendJsonDouble(&out, rounded(selected->validation_ndcg, 1e6));
  }
  out += "}";
  return out;
}

// The validation share of --model evidence's folds without --select-share (docs/RECS.md).
constexpr double kEvidenceSelectShare = 0.1;

int EvalFailure(const Status& s) {
  std::fprintf(stderr, "profiled eval: %s\n", s.message().c_str());
  return kExitConfigError;
}

// One model of a run and its grid: one candidate without --select.
struct EvalModel {
  recs::ModelKind kind = recs::ModelKind::kEase;
  std::vector<recs::Candidate> candidates;
  std::vector<recs::EvidenceCandidate> evidence;  // --model evidence (recs/evidence_eval.h)
  std::string name() const {
    return evidence.empty() ? std::string(recs::ModelName(kind)) : "evidence";
  }
};

// "lambda=0.01,0.02" -> {"lambda", {"0.01", "0.02"}}; lists need --select.
Result<recs::ParameterValues> ParseParam(const std::string& text, bool select) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size()) {
    return Status::InvalidArgument("--param \"" + text + "\" is not NAME=VALUE");
  }
  recs::ParameterValues p{text.substr(0, eq), {}};
  std::stringstream in(text.substr(eq + 1));
  std::string value;
  while (std::getline(in, value, ',')) p.values.push_back(value);
  if (p.values.size() > 1 && !select) {
    return Status::InvalidArgument("--param " + text + ": a list of values needs --select");
  }
  return p;
}

// Every combination of the given models and protocols is one run on the same positives; each
// protocol's split is made once, from the seed, and shared by the models. With --select, each
// model's grid is searched on validation data carved from the split's training data first
// (recs/selection.h), and the run trains and measures the chosen candidate.
int Eval(const EvalFlags& flags) {
  Result<recs::RatingsFormat> format = recs::ParseRatingsFormat(flags.format);
  if (!format.ok()) return EvalFailure(format.status());
  Result<std::vector<size_t>> ks = ParseCutoffs(flags.ks);
  if (!ks.ok()) return EvalFailure(ks.status());
  // Far beyond any rating scale, and small enough that evidence weights r·(rating − min_rating)
  // stay finite.
  if (!(std::abs(flags.min_rating) <= 1e6)) {
    return EvalFailure(Status::InvalidArgument("--min-rating must be a number in [-1e6, 1e6]"));
  }
  if (flags.select_folds < 1 || flags.select_folds > 100) {
    return EvalFailure(Status::InvalidArgument("--select-folds must be in [1, 100]"));
  }
  std::vector<recs::ParameterValues> params;
  for (const std::string& text : flags.params) {
    Result<recs::ParameterValues> p = ParseParam(text, flags.select);
    if (!p.ok()) return EvalFailure(p.status());
    params.push_back(*p);
  }
  std::vector<EvalModel> models;
  std::vector<bool> param_used(params.size(), false);
  const bool evidence =
      std::find(flags.models.begin(), flags.models.end(), "evidence") != flags.models.end();
  if (evidence && flags.models.size() > 1) {
    return EvalFailure(Status::InvalidArgument("--model evidence is evaluated alone"));
  }
  if (flags.select_share && !(evidence && flags.select)) {
    return EvalFailure(Status::InvalidArgument("--select-share needs --model evidence --select"));
  }
  if (flags.select_share && !(*flags.select_share > 0 && *flags.select_share <= 0.5)) {
    return EvalFailure(Status::InvalidArgument("--select-share must be in (0, 0.5]"));
  }
  if (evidence) {
    Result<std::vector<recs::EvidenceCandidate>> candidates = recs::ExpandEvidenceGrid(params);
    if (!candidates.ok()) return EvalFailure(candidates.status());
    models.push_back({recs::ModelKind::kEase, {}, std::move(*candidates)});
    param_used.assign(params.size(), true);
  }
  for (const std::string& name : flags.models) {
    if (evidence) break;
    Result<recs::ModelKind> kind = recs::ParseModelKind(name);
    if (!kind.ok()) return EvalFailure(kind.status());
    // A parameter applies to the models that have it; with one model every one must apply.
    std::vector<recs::ParameterValues> own;
    for (size_t i = 0; i < params.size(); ++i) {
      if (flags.models.size() == 1 ||
          recs::ModelOptionsFrom(*kind, {{params[i].name, params[i].values[0]}}).ok()) {
        own.push_back(params[i]);
        param_used[i] = true;
      }
    }
    Result<std::vector<recs::Candidate>> candidates = recs::ExpandGrid(*kind, own);
    if (!candidates.ok()) return EvalFailure(candidates.status());
    models.push_back({*kind, std::move(*candidates), {}});
  }
  for (size_t i = 0; i < params.size(); ++i) {
    if (!param_used[i]) {
      std::string text = params[i].name + "=";
      for (size_t v = 0; v < params[i].values.size(); ++v) {
        text.append(v == 0 ? "" : ",").append(params[i].values[v]);
      }
      return EvalFailure(Status::InvalidArgument("--param " + text + " fits none of the models"));
    }
  }
  std::vector<recs::Protocol> protocols;
  for (const std::string& name : flags.protocols) {
    Result<recs::Protocol> protocol = recs::ParseProtocol(name);
    if (!protocol.ok()) return EvalFailure(protocol.status());
    protocols.push_back(*protocol);
  }
  if (!flags.dump_split_dir.empty() && protocols.size() != 1) {
    return EvalFailure(Status::InvalidArgument("--dump-split takes exactly one --protocol"));
  }

  std::ifstream in(flags.ratings_path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) {
    return EvalFailure(Status::InvalidArgument("cannot read " + flags.ratings_path));
  }
  Result<std::vector<recs::Rating>> ratings = recs::ParseRatings(text.str(), *format);
  if (!ratings.ok()) {
    return EvalFailure(
        Status::InvalidArgument(flags.ratings_path + ": " + ratings.status().message()));
  }
  recs::Positives positives = recs::PositivesOf(*ratings, flags.min_rating);

  for (recs::Protocol protocol : protocols) {
    recs::EvalSplit split = recs::MakeSplit(positives.data, protocol, flags.seed);
    if (split.users.empty()) {
      return EvalFailure(Status::InvalidArgument(
          "no user has 5 or more ratings >= " + std::to_string(flags.min_rating) +
          " to evaluate under protocol " + std::string(recs::ProtocolName(protocol))));
    }
    const double share = flags.select_share.value_or(kEvidenceSelectShare);
    // Every rating a user gave in the split's item space, for the evidence model.
    std::optional<recs::RatedSplit> rated;
    if (evidence) rated = recs::AttachRatings(split, *ratings, positives, flags.min_rating);
    if (!flags.dump_split_dir.empty()) {
      if (Status s = recs::WriteSplit(split, flags.seed, flags.dump_split_dir); !s.ok()) {
        std::fprintf(stderr, "profiled eval: %s\n", s.message().c_str());
        return 1;
      }
      if (flags.select) {
        recs::EvalSplit validation = evidence
                                         ? recs::EvidenceFold(*rated, flags.seed, 0, share).split
                                         : recs::ValidationSplit(split, flags.seed, 0);
        if (Status s = recs::WriteSplit(validation, recs::ValidationSeed(flags.seed, 0),
                                        flags.dump_split_dir + "/validation");
            !s.ok()) {
          std::fprintf(stderr, "profiled eval: %s\n", s.message().c_str());
          return 1;
        }
      }
    }
    for (const EvalModel& model : models) {
      const std::string model_name = model.name();
      auto params_of =
          [&model](size_t c) -> const std::vector<std::pair<std::string, std::string>>& {
        return model.evidence.empty() ? model.candidates[c].params : model.evidence[c].params;
      };
      const size_t candidates = std::max(model.candidates.size(), model.evidence.size());
      std::optional<SelectedParams> selected;
      size_t chosen = 0;
      if (flags.select) {
        auto observe = [&](size_t c, int32_t fold, const recs::EvalReport& report) {
          std::string point;
          for (const auto& [name, value] : params_of(c)) {
            point.append(" ").append(name).append("=").append(value);
          }
          std::fprintf(stderr,
                       "profiled eval: validation %s seed %llu fold %d: %s%s: ndcg@10 %.6f "
                       "(%zu users, %.1f s)\n",
                       std::string(recs::ProtocolName(protocol)).c_str(),
                       static_cast<unsigned long long>(flags.seed), fold, model_name.c_str(),
                       point.c_str(), report.cutoffs[0].ndcg, report.users, report.train_seconds);
        };
        Result<recs::Selection> selection =
            model.evidence.empty() ? recs::SelectOnValidation(split, flags.seed, model.candidates,
                                                              flags.select_folds, observe)
                                   : recs::SelectEvidence(*rated, flags.seed, model.evidence,
                                                          flags.select_folds, share, observe);
        if (!selection.ok()) {
          std::fprintf(stderr, "profiled eval: %s\n", selection.status().message().c_str());
          return 1;
        }
        chosen = selection->chosen;
        selected.emplace();
        for (const auto& [name, value] : params_of(chosen)) {
          double v = 0;
          std::from_chars(value.data(), value.data() + value.size(), v);  // validated by the grid
          selected->params.emplace_back(name, v);
        }
        selected->validation_ndcg = selection->validation_ndcg[chosen];
        selected->validation_users = selection->validation_users;
        selected->candidates = candidates;
      }
      Result<recs::EvalReport> report =
          model.evidence.empty()
              ? recs::Evaluate(split, model.candidates[chosen].options, *ks)
              : recs::EvaluateEvidence(*rated, model.evidence[chosen].options, *ks);
      if (!report.ok()) {
        std::fprintf(stderr, "profiled eval: %s\n", report.status().message().c_str());
        return 1;
      }
      if (!flags.dump_split_dir.empty()) {
        std::string ranking;
        for (size_t e = 0; e < report->rankings.size(); ++e) {
          for (size_t r = 0; r < report->rankings[e].size(); ++r) {
            ranking += std::to_string(e) + '\t' + std::to_string(r) + '\t' +
                       std::to_string(report->rankings[e][r]) + '\n';
          }
        }
        std::string path = flags.dump_split_dir + "/ranking-" + model_name + ".tsv";
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << ranking;
        out.close();
        if (!out) {
          std::fprintf(stderr, "profiled eval: cannot write %s\n", path.c_str());
          return 1;
        }
      }
      std::printf("%s\n",
                  EvalReportJson(model_name, *report, selected ? &*selected : nullptr).c_str());
      std::fflush(stdout);
    }
  }
  return 0;
}

// --ca-file of the commands that find their server through --config (cli::ResolveServerTarget).
void AddServerCaFileOption(CLI::App* command, std::string* ca_file) {
  command->add_option("--ca-file", *ca_file,
                      "When the config's server has TLS on (server.tls_cert), the command "
                      "speaks HTTPS: the CA certificate (PEM) the server's certificate must "
                      "chain to (default: the system's trusted CAs); refused without TLS");
}

int Run(int argc, char** argv) {
  CLI::App app{"profiled: a self-hosted, Amplitude-compatible user profile server"};
  app.require_subcommand(1);
  std::string config_path, listen, data_dir;
  CLI::App* serve = app.add_subcommand("serve", "Serve ingestion and the Profile API");
  serve->add_option("--config", config_path, "TOML config file (without it: a demo project)")
      ->check(CLI::ExistingFile);
  serve->add_option("--listen", listen, "HOST:PORT to listen on (overrides server.listen)");
  serve->add_option("--data-dir", data_dir, "Store directory (overrides storage.path)");

  CLI::App* check_config = app.add_subcommand(
      "check-config",
      "Check a config file (and its definitions files) without serving; exit 2 on "
      "the first problem, with one line naming the key");
  check_config->add_option("--config", config_path, "TOML config file")
      ->required()
      ->check(CLI::ExistingFile);
  check_config->add_option("--listen", listen, "HOST:PORT (overrides server.listen)");
  check_config->add_option("--data-dir", data_dir, "Store directory (overrides storage.path)");

  EvalFlags eval_flags;
  CLI::App* eval = app.add_subcommand(
      "eval", "Measure recommendation models offline on a ratings file (docs/RECS.md)");
  eval->add_option("--ratings", eval_flags.ratings_path, "Ratings file")
      ->required()
      ->check(CLI::ExistingFile);
  eval->add_option("--format", eval_flags.format, "movielens-csv or movielens-tsv")->required();
  eval->add_option("--model", eval_flags.models,
                   "ease, ials, blend, itemknn or popular (comma-separated list), or evidence "
                   "alone")
      ->required()
      ->delimiter(',');
  eval->add_option("--protocol", eval_flags.protocols, "holdout or strong (comma-separated list)")
      ->required()
      ->delimiter(',');
  eval->add_option("--k", eval_flags.ks, "Cutoffs, comma-separated")->capture_default_str();
  eval->add_option("--seed", eval_flags.seed, "Seed of the split")->capture_default_str();
  eval->add_option("--min-rating", eval_flags.min_rating, "Ratings at or above are positives")
      ->capture_default_str();
  eval->add_option("--param", eval_flags.params,
                   "Model parameter NAME=VALUE, repeatable (ease: lambda, popularity_exponent, "
                   "max_items; ials: factors, alpha0, lambda, reg_exponent, epochs, seed; blend: "
                   "ease_lambda, ials_lambda, ials_weight and those of ease and ials; itemknn: "
                   "neighbours; evidence: lambda, emphasis, popularity_exponent, rating_weight, "
                   "high_weight, low_weight, ials_weight, ials_confidence and the ials ones with "
                   "ials_lambda)");
  eval->add_option("--dump-split", eval_flags.dump_split_dir,
                   "Write the split and each model's ranking to this directory (for "
                   "bench/ease_reference.py)");
  eval->add_flag("--select", eval_flags.select,
                 "Choose each model's parameters (--param NAME=V1,V2,...: every combination) by "
                 "NDCG@10 on validation data carved from the training data, then measure the "
                 "choice once on the test items");
  eval->add_option("--select-folds", eval_flags.select_folds,
                   "Validation splits averaged per candidate with --select")
      ->capture_default_str();
  eval->add_option("--select-share", eval_flags.select_share,
                   "With --model evidence --select: the share of each training user's positives "
                   "(holdout) or of the training users (strong) a validation fold holds out "
                   "(default 0.1)");
  cli::ImportRatingsFlags import_flags;
  CLI::App* import_ratings = app.add_subcommand(
      "import-ratings",
      "Load a ratings file into a running server as events, through its /batch endpoint "
      "(exit 2: bad flags or files; 1: the server is unreachable or refuses a batch)");
  import_ratings
      ->add_option("--config", import_flags.config_path,
                   "The server's TOML config (its listen address and the project's "
                   "api_key)")
      ->required();
  import_ratings->add_option("--project", import_flags.project, "Project id")->required();
  import_ratings->add_option("--ratings", import_flags.ratings_path, "Ratings file")->required();
  import_ratings->add_option("--format", import_flags.format, "movielens-csv or movielens-tsv")
      ->required();
  import_ratings
      ->add_option("--min-rating", import_flags.min_rating,
                   "Send only ratings at or above this (0: all)")
      ->capture_default_str();
  import_ratings->add_option("--event-type", import_flags.event_type, "Event type of the events")
      ->capture_default_str();
  import_ratings
      ->add_option("--time", import_flags.time,
                   "shifted (the newest rating is now, gaps kept) or original (the file's "
                   "timestamps)")
      ->capture_default_str();
  import_ratings->add_option("--server", import_flags.server,
                             "HOST:PORT of the server (overrides the config's server.listen)");
  AddServerCaFileOption(import_ratings, &import_flags.ca_file);
  cli::ImportFlags import_events_flags;
  CLI::App* import_events = app.add_subcommand(
      "import",
      "Replay an Amplitude Export API archive (--amplitude-export) or an NDJSON file of HTTP V2 "
      "events (--ndjson) into a running server, through its /batch endpoint; resumable "
      "(docs/API.md, \"Importing events\"). Exit 2: bad flags or input; 1: the server is "
      "unreachable or refuses, or the input is damaged partway (run again to resume)");
  import_events
      ->add_option("--url", import_events_flags.url,
                   "http://HOST:PORT or https://HOST:PORT of a profiled node")
      ->required();
  import_events->add_option("--ca-file", import_events_flags.ca_file,
                            "https: the CA certificate (PEM) the node's certificate must chain "
                            "to (default: the system's trusted CAs)");
  import_events->add_option("--api-key", import_events_flags.api_key, "The project's api_key")
      ->required();
  CLI::Option* export_option =
      import_events->add_option("--amplitude-export", import_events_flags.amplitude_export,
                                "A zip archive from Amplitude's Export API (gzipped JSON lines)");
  CLI::Option* ndjson_option =
      import_events->add_option("--ndjson", import_events_flags.ndjson,
                                "A file of HTTP V2 event objects, one per line (plain or gzipped)");
  export_option->excludes(ndjson_option);
  import_events->add_option("--state", import_events_flags.state_path,
                            "State file recording how far the import got (default: the "
                            "input's path + .import-state)");
  import_events->add_flag("--restart", import_events_flags.restart,
                          "Ignore an existing state file and import from the start");
  import_events
      ->add_option("--user-properties", import_events_flags.user_properties,
                   "What an export line's user_properties (the state after the event) do: "
                   "replace (the profile becomes that state), set (only $set), ignore")
      ->capture_default_str();
  import_events
      ->add_option("--batch-events", import_events_flags.batch_events,
                   "Events per request (1 to 2000)")
      ->capture_default_str();
  import_events->add_option("--min-id-length", import_events_flags.min_id_length,
                            "Sent as options.min_id_length (default: the server's, 5)");
  import_events
      ->add_option("--max-retries", import_events_flags.max_retries,
                   "Retries in a row of a request answered 429 or 5xx, or not answered, "
                   "before stopping")
      ->capture_default_str();
  cli::TrainFlags train_flags;
  CLI::App* train = app.add_subcommand(
      "train",
      "Train one recommendation now in a running server and follow it to its end (exit 2: bad "
      "flags, project or recommendation; 1: the server is unreachable, refuses or the training "
      "fails)");
  train
      ->add_option("--config", train_flags.config_path,
                   "The server's TOML config (its listen address and admin_token)")
      ->required();
  train->add_option("--project", train_flags.project, "Project id")->required();
  train->add_option("--rec", train_flags.rec, "Recommendation id")->required();
  train->add_option("--server", train_flags.server,
                    "HOST:PORT of the server (overrides the config's server.listen)");
  AddServerCaFileOption(train, &train_flags.ca_file);
  train->add_option("--timeout", train_flags.timeout_seconds, "Give up after this many seconds")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitConfigError;
  }
  if (serve->parsed()) return Serve(config_path, listen, data_dir);
  if (check_config->parsed()) return CheckConfig(config_path, listen, data_dir);
  if (eval->parsed()) return Eval(eval_flags);
  if (train->parsed()) return cli::Train(train_flags, stdout, stderr);
  if (import_events->parsed()) return cli::Import(import_events_flags, stdout, stderr);
  if (import_ratings->parsed()) {
    return cli::ImportRatings(import_flags, SystemClock::Instance().NowMs(), stderr);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Each layer catches the exceptions of the libraries it calls; what still arrives here (a
  // failed allocation, a thread that cannot start) ends the process with a log line and exit 1
  // rather than std::terminate.
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    LogError(std::string("fatal: ") + e.what());
    return 1;
  }
}
