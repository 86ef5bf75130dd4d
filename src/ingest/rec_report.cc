#include "ingest/rec_report.h"

#include <boost/json.hpp>

#include "compute/definition.h"
#include "ingest/logged_event.h"
#include "ingest/merged_ids.h"
#include "store/keys.h"
#include "store/records.h"

namespace profiled::ingest {

void RecReportCounter::AddExposure(uint64_t user, int64_t time_ms, bool is_control) {
  AddExposures(user, time_ms, is_control, 1);
}

void RecReportCounter::AddExposures(uint64_t user, int64_t first_ms, bool is_control,
                                    int64_t exposures) {
  auto [it, inserted] = exposed_.try_emplace(user);
  Exposed& e = it->second;
  // Of equal times the first added (the first logged) stays first.
  if (inserted || first_ms < e.first_ms) {
    e.first_ms = first_ms;
    e.is_control = is_control;
  }
  e.exposures += exposures;
}

void RecReportCounter::AddConversion(uint64_t user, int64_t time_ms) {
  auto [it, inserted] = last_conversion_ms_.try_emplace(user, time_ms);
  if (!inserted && time_ms > it->second) it->second = time_ms;
}

RecReport RecReportCounter::Figures() const {
  RecReport report;
  for (const auto& [user, e] : exposed_) {
    RecGroupFigures& g = e.is_control ? report.control : report.treatment;
    ++g.users;
    g.exposures += e.exposures;
    // Converted when the latest conversion is not before the first exposure.
    if (auto c = last_conversion_ms_.find(user);
        c != last_conversion_ms_.end() && c->second >= e.first_ms) {
      ++g.converted_users;
    }
  }
  const double control = report.control.conversion_rate();
  if (report.control.users > 0 && report.treatment.users > 0 && control > 0) {
    report.lift = report.treatment.conversion_rate() / control - 1.0;
  }
  return report;
}

Result<RecReport> ScanRecReport(store::Store& store, std::string_view project,
                                std::string_view rec_id, std::string_view conversion_event,
                                int64_t since_ms, const ScanLimits& limits) {
  // By the logged amplitude_id: the first exposure (event time, then log position), its
  // group and the exposures; the latest conversion time.
  struct RawExposed {
    int64_t first_ms = 0;
    uint64_t first_position = 0;
    bool is_control = false;
    int64_t exposures = 0;
  };
  std::unordered_map<uint64_t, RawExposed> exposed;
  std::unordered_map<uint64_t, int64_t> converted;
  uint64_t scanned = 0;
  bool truncated = false;
  bool stopped = false;
  const std::string_view exposure = compute::kExposureEventType;
  Status s = store.Scan(
      store::Table::kEvents, store::EventKeyLowerBound(project, since_ms),
      store::PrefixEnd(store::ProjectPrefix(project)),
      [&](std::string_view /*key*/, std::string_view value) {
        if (limits.Stopped()) {
          stopped = true;
          return false;
        }
        if (scanned >= limits.max_entries) {
          truncated = true;
          return false;
        }
        ++scanned;
        store::EventRecord record;
        if (!store::DecodeEvent(value, &record).ok()) return true;
        // Most events are neither: skip them before parsing (a version 1 record has its type
        // only in the JSON).
        if (!record.event_type.empty() && record.event_type != exposure &&
            record.event_type != conversion_event) {
          return true;
        }
        bool is_control = false;
        bool is_exposure = record.event_type == exposure;
        // A conversion of a version 2 record needs nothing from its JSON.
        if (record.event_type.empty() || is_exposure) {
          unsigned char buffer[4096];
          boost::json::monotonic_resource resource(buffer, sizeof(buffer));
          LoggedEvent logged(&resource);
          if (!ParseLoggedEvent(record, &logged)) return true;
          if (record.event_type.empty()) {
            is_exposure = logged.event_type == exposure;
            if (!is_exposure && logged.event_type != conversion_event) return true;
          }
          if (is_exposure) {
            const boost::json::value* id = logged.properties.if_contains("rec_id");
            if (id == nullptr || !id->is_string() || id->get_string() != rec_id) return true;
            const boost::json::value* control = logged.properties.if_contains("is_control");
            is_control = control != nullptr && control->is_bool() && control->get_bool();
          }
        }
        // The exposure type is never a conversion type (the API refuses it).
        if (is_exposure) {
          auto [it, inserted] = exposed.try_emplace(record.amplitude_id);
          RawExposed& e = it->second;
          // Of equal times the first logged stays first.
          if (inserted || record.time_ms < e.first_ms) {
            e.first_ms = record.time_ms;
            e.first_position = scanned;
            e.is_control = is_control;
          }
          ++e.exposures;
        } else {
          auto [it, inserted] = converted.try_emplace(record.amplitude_id, record.time_ms);
          if (!inserted && record.time_ms > it->second) it->second = record.time_ms;
        }
        return true;
      });
  if (!s.ok()) return s;
  if (stopped) return Status::Unavailable("server is shutting down");

  // The profiles of the logged ids, in batches.
  MergedIds merged(store, project);
  std::vector<uint64_t> ids;
  ids.reserve(exposed.size() + converted.size());
  for (const auto& [id, e] : exposed) ids.push_back(id);
  for (const auto& [id, t] : converted) ids.push_back(id);
  PROFILED_RETURN_IF_ERROR(merged.ResolveAll(ids));
  std::vector<uint64_t>().swap(ids);
  // Per profile: the earliest first exposure of its ids (of equal times, the first logged).
  std::unordered_map<uint64_t, RawExposed> users;
  for (const auto& [id, e] : exposed) {
    Result<uint64_t> user = merged.Resolve(id);  // cached: reads nothing
    if (!user.ok()) return user.status();
    auto [it, inserted] = users.try_emplace(*user, e);
    if (inserted) continue;
    RawExposed& u = it->second;
    if (e.first_ms < u.first_ms ||
        (e.first_ms == u.first_ms && e.first_position < u.first_position)) {
      u.first_ms = e.first_ms;
      u.first_position = e.first_position;
      u.is_control = e.is_control;
    }
    u.exposures += e.exposures;
  }
  std::unordered_map<uint64_t, RawExposed>().swap(exposed);
  RecReportCounter counter;
  for (const auto& [user, u] : users) {
    counter.AddExposures(user, u.first_ms, u.is_control, u.exposures);
  }
  for (const auto& [id, time_ms] : converted) {
    Result<uint64_t> user = merged.Resolve(id);
    if (!user.ok()) return user.status();
    if (users.count(*user) == 0) continue;  // never exposed: does not count
    counter.AddConversion(*user, time_ms);
  }
  RecReport report = counter.Figures();
  report.events_scanned = scanned;
  report.truncated = truncated;
  return report;
}

}  // namespace profiled::ingest
