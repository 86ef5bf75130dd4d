#include "api/privacy_wire.h"

#include <boost/json.hpp>
#include <charconv>

#include "api/form.h"
#include "core/value_text.h"

namespace profiled::api {

namespace {

namespace json = boost::json;

// A positive amplitude_id written in decimal digits only.
bool ParseAmplitudeId(std::string_view text, uint64_t* id) {
  if (text.empty() || text.size() > 20) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *id);
  return ec == std::errc() && end == text.data() + text.size() && *id > 0;
}

Status TooMany(std::string_view field) {
  return Status::InvalidArgument(std::string(field) + ": at most " +
                                 std::to_string(ingest::kMaxDeletionIds) + " ids per request");
}

Status AddAmplitudeId(std::string_view text, ingest::DeletionRequest* out) {
  uint64_t id = 0;
  if (!ParseAmplitudeId(text, &id)) {
    return Status::InvalidArgument("amplitude_ids: \"" + std::string(text.substr(0, 64)) +
                                   "\" is not a positive integer");
  }
  if (out->amplitude_ids.size() >= ingest::kMaxDeletionIds) return TooMany("amplitude_ids");
  out->amplitude_ids.push_back(id);
  return Status::Ok();
}

Status AddUserId(std::string user_id, ingest::DeletionRequest* out) {
  if (user_id.empty()) return Status::InvalidArgument("user_ids: an id is empty");
  if (out->user_ids.size() >= ingest::kMaxDeletionIds) return TooMany("user_ids");
  out->user_ids.push_back(std::move(user_id));
  return Status::Ok();
}

bool ParseBool(std::string_view text, bool* out) {
  if (text == "true" || text == "True" || text == "1") {
    *out = true;
  } else if (text == "false" || text == "False" || text == "0" || text.empty()) {
    *out = false;
  } else {
    return false;
  }
  return true;
}

Status ParseJsonRequest(std::string_view body, ingest::DeletionRequest* out) {
  json::object o;
  if (!ParseStoredObject(body, &o).ok()) {
    return Status::InvalidArgument("the body is not a JSON object");
  }
  if (const json::value* v = o.if_contains("amplitude_ids"); v != nullptr && !v->is_null()) {
    if (!v->is_array()) return Status::InvalidArgument("amplitude_ids: expected an array");
    for (const json::value& id : v->get_array()) {
      if (id.is_uint64() || (id.is_int64() && id.get_int64() > 0)) {
        PROFILED_RETURN_IF_ERROR(AddAmplitudeId(ValueText(id), out));
      } else if (id.is_string()) {
        PROFILED_RETURN_IF_ERROR(AddAmplitudeId(id.get_string(), out));
      } else {
        return Status::InvalidArgument("amplitude_ids: " + ValueText(id).substr(0, 64) +
                                       " is not a positive integer");
      }
    }
  }
  if (const json::value* v = o.if_contains("user_ids"); v != nullptr && !v->is_null()) {
    if (!v->is_array()) return Status::InvalidArgument("user_ids: expected an array");
    for (const json::value& id : v->get_array()) {
      if (!id.is_string()) return Status::InvalidArgument("user_ids: every id must be a string");
      PROFILED_RETURN_IF_ERROR(AddUserId(std::string(id.get_string()), out));
    }
  }
  if (const json::value* v = o.if_contains("requester"); v != nullptr && !v->is_null()) {
    if (!v->is_string()) return Status::InvalidArgument("requester: expected a string");
    out->requester = std::string(v->get_string());
  }
  for (const char* flag : {"ignore_invalid_ids", "delete_from_org"}) {
    const json::value* v = o.if_contains(flag);
    if (v == nullptr || v->is_null()) continue;
    bool value = false;
    if (v->is_bool()) {
      value = v->get_bool();
    } else if (!v->is_string() || !ParseBool(v->get_string(), &value)) {
      return Status::InvalidArgument(std::string(flag) + ": expected true or false");
    }
    if (std::string_view(flag) == "ignore_invalid_ids") {
      out->ignore_invalid_ids = value;
    } else if (value) {
      return Status::InvalidArgument(
          "delete_from_org: not supported; each project's keys delete in that project");
    }
  }
  return Status::Ok();
}

Status ParseFormRequest(std::string_view body, ingest::DeletionRequest* out) {
  Status failure;
  bool ok = ForEachFormField(body, [&](std::string_view key, std::string value) {
    if (key == "amplitude_ids" || key == "amplitude_id") {
      failure = AddAmplitudeId(value, out);
    } else if (key == "user_ids" || key == "user_id") {
      failure = AddUserId(std::move(value), out);
    } else if (key == "requester") {
      out->requester = std::move(value);
    } else if (key == "ignore_invalid_ids") {
      if (!ParseBool(value, &out->ignore_invalid_ids)) {
        failure = Status::InvalidArgument("ignore_invalid_ids: expected true or false");
      }
    } else if (key == "delete_from_org") {
      bool v = false;
      if (!ParseBool(value, &v) || v) {
        failure = Status::InvalidArgument(
            "delete_from_org: not supported; each project's keys delete in that project");
      }
    }
    return failure.ok();
  });
  if (!failure.ok()) return failure;
  if (!ok) return Status::InvalidArgument("the body is neither JSON nor a well-formed form");
  return Status::Ok();
}

}  // namespace

Status ParseDeletionRequest(std::string_view content_type, std::string_view body,
                            ingest::DeletionRequest* out) {
  size_t first = body.find_first_not_of(" \t\r\n");
  bool is_json = content_type.find("json") != std::string_view::npos ||
                 (first != std::string_view::npos && body[first] == '{');
  PROFILED_RETURN_IF_ERROR(is_json ? ParseJsonRequest(body, out) : ParseFormRequest(body, out));
  // Copied into every entry of the job, so held small.
  if (out->requester.size() > kMaxRequesterBytes) {
    return Status::InvalidArgument("requester: at most " + std::to_string(kMaxRequesterBytes) +
                                   " bytes");
  }
  if (out->amplitude_ids.empty() && out->user_ids.empty()) {
    return Status::InvalidArgument("give at least one id in amplitude_ids or user_ids");
  }
  return Status::Ok();
}

Status ParseDeletionListQuery(std::string_view query, int64_t* start_day, int64_t* end_day) {
  std::string start, end;
  bool ok = ForEachFormField(query, [&](std::string_view key, std::string value) {
    if (key == "start_day") {
      start = std::move(value);
    } else if (key == "end_day") {
      end = std::move(value);
    }
    return true;
  });
  if (!ok) return Status::InvalidArgument("the query string is not well-formed");
  if (start.empty() || end.empty()) {
    return Status::InvalidArgument("start_day and end_day (YYYY-MM-DD) are required");
  }
  if (!ingest::ParseDay(start, start_day)) {
    return Status::InvalidArgument("start_day: expected a date YYYY-MM-DD");
  }
  if (!ingest::ParseDay(end, end_day)) {
    return Status::InvalidArgument("end_day: expected a date YYYY-MM-DD");
  }
  if (*end_day < *start_day) return Status::InvalidArgument("end_day is before start_day");
  if (*end_day - *start_day > kMaxDeletionListDays) {
    return Status::InvalidArgument("the range from start_day to end_day is over six months (" +
                                   std::to_string(kMaxDeletionListDays) + " days)");
  }
  return Status::Ok();
}

namespace {

json::object JobObject(const ingest::DeletionJob& job) {
  json::object o;
  o["day"] = ingest::DayOf(job.run_at_ms);
  o["status"] = ingest::DeletionStatusName(job.status);
  json::array ids;
  for (const ingest::DeletionEntry& e : job.entries) {
    json::object entry;
    entry["amplitude_id"] = e.amplitude_id;
    entry["requester"] = e.requester;
    entry["requested_on_day"] = e.requested_on_day;
    ids.push_back(std::move(entry));
  }
  o["amplitude_ids"] = std::move(ids);
  o["events_deleted"] = job.events_deleted;
  return o;
}

}  // namespace

std::string SerializeDeletionJob(const ingest::DeletionJob& job) {
  return ObjectText(JobObject(job));
}

std::string SerializeDeletionJobs(const std::vector<ingest::DeletionJob>& jobs) {
  json::array a;
  for (const ingest::DeletionJob& job : jobs) a.push_back(JobObject(job));
  return ValueText(a);
}

}  // namespace profiled::api
