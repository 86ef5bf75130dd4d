#include "api/profile_wire.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "api/form.h"
#include "core/json_writer.h"
#include "core/value_text.h"

namespace profiled::api {

namespace {

// A query value quoted for an error message: at most 64 bytes of it, whole characters.
std::string Echo(std::string_view v) {
  std::string_view shown = Utf8Prefix(v, 64);
  return "\"" + std::string(shown) + (shown.size() < v.size() ? "...\"" : "\"");
}

Status ParseBool(std::string_view name, std::string_view v, bool* out) {
  // Amplitude's examples use "true"; an empty value ("&get_propensity&") means true too.
  if (v.empty() || v == "true" || v == "1" || v == "True" || v == "TRUE") {
    *out = true;
  } else if (v == "false" || v == "0" || v == "False" || v == "FALSE") {
    *out = false;
  } else {
    return Status::InvalidArgument(std::string(name) + " must be true or false, got " + Echo(v));
  }
  return Status::Ok();
}

std::vector<std::string> SplitList(std::string_view v) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= v.size()) {
    size_t comma = v.find(',', start);
    if (comma == std::string_view::npos) comma = v.size();
    std::string_view item = v.substr(start, comma - start);
    if (!item.empty()) out.emplace_back(item);
    start = comma + 1;
  }
  return out;
}

// comp_id: a comma-separated list of computation ids, each a decimal integer from 0 to
// 2^63-1 (the seed types comp_id as an integer). No sign, no empty item; leading zeros
// are accepted and dropped, so "007" and "7" name the same computation.
Status ParseCompIds(std::string_view v, std::vector<std::string>* out) {
  out->clear();
  size_t start = 0;
  while (start <= v.size()) {
    size_t comma = v.find(',', start);
    if (comma == std::string_view::npos) comma = v.size();
    std::string_view item = v.substr(start, comma - start);
    int64_t id = 0;
    auto r = std::from_chars(item.data(), item.data() + item.size(), id);
    if (item.empty() || item.front() == '-' || r.ec != std::errc() ||
        r.ptr != item.data() + item.size()) {
      return Status::InvalidArgument(
          "comp_id must be a comma-separated list of integers from 0 to 9223372036854775807, "
          "got " +
          Echo(v));
    }
    out->push_back(std::to_string(id));
    start = comma + 1;
  }
  return Status::Ok();
}

}  // namespace

Status ParseProfileQuery(std::string_view query, ProfileQuery* q) {
  Status status;
  bool ok = ForEachFormField(query, [&](std::string_view key, std::string value) {
    if (key == "user_id") {
      q->user_id = std::move(value);
    } else if (key == "device_id") {
      q->device_id = std::move(value);
    } else if (key == "get_recs") {
      status = ParseBool(key, value, &q->get_recs);
    } else if (key == "get_amp_props") {
      status = ParseBool(key, value, &q->get_amp_props);
    } else if (key == "get_cohort_ids") {
      status = ParseBool(key, value, &q->get_cohort_ids);
    } else if (key == "get_group_props") {
      status = ParseBool(key, value, &q->get_group_props);
    } else if (key == "get_computations") {
      status = ParseBool(key, value, &q->get_computations);
    } else if (key == "rec_id") {
      // Each recommendation once, in the order first asked for.
      q->rec_ids.clear();
      for (std::string& id : SplitList(value)) {
        if (std::find(q->rec_ids.begin(), q->rec_ids.end(), id) == q->rec_ids.end()) {
          q->rec_ids.push_back(std::move(id));
        }
      }
      if (q->rec_ids.size() > kMaxRecIdsPerRead) {
        status =
            Status::InvalidArgument("rec_id lists at most " + std::to_string(kMaxRecIdsPerRead) +
                                    " ids, got " + std::to_string(q->rec_ids.size()));
      }
    } else if (key == "comp_id") {
      status = ParseCompIds(value, &q->comp_ids);
    } else if (key == "rec_type") {
      if (value != "model" && value != "random") {
        status =
            Status::InvalidArgument("rec_type must be \"model\" or \"random\", got " + Echo(value));
      }
      q->rec_type = std::move(value);
    } else if (key == "limit") {
      int n = 0;
      auto r = std::from_chars(value.data(), value.data() + value.size(), n);
      if (r.ec != std::errc() || r.ptr != value.data() + value.size() || n < 1 || n > 1000) {
        status =
            Status::InvalidArgument("limit must be an integer from 1 to 1000, got " + Echo(value));
      }
      q->limit = n;
    }
    return status.ok();
  });
  if (!ok && status.ok()) return Status::InvalidArgument("malformed query string");
  PROFILED_RETURN_IF_ERROR(status);
  if (q->user_id.empty() && q->device_id.empty()) {
    return Status::InvalidArgument("user_id or device_id is required");
  }
  return Status::Ok();
}

read::ReadOptions ReadOptionsFor(const ProfileQuery& q, ProfileDialect dialect) {
  read::ReadOptions o;
  bool seed = dialect == ProfileDialect::kSeed;
  o.computations = seed || q.get_computations || !q.comp_ids.empty();
  // With get_computations every computation is returned, as Amplitude does; the seed
  // dialect narrows computed_properties to comp_id.
  if (seed || !q.get_computations) {
    for (const auto& id : q.comp_ids) o.computation_ids.push_back(std::stoull(id));
  }
  o.cohorts = seed || q.get_cohort_ids;
  o.recs.wanted = q.get_recs;
  o.recs.ids = q.rec_ids;
  if (q.rec_type == "model") o.recs.override = recs::ServeRequest::Override::kModel;
  if (q.rec_type == "random") o.recs.override = recs::ServeRequest::Override::kRandom;
  o.recs.limit = q.limit;
  o.groups = !seed && q.get_group_props;
  return o;
}

namespace {

void AppendValue(const compute::Value& v, std::string* out) {
  if (const auto* i = std::get_if<int64_t>(&v)) {
    AppendJsonInt(out, *i);
  } else if (const auto* d = std::get_if<double>(&v)) {
    // A whole number below 2^53 is written as AppendJsonDouble writes it ("12", never
    // "12.0"); sums and counts mostly are, and the integer path skips the shortest-digits
    // search.
    if (std::abs(*d) < 9007199254740992.0 && *d == std::trunc(*d)) {
      AppendJsonInt(out, static_cast<int64_t>(*d));
    } else {
      AppendJsonDouble(out, *d);
    }
  } else if (const auto* t = std::get_if<compute::JsonText>(&v)) {
    out->append(t->text);
  } else {
    out->append("null");
  }
}

// Amplitude returns computations as strings: a string value as it is, anything else as the
// text of its JSON. Corruption when a first or last value's stored JSON text does not parse (a
// damaged aggregates record), which would otherwise go into the answer as it is.
Status AppendValueAsString(const compute::Value& v, std::string* out) {
  if (const auto* t = std::get_if<compute::JsonText>(&v)) {
    boost::system::error_code ec;
    boost::json::value parsed = ParseJson(t->text, kMaxJsonDepth, &ec);
    if (ec) return Status::Corruption("a computed value's stored JSON text does not parse");
    if (parsed.is_string()) {
      out->append(t->text);  // already a JSON string
      return Status::Ok();
    }
  }
  std::string text;
  AppendValue(v, &text);
  AppendJsonString(out, text);
  return Status::Ok();
}

// The seed's Recommendation: {rec_id, child_ids, is_control, recommendation_type, title}.
void AppendSeedRecommendations(const std::vector<read::ServedRecommendation>& recs,
                               std::string* out) {
  out->push_back('[');
  for (size_t i = 0; i < recs.size(); ++i) {
    const read::ServedRecommendation& r = recs[i];
    if (i > 0) out->push_back(',');
    out->append("{\"rec_id\":");
    AppendJsonString(out, r.rec_id);
    out->append(",\"child_ids\":");
    AppendJsonStringArray(out, r.items);
    out->append(r.is_control ? ",\"is_control\":true" : ",\"is_control\":false");
    out->append(",\"recommendation_type\":");
    AppendJsonString(out, r.type);
    out->append(",\"title\":");
    AppendJsonString(out, r.title);
    out->push_back('}');
  }
  out->push_back(']');
}

// Amplitude's shape: {rec_id, child_rec_id, items, is_control, recommendation_source,
// last_updated}. profiled has no child models, so child_rec_id is the rec's own id.
void AppendAmplitudeRecommendations(const std::vector<read::ServedRecommendation>& recs,
                                    std::string* out) {
  out->push_back('[');
  for (size_t i = 0; i < recs.size(); ++i) {
    const read::ServedRecommendation& r = recs[i];
    if (i > 0) out->push_back(',');
    out->append("{\"rec_id\":");
    AppendJsonString(out, r.rec_id);
    out->append(",\"child_rec_id\":");
    AppendJsonString(out, r.rec_id);
    out->append(",\"items\":");
    AppendJsonStringArray(out, r.items);
    out->append(r.is_control ? ",\"is_control\":true" : ",\"is_control\":false");
    out->append(",\"recommendation_source\":");
    AppendJsonString(out, r.type);
    out->append(",\"last_updated\":");
    AppendJsonInt(out, r.last_updated_ms / 1000);
    out->push_back('}');
  }
  out->push_back(']');
}

}  // namespace

void WriteSeedProfile(const ProfileQuery& q, const read::UserData& user, std::string* out) {
  const store::ProfileView& p = user.profile;
  // The seed types user_id as a string and does not require it, so an anonymous device's
  // profile leaves it out rather than answer null (the Amplitude dialect keeps null).
  out->append("{\"userData\":{");
  if (!p.user_id.empty()) {
    out->append("\"user_id\":");
    AppendJsonString(out, p.user_id);
    out->append(",");
  }
  out->append("\"amplitude_id\":");
  AppendJsonUint(out, user.amplitude_id);
  out->append(",\"user_properties\":");
  out->append(p.properties_json);
  out->append(",\"computed_properties\":{");
  for (size_t i = 0; i < user.computed.size(); ++i) {
    if (i > 0) out->push_back(',');
    out->push_back('"');
    AppendJsonUint(out, user.computed[i].first);
    out->append("\":");
    AppendValue(user.computed[i].second, out);
  }
  out->append("},\"cohort_ids\":");
  AppendJsonStringArray(out, user.cohort_ids);
  if (q.get_recs) {
    out->append(",\"recommendations\":");
    AppendSeedRecommendations(user.recommendations, out);
  }
  out->append("}}");
}

Status WriteAmplitudeProfile(const ProfileQuery& q, const read::UserData& user, std::string* out) {
  const store::ProfileView& p = user.profile;
  out->append("{\"userData\":{\"recommendations\":");
  if (q.get_recs) {
    AppendAmplitudeRecommendations(user.recommendations, out);
  } else {
    out->append("null");
  }
  out->append(",\"user_id\":");
  if (p.user_id.empty()) {
    out->append("null");
  } else {
    AppendJsonString(out, p.user_id);
  }
  out->append(",\"device_id\":");
  if (p.device_id.empty()) {
    out->append("null");
  } else {
    AppendJsonString(out, p.device_id);
  }
  out->append(",\"amp_props\":");
  bool computations = q.get_computations || !q.comp_ids.empty();
  if (q.get_amp_props || computations) {
    boost::json::object merged;
    if (q.get_amp_props) {
      boost::json::object custom;
      PROFILED_RETURN_IF_ERROR(ParseStoredObject(p.builtins_json, &merged));
      PROFILED_RETURN_IF_ERROR(ParseStoredObject(p.properties_json, &custom));
      for (const auto& kv : custom) merged[kv.key()] = kv.value();
    }
    std::string text;
    AppendObjectText(merged, &text);
    text.pop_back();  // the closing brace: computations follow
    bool first = merged.empty();
    for (const auto& [id, value] : user.computed) {
      if (!first) text.push_back(',');
      first = false;
      text.append("\"computed-prop-");
      AppendJsonUint(&text, id);
      text.append("\":");
      PROFILED_RETURN_IF_ERROR(AppendValueAsString(value, &text));
    }
    text.push_back('}');
    out->append(text);
  } else {
    out->append("null");
  }
  out->append(",\"cohort_ids\":");
  if (q.get_cohort_ids) {
    AppendJsonStringArray(out, user.cohort_ids);
  } else {
    out->append("null");
  }
  if (q.get_group_props) {
    // Only when asked for (Amplitude's Profile API has no such section): the user's groups
    // {type: [names]} and each group's properties {type: {name: {...}}}.
    out->push_back(',');
    AppendGroupSections(user.groups, out);
  }
  out->append("}}");
  return Status::Ok();
}

void AppendComputedValue(const compute::Value& v, std::string* out) { AppendValue(v, out); }

void AppendGroupSections(const std::vector<read::UserGroup>& groups, std::string* out) {
  out->append("\"groups\":{");
  for (size_t i = 0; i < groups.size(); ++i) {
    const read::UserGroup& g = groups[i];
    bool new_type = i == 0 || groups[i - 1].type != g.type;
    if (new_type) {
      if (i > 0) out->append("],");
      AppendJsonString(out, g.type);
      out->append(":[");
    } else {
      out->push_back(',');
    }
    AppendJsonString(out, g.name);
  }
  if (!groups.empty()) out->push_back(']');
  out->append("},\"group_properties\":{");
  for (size_t i = 0; i < groups.size(); ++i) {
    const read::UserGroup& g = groups[i];
    bool new_type = i == 0 || groups[i - 1].type != g.type;
    if (new_type) {
      if (i > 0) out->append("},");
      AppendJsonString(out, g.type);
      out->append(":{");
    } else {
      out->push_back(',');
    }
    AppendJsonString(out, g.name);
    out->push_back(':');
    out->append(g.properties_json);
  }
  if (!groups.empty()) out->push_back('}');
  out->push_back('}');
}

}  // namespace profiled::api
