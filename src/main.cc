// profiled: the command line. `profiled serve` wires config -> store -> ingestor ->
// endpoints -> HTTP server, then waits for SIGTERM/SIGINT and shuts down in the reverse
// order: stop accepting and answer what is in flight, commit what is queued, close the
// store.
#include <pthread.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "api/endpoints.h"
#include "compute/catalog.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "ingest/definitions.h"
#include "ingest/ingestor.h"
#include "ingest/schema_upgrade.h"
#include "read/profile_reader.h"
#include "server/http_server.h"
#include "store/store.h"

namespace {

using namespace profiled;

constexpr int kExitConfigError = 2;

int Serve(const std::string& config_path, const std::string& listen, const std::string& data_dir) {
  Config config;
  bool demo = config_path.empty();
  if (demo) {
    config = DemoConfig();
  } else {
    Result<Config> loaded = LoadConfig(config_path);
    if (!loaded.ok()) {
      std::fprintf(stderr, "%s\n", loaded.status().message().c_str());
      return kExitConfigError;
    }
    config = std::move(loaded.value());
  }
  if (!listen.empty()) {
    Status s = ParseListen(listen, "--listen", &config.server);
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.message().c_str());
      return kExitConfigError;
    }
  }
  if (!data_dir.empty()) config.storage.path = data_dir;
  for (const auto& p : config.projects) {
    if (p.api_key == p.secret_key) {
      LogWarn("project \"" + p.id + "\": secret_key equals api_key, so anyone holding the " +
              "ingestion key can read this project's profiles");
    }
  }

  // Signals are taken by sigwait below; every thread started from here inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  Metrics metrics;
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
  std::unique_ptr<store::Store> store = std::move(opened.value());
  if (Status upgraded = ingest::UpgradeStore(*store); !upgraded.ok()) {
    LogError("cannot upgrade the store at " + config.storage.path + ": " + upgraded.ToString());
    return 1;
  }
  metrics.SetStoreSizeSource([s = store.get()] { return s->ApproximateSizeBytes(); });

  OffsetClock clock(config.testing.clock_offset_ms);
  compute::CatalogHolder catalogs;
  ingest::DefinitionRegistry registry(*store, catalogs, api::ParseStoredDefinition, clock);
  std::vector<std::string> project_ids;
  for (const auto& p : config.projects) project_ids.push_back(p.id);
  if (Status loaded = registry.Load(project_ids); !loaded.ok()) {
    LogError("cannot load the definitions: " + loaded.ToString());
    return 1;
  }

  ingest::IngestorOptions ingest_options = ingest::IngestorOptionsFromConfig(config);
  ingest::Ingestor ingestor(*store, ingest_options, clock, &metrics, &registry);
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

  read::ProfileReader reader(*store, catalogs, clock);
  api::Endpoints endpoints(config, *store, ingestor, metrics, clock, reader, &registry);
  if (config.testing.clock_control) endpoints.EnableClockControl(&clock);
  server::HttpServer server(config.server, endpoints, metrics);
  Status started = server.Start();
  if (!started.ok()) {
    LogError(started.message());
    endpoints.Stop();
    ingestor.Stop();
    return 1;
  }
  LogInfo("listening on " + config.server.host + ":" + std::to_string(server.port()) + " data=" +
          config.storage.path + " durability=" + (ingest_options.sync ? "fsync" : "buffered"));
  if (demo) {
    const auto& p = config.projects.front();
    LogInfo("demo project \"" + p.id + "\": api_key=" + p.api_key + " secret_key=" + p.secret_key +
            " admin_token=" + config.admin_token);
  }

  int signal = 0;
  sigwait(&signals, &signal);
  LogInfo(std::string("received ") + (signal == SIGTERM ? "SIGTERM" : "SIGINT") +
          ", shutting down");
  server.Stop();
  endpoints.Stop();
  ingestor.Stop();
  store.reset();
  LogInfo("stopped");
  return 0;
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
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitConfigError;
  }
  if (serve->parsed()) return Serve(config_path, listen, data_dir);
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
