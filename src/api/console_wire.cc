#include "api/console_wire.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>

#include "api/form.h"
#include "api/profile_wire.h"
#include "core/json_writer.h"
#include "core/value_text.h"
#include "ingest/validation.h"

namespace profiled::api {

namespace {

// A query value quoted for an error message: at most 64 bytes of it, whole characters.
std::string Echo(std::string_view v) {
  std::string_view shown = Utf8Prefix(v, 64);
  return "\"" + std::string(shown) + (shown.size() < v.size() ? "...\"" : "\"");
}

// A decimal integer in [min, max]: digits only (no sign, space or fraction).
bool ParseBounded(std::string_view text, uint64_t min, uint64_t max, uint64_t* out) {
  if (text.empty() || text.front() < '0' || text.front() > '9') return false;
  auto r = std::from_chars(text.data(), text.data() + text.size(), *out);
  return r.ec == std::errc() && r.ptr == text.data() + text.size() && *out >= min && *out <= max;
}

void AppendRate(double rate, std::string* out) {
  AppendJsonDouble(out, std::round(rate * 100.0) / 100.0);
}

// `name` of a logged event object as JSON text: an object member as it is, {} otherwise.
void AppendObjectMember(const boost::json::object& event, std::string_view name, std::string* out) {
  const boost::json::value* v = event.if_contains(name);
  if (v != nullptr && v->is_object()) {
    AppendObjectText(v->get_object(), out);
  } else {
    out->append("{}");
  }
}

}  // namespace

std::string SerializeProjects(const std::vector<ProjectSummary>& projects) {
  std::string out = R"({"projects":[)";
  for (size_t i = 0; i < projects.size(); ++i) {
    const ProjectSummary& p = projects[i];
    if (i > 0) out.push_back(',');
    out.append(R"({"id":)");
    AppendJsonString(&out, p.id);
    out.append(p.dialect == ProfileDialect::kSeed ? R"(,"profile_dialect":"seed")"
                                                  : R"(,"profile_dialect":"amplitude")");
    out.append(R"(,"computations":)");
    AppendJsonUint(&out, p.computations);
    out.append(R"(,"cohorts":)");
    AppendJsonUint(&out, p.cohorts);
    out.append(R"(,"recommendations":)");
    AppendJsonUint(&out, p.recommendations);
    out.push_back('}');
  }
  out.append("]}");
  return out;
}

std::string SerializeStats(const read::StatsSnapshot& stats, int64_t now_ms) {
  std::string out = R"({"now":)";
  AppendJsonInt(&out, now_ms / 1000);
  out.append(R"(,"started":)");
  AppendJsonInt(&out, stats.started_ms / 1000);
  out.append(R"(,"rates":{"interval_seconds":)");
  AppendJsonInt(&out, stats.rate_seconds);
  out.append(R"(,"samples":[)");
  for (size_t i = 0; i < stats.rates.size(); ++i) {
    const read::RateSample& r = stats.rates[i];
    if (i > 0) out.push_back(',');
    out.append(R"({"t":)");
    AppendJsonInt(&out, r.t_ms / 1000);
    out.append(R"(,"events_ingested_per_second":)");
    AppendRate(r.events_ingested_per_second, &out);
    out.append(R"(,"profile_reads_per_second":)");
    AppendRate(r.profile_reads_per_second, &out);
    out.append(R"(,"requests_per_second":)");
    AppendRate(r.requests_per_second, &out);
    out.push_back('}');
  }
  out.append(R"(]},"cohort_sizes":{)");
  bool first = true;
  for (const auto& entry : stats.cohorts) {
    const std::string& project = entry.first;
    const read::CohortSeries& series = entry.second;
    if (!first) out.push_back(',');
    first = false;
    AppendJsonString(&out, project);
    out.append(R"(:{"interval_seconds":)");
    AppendJsonInt(&out, stats.cohort_seconds);
    out.append(R"(,"samples":[)");
    // Each sample's sizes by cohort id in id order.
    std::vector<size_t> order(series.ids.size());
    for (size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return series.ids[a] < series.ids[b]; });
    for (size_t i = 0; i < series.samples.size(); ++i) {
      const std::vector<uint64_t>& sizes = series.samples[i].sizes;
      if (i > 0) out.push_back(',');
      out.append(R"({"t":)");
      AppendJsonInt(&out, series.samples[i].t_ms / 1000);
      out.append(R"(,"sizes":{)");
      bool first_size = true;
      for (size_t k : order) {
        if (k >= sizes.size() || sizes[k] == read::CohortSample::kNotCounted) continue;
        if (!first_size) out.push_back(',');
        first_size = false;
        AppendJsonString(&out, series.ids[k]);
        out.push_back(':');
        AppendJsonUint(&out, sizes[k]);
      }
      out.append("}}");
    }
    out.append("]}");
  }
  out.append("}}");
  return out;
}

Status ParseStatsQuery(std::string_view query, StatsQuery* q) {
  Status status;
  bool since_given = false;
  bool ok = ForEachFormField(query, [&](std::string_view key, std::string value) {
    if (key == "project") {
      if (value.empty()) {
        status = Status::InvalidArgument("project must not be empty");
      } else if (!q->project.empty()) {
        status = Status::InvalidArgument("project is given twice");
      }
      q->project = std::move(value);
    } else if (key == "since") {
      uint64_t since = 0;
      if (!ParseBounded(value, 0, kMaxStatsSince, &since)) {
        status = Status::InvalidArgument("since must be an integer from 0 to " +
                                         std::to_string(kMaxStatsSince) + " (Unix seconds), got " +
                                         Echo(value));
      } else if (since_given) {
        status = Status::InvalidArgument("since is given twice");
      }
      since_given = true;
      q->since = static_cast<int64_t>(since);
    } else {
      status = Status::InvalidArgument("unknown parameter " + Echo(key) +
                                       ": the stats take project and since");
    }
    return status.ok();
  });
  if (!ok && status.ok()) return Status::InvalidArgument("malformed query string");
  return status;
}

Status ParseNoQuery(std::string_view query, std::string_view path) {
  Status status;
  bool ok = ForEachFormField(query, [&](std::string_view key, const std::string& /*value*/) {
    status = Status::InvalidArgument("unknown parameter " + Echo(key) + ": " + std::string(path) +
                                     " takes no parameters");
    return false;
  });
  if (!ok && status.ok()) return Status::InvalidArgument("malformed query string");
  return status;
}

Status ParseUserLookupQuery(std::string_view query, UserLookupQuery* q) {
  Status status;
  bool hours_given = false;
  int ids = 0;
  bool ok = ForEachFormField(query, [&](std::string_view key, std::string value) {
    if (key == "user_id" || key == "device_id") {
      std::string& field = key == "user_id" ? q->user_id : q->device_id;
      if (value.empty()) {
        status = Status::InvalidArgument(std::string(key) + " must not be empty");
      } else if (ingest::CharacterCount(value) > ingest::kMaxStringLength) {
        status = Status::InvalidArgument(std::string(key) + " is longer than " +
                                         std::to_string(ingest::kMaxStringLength) +
                                         " characters: no event can have it");
      } else if (!field.empty()) {
        status = Status::InvalidArgument(std::string(key) + " is given twice");
      }
      field = std::move(value);
      ++ids;
    } else if (key == "amplitude_id") {
      uint64_t id = 0;
      if (!ParseBounded(value, 1, uint64_t{INT64_MAX}, &id)) {
        status = Status::InvalidArgument(
            "amplitude_id must be an integer from 1 to 9223372036854775807, got " + Echo(value));
      } else if (q->amplitude_id != 0) {
        status = Status::InvalidArgument("amplitude_id is given twice");
      }
      q->amplitude_id = id;
      ++ids;
    } else if (key == "events_hours") {
      uint64_t hours = 0;
      if (!ParseBounded(value, 1, kMaxEventsHours, &hours)) {
        status = Status::InvalidArgument("events_hours must be an integer from 1 to " +
                                         std::to_string(kMaxEventsHours) + ", got " + Echo(value));
      } else if (hours_given) {
        status = Status::InvalidArgument("events_hours is given twice");
      }
      hours_given = true;
      q->events_hours = static_cast<int>(hours);
    } else {
      status = Status::InvalidArgument(
          "unknown parameter " + Echo(key) +
          ": the lookup takes one of user_id, device_id, amplitude_id, and events_hours");
    }
    return status.ok();
  });
  if (!ok && status.ok()) return Status::InvalidArgument("malformed query string");
  PROFILED_RETURN_IF_ERROR(status);
  if (ids != 1) {
    return Status::InvalidArgument("give exactly one of user_id, device_id, amplitude_id, got " +
                                   std::to_string(ids));
  }
  return Status::Ok();
}

std::string SerializeUserLookup(const read::UserData& user, const read::RecentEvents& recent) {
  const store::ProfileView& p = user.profile;
  std::string out = R"({"amplitude_id":)";
  AppendJsonUint(&out, user.amplitude_id);
  out.append(R"(,"user_id":)");
  if (p.user_id.empty()) {
    out.append("null");
  } else {
    AppendJsonString(&out, p.user_id);
  }
  out.append(R"(,"device_id":)");
  if (p.device_id.empty()) {
    out.append("null");
  } else {
    AppendJsonString(&out, p.device_id);
  }
  out.append(R"(,"user_properties":)");
  out.append(p.properties_json);
  out.append(R"(,"amp_props":)");
  out.append(p.builtins_json);
  out.append(R"(,"computed_properties":{)");
  for (size_t i = 0; i < user.computed.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.push_back('"');
    AppendJsonUint(&out, user.computed[i].first);
    out.append("\":");
    AppendComputedValue(user.computed[i].second, &out);
  }
  out.append(R"(},"cohort_ids":)");
  AppendJsonStringArray(&out, user.cohort_ids);
  out.append(R"(,"recommendations":[)");
  for (size_t i = 0; i < user.recommendations.size(); ++i) {
    const read::ServedRecommendation& r = user.recommendations[i];
    if (i > 0) out.push_back(',');
    out.append(R"({"rec_id":)");
    AppendJsonString(&out, r.rec_id);
    out.append(R"(,"items":)");
    AppendJsonStringArray(&out, r.items);
    out.append(r.is_control ? R"(,"is_control":true)" : R"(,"is_control":false)");
    out.append(R"(,"recommendation_type":)");
    AppendJsonString(&out, r.type);
    out.push_back('}');
  }
  out.append("],");
  AppendGroupSections(user.groups, &out);
  out.append(R"(,"recent_events":[)");
  for (size_t i = 0; i < recent.events.size(); ++i) {
    const store::EventRecord& e = recent.events[i];
    if (i > 0) out.push_back(',');
    boost::json::object event;
    if (!ParseStoredObject(e.json, &event).ok()) event.clear();
    std::string type = e.event_type;
    if (type.empty()) {  // a version-1 record has it in the JSON only
      const boost::json::value* t = event.if_contains("event_type");
      if (t != nullptr && t->is_string()) type = std::string(t->get_string());
    }
    out.append(R"({"event_type":)");
    AppendJsonString(&out, type);
    out.append(R"(,"time":)");
    AppendJsonInt(&out, e.time_ms);
    out.append(R"(,"insert_id":)");
    const boost::json::value* insert_id = event.if_contains("insert_id");
    if (insert_id != nullptr && insert_id->is_string()) {
      AppendJsonString(&out, insert_id->get_string());
    } else {
      out.append("null");
    }
    out.append(R"(,"event_properties":)");
    AppendObjectMember(event, "event_properties", &out);
    out.append(R"(,"user_properties":)");
    AppendObjectMember(event, "user_properties", &out);
    out.push_back('}');
  }
  out.append(R"(],"events_scanned":)");
  AppendJsonUint(&out, recent.events_scanned);
  out.append(recent.truncated ? R"(,"truncated":true})" : R"(,"truncated":false})");
  return out;
}

}  // namespace profiled::api
