#include "ingest/rec_report.h"

#include <boost/json.hpp>

#include "compute/definition.h"
#include "ingest/logged_event.h"
#include "ingest/merged_ids.h"
#include "store/keys.h"
#include "store/records.h"

namespace profiled::ingest {

void RecReportCounter::AddExposure(uint64_t user, int64_t time_ms, bool is_control) {
  auto [it, inserted] = exposed_.try_emplace(user);
  Exposed& e = it->second;
  // Of equal times the first added (the first logged) stays first.
  if (inserted || time_ms < e.first_ms) {
    e.first_ms = time_ms;
    e.is_control = is_control;
  }
  ++e.exposures;
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
                                int64_t since_ms) {
  RecReportCounter counter;
  MergedIds merged(store, project);
  Status failure;
  uint64_t scanned = 0;
  const std::string_view exposure = compute::kExposureEventType;
  Status s = store.Scan(
      store::Table::kEvents, store::EventKeyLowerBound(project, since_ms),
      store::PrefixEnd(store::ProjectPrefix(project)),
      [&](std::string_view /*key*/, std::string_view value) {
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
        Result<uint64_t> user = merged.Resolve(record.amplitude_id);
        if (!user.ok()) {
          failure = user.status();
          return false;
        }
        // The exposure type is never a conversion type (the API refuses it).
        if (is_exposure) {
          counter.AddExposure(*user, record.time_ms, is_control);
        } else {
          counter.AddConversion(*user, record.time_ms);
        }
        return true;
      });
  if (s.ok()) s = failure;
  if (!s.ok()) return s;
  RecReport report = counter.Figures();
  report.events_scanned = scanned;
  return report;
}

}  // namespace profiled::ingest
