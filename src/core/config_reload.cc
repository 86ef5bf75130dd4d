#include "core/config_reload.h"

#include <algorithm>
#include <string_view>

namespace profiled {

namespace {

// Keeps `running`'s value of one setting in *out, naming it in *names when `next` had another.
template <typename T>
void Keep(std::string_view name, const T& running, T* out, std::vector<std::string>* names) {
  if (*out == running) return;
  names->emplace_back(name);
  *out = running;
}

const ProjectConfig* Find(const std::vector<ProjectConfig>& projects, const std::string& id) {
  auto it = std::find_if(projects.begin(), projects.end(),
                         [&](const ProjectConfig& p) { return p.id == id; });
  return it == projects.end() ? nullptr : &*it;
}

}  // namespace

ReloadPlan PlanReload(const Config& running, const Config& next) {
  ReloadPlan plan;
  plan.config = next;
  Config& c = plan.config;
  std::vector<std::string>& kept = plan.needs_restart;
  // What the HTTP server binds and starts with.
  if (c.server.host != running.server.host || c.server.port != running.server.port) {
    kept.emplace_back("server.listen");
    c.server.host = running.server.host;
    c.server.port = running.server.port;
  }
  Keep("server.threads", running.server.threads, &c.server.threads, &kept);
  Keep("server.max_body_memory_mb", running.server.max_body_memory_mb, &c.server.max_body_memory_mb,
       &kept);
  // HTTPS on or off is decided at start-up; the certificate files are re-read at each reload.
  if (c.server.tls_cert.empty() != running.server.tls_cert.empty()) {
    kept.emplace_back("server.tls_cert");
    c.server.tls_cert = running.server.tls_cert;
    c.server.tls_key = running.server.tls_key;
  }
  Keep("server.cors_allow_origin", running.server.cors_allow_origin, &c.server.cors_allow_origin,
       &kept);
  // The store, opened once.
  Keep("storage.backend", running.storage.backend, &c.storage.backend, &kept);
  Keep("storage.path", running.storage.path, &c.storage.path, &kept);
  Keep("storage.durability", running.storage.durability, &c.storage.durability, &kept);
  Keep("storage.block_cache_mb", running.storage.block_cache_mb, &c.storage.block_cache_mb, &kept);
  Keep("storage.row_cache_mb", running.storage.row_cache_mb, &c.storage.row_cache_mb, &kept);
  Keep("storage.redis_nodes", running.storage.redis_nodes, &c.storage.redis_nodes, &kept);
  Keep("storage.redis_password", running.storage.redis_password, &c.storage.redis_password, &kept);
  Keep("storage.redis_wait_replicas", running.storage.redis_wait_replicas,
       &c.storage.redis_wait_replicas, &kept);
  Keep("storage.redis_read_threads", running.storage.redis_read_threads,
       &c.storage.redis_read_threads, &kept);
  // The store's compaction and the writer's de-duplication must agree on it.
  Keep("ingest.dedup_window_days", running.ingest.dedup_window_days, &c.ingest.dedup_window_days,
       &kept);
  Keep("recs.max_memory_mb", running.recs.max_memory_mb, &c.recs.max_memory_mb, &kept);
  // The writer's, given at start-up.
  Keep("privacy.staging_minutes", running.privacy.staging_minutes, &c.privacy.staging_minutes,
       &kept);
  // The console's sampler, started with its intervals.
  Keep("console.rate_sample_seconds", running.console.rate_sample_seconds,
       &c.console.rate_sample_seconds, &kept);
  Keep("console.cohort_sample_seconds", running.console.cohort_sample_seconds,
       &c.console.cohort_sample_seconds, &kept);
  // Test seams, wired at start-up.
  Keep("testing.clock_control", running.testing.clock_control, &c.testing.clock_control, &kept);
  Keep("testing.clock_offset_ms", running.testing.clock_offset_ms, &c.testing.clock_offset_ms,
       &kept);
  Keep("testing.backfill_chunk_events", running.testing.backfill_chunk_events,
       &c.testing.backfill_chunk_events, &kept);
  Keep("testing.backfill_chunk_delay_ms", running.testing.backfill_chunk_delay_ms,
       &c.testing.backfill_chunk_delay_ms, &kept);
  Keep("testing.deletion_chunk_events", running.testing.deletion_chunk_events,
       &c.testing.deletion_chunk_events, &kept);

  // What takes effect at once, named when it changes.
  std::vector<std::string>& live = plan.changed;
  auto note = [&live](std::string_view name, const auto& before, const auto& after) {
    if (before != after) live.emplace_back(name);
  };
  note("admin_token", running.admin_token, c.admin_token);
  note("server.max_connections", running.server.max_connections, c.server.max_connections);
  note("server.idle_timeout_ms", running.server.idle_timeout_ms, c.server.idle_timeout_ms);
  note("server.read_timeout_ms", running.server.read_timeout_ms, c.server.read_timeout_ms);
  note("storage.event_retention_days", running.storage.event_retention_days,
       c.storage.event_retention_days);
  note("ingest.throttle_events_per_second", running.ingest.throttle_events_per_second,
       c.ingest.throttle_events_per_second);
  note("ingest.throttle_window_seconds", running.ingest.throttle_window_seconds,
       c.ingest.throttle_window_seconds);
  note("ingest.max_queued_events", running.ingest.max_queued_events, c.ingest.max_queued_events);
  note("ingest.max_queued_mb", running.ingest.max_queued_mb, c.ingest.max_queued_mb);
  note("definitions.max_computations", running.definitions.max_computations,
       c.definitions.max_computations);
  note("definitions.max_cohorts", running.definitions.max_cohorts, c.definitions.max_cohorts);
  note("definitions.max_recommendations", running.definitions.max_recommendations,
       c.definitions.max_recommendations);

  for (const ProjectConfig& p : next.projects) {
    const ProjectConfig* before = Find(running.projects, p.id);
    if (before == nullptr) {
      plan.added_projects.push_back(p.id);
    } else if (before->api_key != p.api_key || SecretKeysOf(*before) != SecretKeysOf(p)) {
      plan.rekeyed_projects.push_back(p.id);
    } else if (before->dialect != p.dialect || before->definitions_file != p.definitions_file ||
               before->events_per_second != p.events_per_second ||
               before->profile_reads_per_minute != p.profile_reads_per_minute) {
      plan.changed.push_back("projects." + p.id);
    }
  }
  for (const ProjectConfig& p : running.projects) {
    if (Find(next.projects, p.id) == nullptr) plan.removed_projects.push_back(p.id);
  }
  return plan;
}

}  // namespace profiled
