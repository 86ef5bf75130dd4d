#include "api/static_cohort_wire.h"

#include <algorithm>
#include <boost/json.hpp>
#include <string>
#include <vector>

#include "api/definition_wire.h"
#include "core/value_text.h"

namespace profiled::api {

namespace {

namespace json = boost::json;

// Reads the ids array of an upload or membership entry; empty string on success, else what
// was wrong.
std::string ReadIds(const json::object& o, std::string_view field, std::vector<std::string>* ids,
                    size_t* total) {
  const json::value* v = o.if_contains("ids");
  if (v == nullptr || !v->is_array()) return std::string(field) + ".ids must be an array";
  for (const auto& id : v->get_array()) {
    if (++*total > ingest::kMaxStaticCohortIds) {
      return "at most " + std::to_string(ingest::kMaxStaticCohortIds) + " ids per request";
    }
    if (id.is_string()) {
      ids->emplace_back(id.get_string());
    } else if (id.is_uint64() || id.is_int64()) {
      ids->push_back(ValueText(id));
    } else {
      return std::string(field) + ".ids must hold strings or integers";
    }
  }
  return {};
}

// A cohort id as the admin API takes it (api/definition_wire.h): 1 to 128 characters of
// [A-Za-z0-9_.-].
bool IsCohortId(std::string_view id) {
  return !id.empty() && id.size() <= kMaxCohortIdLength &&
         std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
         });
}

std::string StringField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

Status ParseUpload(const json::object& o, ingest::StaticCohortChange* change) {
  size_t total = 0;
  change->create = true;
  change->name = StringField(o, "name");
  if (change->name.empty()) return Status::InvalidArgument("name: a non-empty string is required");
  if (change->name.size() > kMaxDefinitionNameLength) {
    return Status::InvalidArgument("name: at most " + std::to_string(kMaxDefinitionNameLength) +
                                   " bytes");
  }
  json::object source;
  source["name"] = change->name;
  source["static"] = true;
  change->source = ObjectText(source);
  change->cohort_id = StringField(o, "existing_cohort_id");
  if (!change->cohort_id.empty() && !IsCohortId(change->cohort_id)) {
    return Status::InvalidArgument(
        "existing_cohort_id: 1 to 128 characters of A-Z, a-z, 0-9, '_', '.' and '-'");
  }
  std::string id_type = StringField(o, "id_type");
  ingest::MembershipChange m;
  if (id_type == "BY_AMP_ID") {
    m.id_type = ingest::CohortIdType::kAmplitudeId;
  } else if (id_type == "BY_USER_ID") {
    m.id_type = ingest::CohortIdType::kUserId;
  } else {
    return Status::InvalidArgument("id_type: one of BY_AMP_ID, BY_USER_ID");
  }
  if (std::string e = ReadIds(o, "body", &m.ids, &total); !e.empty()) {
    return Status::InvalidArgument(std::move(e));
  }
  change->changes.push_back(std::move(m));
  return Status::Ok();
}

Status ParseMembership(const json::object& o, ingest::StaticCohortChange* change) {
  size_t total = 0;
  change->cohort_id = StringField(o, "cohort_id");
  if (change->cohort_id.empty()) {
    return Status::InvalidArgument("cohort_id: a non-empty string is required");
  }
  const json::value* list = o.if_contains("memberships");
  if (list == nullptr || !list->is_array() || list->get_array().empty()) {
    return Status::InvalidArgument("memberships: a non-empty array is required");
  }
  for (size_t i = 0; i < list->get_array().size(); ++i) {
    std::string field = "memberships[" + std::to_string(i) + "]";
    const json::value& entry = list->get_array()[i];
    if (!entry.is_object()) return Status::InvalidArgument(field + " must be an object");
    const json::object& e = entry.get_object();
    ingest::MembershipChange m;
    std::string id_type = StringField(e, "id_type");
    std::string operation = StringField(e, "operation");
    if (id_type == "BY_ID") {
      m.id_type = ingest::CohortIdType::kAmplitudeId;
    } else if (id_type == "BY_NAME") {
      m.id_type = ingest::CohortIdType::kUserId;
    } else {
      return Status::InvalidArgument(field + ".id_type: one of BY_ID, BY_NAME");
    }
    if (operation != "ADD" && operation != "REMOVE") {
      return Status::InvalidArgument(field + ".operation: one of ADD, REMOVE");
    }
    m.add = operation == "ADD";
    if (std::string err = ReadIds(e, field, &m.ids, &total); !err.empty()) {
      return Status::InvalidArgument(std::move(err));
    }
    change->changes.push_back(std::move(m));
  }
  return Status::Ok();
}

}  // namespace

Status ParseStaticCohortChange(StaticCohortRequest kind, std::string_view body,
                               ingest::StaticCohortChange* out) {
  json::object o;
  if (!ParseStoredObject(body, &o).ok()) {
    return Status::InvalidArgument("the body must be a JSON object");
  }
  bool skip_invalid = true;
  if (const json::value* v = o.if_contains("skip_invalid_ids"); v != nullptr && v->is_bool()) {
    skip_invalid = v->get_bool();
  }
  PROFILED_RETURN_IF_ERROR(kind == StaticCohortRequest::kUpload ? ParseUpload(o, out)
                                                                : ParseMembership(o, out));
  out->refuse_unknown_ids = !skip_invalid;
  return Status::Ok();
}

}  // namespace profiled::api
