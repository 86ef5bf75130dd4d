#include "cli/export_event.h"

#include <boost/json.hpp>
#include <charconv>
#include <cmath>

#include "core/json_writer.h"
#include "core/value_text.h"

namespace profiled::cli {

namespace json = boost::json;

namespace {

// Export fields copied under the same name when they hold a string (null or another type:
// left out, so one odd field never costs the whole event).
constexpr std::string_view kStringFields[] = {
    "platform",     "os_name",    "os_version",  "device_brand", "device_manufacturer",
    "device_model", "carrier",    "country",     "region",       "city",
    "dma",          "language",   "app_version", "version_name", "library",
    "idfa",         "idfv",       "adid",        "android_id",   "android_app_set_id",
    "partner_id",   "user_agent", "productId",   "revenueType",  "currency"};
// Export fields renamed: the export's name, the HTTP V2 name. Both are strings.
constexpr std::pair<std::string_view, std::string_view> kRenamedStringFields[] = {
    {"device_carrier", "carrier"}, {"ip_address", "ip"}};
// Numbers (a numeric string, as some exports write coordinates, is read as its number).
constexpr std::string_view kNumberFields[] = {"location_lat", "location_lng", "revenue", "price"};
constexpr std::string_view kIntegerFields[] = {"session_id", "event_id", "quantity"};

bool IsNonEmptyString(const json::value* v) {
  return v != nullptr && v->is_string() && !v->get_string().empty();
}

void AppendKey(std::string* out, std::string_view key) {
  out->push_back(',');
  AppendJsonString(out, key);
  out->push_back(':');
}

// The decimal number of the `count` digits at text[at], or -1.
int Digits(std::string_view text, size_t at, size_t count) {
  if (at + count > text.size()) return -1;
  int v = 0;
  for (size_t i = at; i < at + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return -1;
    v = v * 10 + (text[i] - '0');
  }
  return v;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

std::optional<int64_t> TimeOf(const json::value* v) {
  if (v == nullptr) return std::nullopt;
  if (v->is_string()) return ParseExportTime(v->get_string());
  // Epoch milliseconds, as some tools that write "export-like" files put them.
  if (v->is_int64() && v->get_int64() >= 0) return v->get_int64();
  return std::nullopt;
}

std::optional<double> NumberOf(const json::value& v) {
  if (v.is_double()) return v.get_double();
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  if (v.is_string()) {
    const std::string_view s = v.get_string();
    double d = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
    if (ec == std::errc() && end == s.data() + s.size() && std::isfinite(d)) return d;
  }
  return std::nullopt;
}

// Parses `line` as a JSON object into *out, or says why not.
bool ParseObjectLine(std::string_view line, json::value* out, LineVerdict* verdict) {
  boost::system::error_code ec;
  bool non_finite = false;
  *out = ParseJson(line, kMaxJsonDepth, &ec, &non_finite);
  if (ec) {
    verdict->problem = LineProblem::kNotJson;
    verdict->detail = ec.message();
    return false;
  }
  if (!out->is_object()) {
    verdict->problem = LineProblem::kNotObject;
    return false;
  }
  if (non_finite && HasNonFiniteNumber(*out)) {
    verdict->problem = LineProblem::kNumberTooLarge;
    return false;
  }
  return true;
}

// Reads the ids of `o` into *event; false (with the problem set) when there is none.
bool ReadIds(const json::object& o, ImportedEvent* event, LineVerdict* verdict) {
  if (const json::value* u = o.if_contains("user_id"); IsNonEmptyString(u)) {
    event->user_id = std::string(u->get_string());
  }
  if (const json::value* d = o.if_contains("device_id"); IsNonEmptyString(d)) {
    event->device_id = std::string(d->get_string());
  }
  if (event->user_id.empty() && event->device_id.empty()) {
    verdict->problem = LineProblem::kNoId;
    return false;
  }
  return true;
}

}  // namespace

std::optional<UserPropertiesMode> ParseUserPropertiesMode(std::string_view text) {
  if (text == "replace") return UserPropertiesMode::kReplace;
  if (text == "set") return UserPropertiesMode::kSet;
  if (text == "ignore") return UserPropertiesMode::kIgnore;
  return std::nullopt;
}

std::string_view LineProblemName(LineProblem problem) {
  switch (problem) {
    case LineProblem::kNotJson: return "not JSON";
    case LineProblem::kNotObject: return "not a JSON object";
    case LineProblem::kNumberTooLarge: return "a number beyond the range of a double";
    case LineProblem::kNoEventType: return "no event_type";
    case LineProblem::kNoId: return "no user_id or device_id";
    case LineProblem::kBadTime: return "no valid event_time";
    case LineProblem::kTooLong: return "line too long";
    case LineProblem::kBadInsertId: return "insert_id not a non-empty string";
  }
  return "unknown";
}

std::optional<int64_t> ParseExportTime(std::string_view text) {
  // YYYY-MM-DD HH:MM:SS
  if (text.size() < 19 || text[4] != '-' || text[7] != '-' ||
      (text[10] != ' ' && text[10] != 'T') || text[13] != ':' || text[16] != ':') {
    return std::nullopt;
  }
  const int year = Digits(text, 0, 4), month = Digits(text, 5, 2), day = Digits(text, 8, 2);
  const int hour = Digits(text, 11, 2), minute = Digits(text, 14, 2), second = Digits(text, 17, 2);
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month) ||
      hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) {
    return std::nullopt;
  }
  size_t at = 19;
  int64_t millis = 0;
  if (at < text.size() && text[at] == '.') {
    ++at;
    const size_t first = at;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
      if (at - first < 3) millis = millis * 10 + (text[at] - '0');
      ++at;
    }
    if (at == first) return std::nullopt;
    for (size_t n = at - first; n < 3; ++n) millis *= 10;
  }
  // ISO-8601's zone: Z, or an offset +HH:MM / +HHMM / +HH (the time is then local to it).
  int64_t offset_minutes = 0;
  if (at < text.size() && text[at] == 'Z') {
    ++at;
  } else if (at < text.size() && (text[at] == '+' || text[at] == '-')) {
    const int sign = text[at] == '-' ? -1 : 1;
    const int oh = Digits(text, at + 1, 2);
    if (oh < 0 || oh > 23) return std::nullopt;
    at += 3;
    int om = 0;
    if (at < text.size()) {
      if (text[at] == ':') ++at;
      om = Digits(text, at, 2);
      if (om < 0 || om > 59) return std::nullopt;
      at += 2;
    }
    offset_minutes = static_cast<int64_t>(sign) * (oh * 60 + om);
  }
  if (at != text.size()) return std::nullopt;
  const int64_t days = DaysFromCivil(year, month, day);
  const int64_t ms =
      ((days * 24 + hour) * 60 + minute - offset_minutes) * 60000 + second * 1000LL + millis;
  if (ms < 0) return std::nullopt;
  return ms;
}

LineVerdict MapExportLine(std::string_view line, std::string_view fallback_insert_id,
                          UserPropertiesMode mode) {
  LineVerdict verdict;
  json::value parsed;
  if (!ParseObjectLine(line, &parsed, &verdict)) return verdict;
  const json::object& o = parsed.get_object();
  const json::value* type = o.if_contains("event_type");
  if (!IsNonEmptyString(type)) {
    verdict.problem = LineProblem::kNoEventType;
    return verdict;
  }
  ImportedEvent event;
  if (!ReadIds(o, &event, &verdict)) return verdict;
  // event_time is Amplitude's time of the event (the client's clock corrected by the
  // upload's skew); client_event_time is the uncorrected one, a fallback.
  std::optional<int64_t> time = TimeOf(o.if_contains("event_time"));
  if (!time) time = TimeOf(o.if_contains("client_event_time"));
  if (!time) {
    verdict.problem = LineProblem::kBadTime;
    return verdict;
  }
  const std::string_view event_type = type->get_string();

  std::string& out = event.json;
  out = "{\"event_type\":";
  AppendJsonString(&out, event_type);
  if (!event.user_id.empty()) {
    AppendKey(&out, "user_id");
    AppendJsonString(&out, event.user_id);
  }
  if (!event.device_id.empty()) {
    AppendKey(&out, "device_id");
    AppendJsonString(&out, event.device_id);
  }
  AppendKey(&out, "time");
  AppendJsonInt(&out, *time);
  AppendKey(&out, "insert_id");
  if (const json::value* id = o.if_contains("$insert_id"); IsNonEmptyString(id)) {
    AppendJsonString(&out, id->get_string());
  } else if (const json::value* uuid = o.if_contains("uuid"); IsNonEmptyString(uuid)) {
    AppendJsonString(&out, uuid->get_string());
  } else {
    AppendJsonString(&out, fallback_insert_id);
  }
  for (std::string_view name : kStringFields) {
    if (const json::value* v = o.if_contains(name); v != nullptr && v->is_string()) {
      AppendKey(&out, name);
      AppendJsonString(&out, v->get_string());
    }
  }
  for (const auto& [from, to] : kRenamedStringFields) {
    if (o.contains(to)) continue;  // a line with both: the HTTP V2 name wins
    if (const json::value* v = o.if_contains(from); v != nullptr && v->is_string()) {
      AppendKey(&out, to);
      AppendJsonString(&out, v->get_string());
    }
  }
  for (std::string_view name : kNumberFields) {
    const json::value* v = o.if_contains(name);
    if (v == nullptr) continue;
    if (std::optional<double> d = NumberOf(*v)) {
      AppendKey(&out, name);
      if (v->is_int64() || v->is_uint64()) {
        AppendValueText(*v, &out);
      } else {
        AppendJsonDouble(&out, *d);
      }
    }
  }
  for (std::string_view name : kIntegerFields) {
    if (const json::value* v = o.if_contains(name); v != nullptr && v->is_int64()) {
      AppendKey(&out, name);
      AppendJsonInt(&out, v->get_int64());
    }
  }
  if (const json::value* v = o.if_contains("event_properties"); v != nullptr && v->is_object()) {
    AppendKey(&out, "event_properties");
    AppendValueText(*v, &out);
  }
  if (const json::value* v = o.if_contains("groups"); v != nullptr && v->is_object()) {
    AppendKey(&out, "groups");
    AppendValueText(*v, &out);
  }
  const bool group_identify = event_type == "$groupidentify";
  if (group_identify) {
    // On a $groupidentify line group_properties are the group's properties; on other lines
    // Amplitude's snapshot of the groups' properties, which no event of a client carries.
    if (const json::value* v = o.if_contains("group_properties"); v != nullptr && v->is_object()) {
      AppendKey(&out, "group_properties");
      AppendValueText(*v, &out);
    }
  }
  const json::value* props = o.if_contains("user_properties");
  if (!group_identify && mode != UserPropertiesMode::kIgnore && props != nullptr &&
      props->is_object()) {
    const json::object& p = props->get_object();
    // kSet with nothing to set sends nothing; kReplace with an empty state clears the user.
    if (mode == UserPropertiesMode::kReplace) {
      out.append(",\"user_properties\":{\"$clearAll\":\"-\"");
      if (!p.empty()) {
        out.append(",\"$set\":");
        AppendObjectText(p, &out);
      }
      out.push_back('}');
    } else if (!p.empty()) {
      out.append(",\"user_properties\":{\"$set\":");
      AppendObjectText(p, &out);
      out.push_back('}');
    }
  }
  out.push_back('}');
  verdict.event = std::move(event);
  return verdict;
}

LineVerdict MapNdjsonLine(std::string_view line, std::string_view fallback_insert_id) {
  LineVerdict verdict;
  json::value parsed;
  if (!ParseObjectLine(line, &parsed, &verdict)) return verdict;
  const json::object& o = parsed.get_object();
  if (!IsNonEmptyString(o.if_contains("event_type"))) {
    verdict.problem = LineProblem::kNoEventType;
    return verdict;
  }
  ImportedEvent event;
  if (!ReadIds(o, &event, &verdict)) return verdict;
  // Sent as written, so the server sees exactly the file's numbers and keys; ParseJson
  // accepted it, so it is one JSON object (spaces around it trimmed).
  size_t begin = 0, end = line.size();
  while (begin < end && (line[begin] == ' ' || line[begin] == '\t')) ++begin;
  while (end > begin && (line[end - 1] == ' ' || line[end - 1] == '\t' || line[end - 1] == '\r')) {
    --end;
  }
  const std::string_view text = line.substr(begin, end - begin);
  const json::value* insert_id = o.if_contains("insert_id");
  if (IsNonEmptyString(insert_id)) {
    event.json.assign(text);
  } else if (insert_id != nullptr && !insert_id->is_null()) {
    // The server would refuse the event (400 naming insert_id) and fail its whole batch.
    verdict.problem = LineProblem::kBadInsertId;
    return verdict;
  } else if (insert_id != nullptr) {
    // null, which the server reads as none: the fallback instead, as for a line without one,
    // so that a resumed import sends the line again harmlessly. Written anew (a second
    // "insert_id" key would be ambiguous).
    json::object copy = o;
    copy["insert_id"] = fallback_insert_id;
    event.json = json::serialize(copy);
  } else {
    event.json = "{\"insert_id\":";
    AppendJsonString(&event.json, fallback_insert_id);
    std::string_view rest = text.substr(1);  // after '{'
    size_t i = 0;
    while (i < rest.size() && (rest[i] == ' ' || rest[i] == '\t' || rest[i] == '\n')) ++i;
    if (rest[i] != '}') event.json.push_back(',');
    event.json.append(rest);
  }
  verdict.event = std::move(event);
  return verdict;
}

}  // namespace profiled::cli
