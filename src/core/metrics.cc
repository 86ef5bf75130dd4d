#include "core/metrics.h"

#include <cstdio>

namespace profiled {

namespace {
// The Prometheus labels of one series.
std::string Labels(const std::string& route, int slot) {
  std::string status = slot < static_cast<int>(Metrics::kStatuses.size())
                           ? std::to_string(Metrics::kStatuses[slot])
                           : std::string("other");
  return "route=\"" + route + "\",status=\"" + status + "\"";
}
}  // namespace

Metrics::Metrics() : series_(static_cast<size_t>(kMaxRoutes) * kStatusSlots) {}

int Metrics::RegisterRoute(std::string_view name) {
  routes_.emplace_back(name);
  return static_cast<int>(routes_.size()) - 1;
}

void Metrics::RecordRequest(int route, int status, double seconds) {
  if (route < 0 || route >= static_cast<int>(routes_.size())) return;
  int slot = kStatusSlots - 1;
  for (int i = 0; i < static_cast<int>(kStatuses.size()); ++i) {
    if (kStatuses[i] == status) slot = i;
  }
  Series& s = series_[route * kStatusSlots + slot];
  int bucket = kBuckets - 1;
  for (int i = 0; i < static_cast<int>(kBucketBounds.size()); ++i) {
    if (seconds <= kBucketBounds[i]) {
      bucket = i;
      break;
    }
  }
  s.buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  s.count.fetch_add(1, std::memory_order_relaxed);
  s.sum_micros.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

Metrics::Totals Metrics::ReadTotals() const {
  Totals t;
  t.events_ingested = events_ingested_.load(std::memory_order_relaxed);
  for (size_t r = 0; r < routes_.size(); ++r) {
    const bool profile = std::string_view(routes_[r]).starts_with("/v1/userprofile");
    for (int slot = 0; slot < kStatusSlots; ++slot) {
      uint64_t count = series_[r * kStatusSlots + slot].count.load(std::memory_order_relaxed);
      t.requests += count;
      if (profile) t.profile_reads += count;
    }
  }
  return t;
}

std::string Metrics::RenderPrometheus() const {
  std::string out;
  char line[256];
  out += "# HELP profiled_http_requests_total HTTP requests answered, by route and status.\n";
  out += "# TYPE profiled_http_requests_total counter\n";
  for (size_t r = 0; r < routes_.size(); ++r) {
    for (int slot = 0; slot < kStatusSlots; ++slot) {
      const Series& s = series_[r * kStatusSlots + slot];
      uint64_t count = s.count.load(std::memory_order_relaxed);
      if (count == 0) continue;
      std::snprintf(line, sizeof line, "profiled_http_requests_total{%s} %llu\n",
                    Labels(routes_[r], slot).c_str(), static_cast<unsigned long long>(count));
      out += line;
    }
  }
  out +=
      "# HELP profiled_http_request_duration_seconds Time from a request's header read to its "
      "answer being queued for writing.\n";
  out += "# TYPE profiled_http_request_duration_seconds histogram\n";
  for (size_t r = 0; r < routes_.size(); ++r) {
    for (int slot = 0; slot < kStatusSlots; ++slot) {
      const Series& s = series_[r * kStatusSlots + slot];
      uint64_t count = s.count.load(std::memory_order_relaxed);
      if (count == 0) continue;
      std::string labels = Labels(routes_[r], slot);
      uint64_t cumulative = 0;
      for (int b = 0; b < kBuckets; ++b) {
        cumulative += s.buckets[b].load(std::memory_order_relaxed);
        std::string le = b < static_cast<int>(kBucketBounds.size())
                             ? std::to_string(kBucketBounds[b])
                             : std::string("+Inf");
        std::snprintf(line, sizeof line,
                      "profiled_http_request_duration_seconds_bucket{%s,le=\"%s\"} %llu\n",
                      labels.c_str(), le.c_str(), static_cast<unsigned long long>(cumulative));
        out += line;
      }
      std::snprintf(line, sizeof line, "profiled_http_request_duration_seconds_sum{%s} %.6f\n",
                    labels.c_str(),
                    static_cast<double>(s.sum_micros.load(std::memory_order_relaxed)) / 1e6);
      out += line;
      std::snprintf(line, sizeof line, "profiled_http_request_duration_seconds_count{%s} %llu\n",
                    labels.c_str(), static_cast<unsigned long long>(count));
      out += line;
    }
  }
  auto counter = [&](const char* name, const char* help, uint64_t value) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n";
    std::snprintf(line, sizeof line, "%s %llu\n", name, static_cast<unsigned long long>(value));
    out += line;
  };
  counter("profiled_events_ingested_total", "Events accepted and made durable.",
          events_ingested_.load(std::memory_order_relaxed));
  counter("profiled_events_rejected_total", "Events in batches answered 4xx.",
          events_rejected_.load(std::memory_order_relaxed));
  counter("profiled_events_deduplicated_total",
          "Accepted events skipped because their insert_id was already seen.",
          events_deduplicated_.load(std::memory_order_relaxed));
  counter("profiled_events_throttled_total", "Events in batches answered 429.",
          events_throttled_.load(std::memory_order_relaxed));
  counter("profiled_commit_retries_total",
          "Commit groups of events applied again because another node held a key they needed "
          "for longer than the lock wait, two nodes waited for each other, or the group took "
          "too long to apply while a backfill was pending (Redis Cluster).",
          commit_retries_.load(std::memory_order_relaxed));
  counter("profiled_backfill_events_scanned_total",
          "Logged events read by backfills of new computations and cohorts.",
          events_backfilled_.load(std::memory_order_relaxed));
  uint64_t on_loop = profile_reads_on_loop_.load(std::memory_order_relaxed);
  uint64_t on_thread = profile_reads_on_thread_.load(std::memory_order_relaxed);
  if (on_loop + on_thread > 0) {
    out +=
        "# HELP profiled_profile_store_reads_total Profile reads of a store across a network, "
        "by where they waited: on the I/O thread's event loop, or on a read thread.\n";
    out += "# TYPE profiled_profile_store_reads_total counter\n";
    out += "profiled_profile_store_reads_total{path=\"loop\"} " + std::to_string(on_loop) + "\n";
    out +=
        "profiled_profile_store_reads_total{path=\"thread\"} " + std::to_string(on_thread) + "\n";
  }
  out += "# HELP profiled_open_connections Open client connections.\n";
  out += "# TYPE profiled_open_connections gauge\n";
  out += "profiled_open_connections " + std::to_string(connections_.load()) + "\n";
  if (store_size_) {
    out += "# HELP profiled_store_size_bytes Approximate size of the store on disk.\n";
    out += "# TYPE profiled_store_size_bytes gauge\n";
    out += "profiled_store_size_bytes " + std::to_string(store_size_()) + "\n";
  }
  return out;
}

}  // namespace profiled
