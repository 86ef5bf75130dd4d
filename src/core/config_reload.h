// PlanReload: what a configuration reload (SIGHUP, README.md "Reloading the configuration")
// changes in a running server, and what it leaves as it was.
//
// Some settings are read once at start-up (the listen address, the threads, the store) and
// need a restart; the rest (keys and projects, limits) take effect at once. A plan is the new
// configuration with every start-up setting kept as it runs, and the names of the settings the
// new file changed but the reload leaves alone. Pure; the plan never holds a key's value in
// its names, so they may be logged.
#pragma once

#include <string>
#include <vector>

#include "core/config.h"

namespace profiled {

struct ReloadPlan {
  // What to run with: `next` with every setting that needs a restart taken from `running`.
  Config config;
  // The config keys (e.g. "server.threads", "storage.redis_password") that `next` changes
  // but that need a restart; never their values.
  std::vector<std::string> needs_restart;
  // The settings that take effect at once and that `next` changes ("admin_token",
  // "ingest.throttle_events_per_second", ..., "projects.<id>" for a project's dialect or
  // definitions file); never their values.
  std::vector<std::string> changed;
  // Project ids of `next` that `running` does not have, and of `running` that `next` drops.
  std::vector<std::string> added_projects;
  std::vector<std::string> removed_projects;
  // Ids of projects in both whose keys (api_key, secret keys) differ.
  std::vector<std::string> rekeyed_projects;
};

// REQUIRES: both are valid (ValidateConfig).
ReloadPlan PlanReload(const Config& running, const Config& next);

}  // namespace profiled
