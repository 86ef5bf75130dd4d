// Amplitude's cohort API (docs/API.md, "Cohorts"): Endpoints::Cohorts.
#include <algorithm>
#include <boost/json.hpp>

#include "api/auth.h"
#include "api/cohort_downloads.h"
#include "api/definition_wire.h"
#include "api/endpoints.h"
#include "api/form.h"
#include "api/http_errors.h"
#include "core/value_text.h"
#include "ingest/static_cohorts.h"
#include "read/profile_reader.h"
#include "store/keys.h"

namespace profiled::api {

namespace {

namespace json = boost::json;

// Amplitude's cohort API errors: {"http_code":..,"type":..,"message":..}.
HttpResponse CohortError(int status, std::string_view message) {
  json::object o;
  o["http_code"] = status;
  o["type"] = status == 401 ? "unauthorized" : status == 404 ? "not_found" : "invalid_request";
  o["message"] = message;
  o["metadata"] = json::object();
  return HttpResponse{status, "application/json", ObjectText(o)};
}

HttpResponse JsonOk(int status, const json::value& v) {
  return HttpResponse{status, "application/json", ValueText(v)};
}

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

}  // namespace

HttpResponse Endpoints::ListCohorts(const std::string& project_id) const {
  std::map<std::string, uint64_t, std::less<>> sizes;
  Status st = reader_.CohortSizes(project_id, &sizes);
  if (!st.ok()) return CohortError(HttpStatusOf(st.code()), PublicMessage(st));
  json::array list;
  for (const auto& info : registry_->List(project_id, ingest::DefinitionKind::kCohort)) {
    json::object c;
    json::object source;
    const json::object* src = ParseStoredObject(info.source, &source).ok() ? &source : nullptr;
    c["appId"] = project_id;
    c["archived"] = false;
    c["id"] = info.id;
    c["name"] = src != nullptr ? StringField(*src, "name") : std::string();
    c["description"] = src != nullptr ? StringField(*src, "description") : std::string();
    c["type"] = info.is_static ? "static" : "behavioral";
    c["published"] = true;
    c["owners"] = json::array();
    if (!info.is_static && src != nullptr) {
      if (const json::value* d = src->if_contains("definition")) c["definition"] = *d;
    }
    c["createdAt"] = info.created_ms / 1000;
    c["lastMod"] = info.updated_ms / 1000;
    c["lastComputed"] = info.updated_ms / 1000;
    c["status"] = info.ready ? "ready" : "backfilling";
    auto size = sizes.find(info.id);
    c["size"] = size == sizes.end() ? 0 : size->second;
    list.push_back(std::move(c));
  }
  json::object o;
  o["cohorts"] = std::move(list);
  return JsonOk(200, o);
}

void Endpoints::Cohorts(const HttpRequest& request, const Respond& respond) {
  if (registry_ == nullptr) {
    respond(CohortError(404, "Not found"));
    return;
  }
  // Basic auth with api_key:secret_key, as Amplitude's.
  std::string credentials;
  std::string_view basic = CredentialsOf(request.authorization, "basic");
  if (basic.empty() || !DecodeBase64(basic, &credentials)) {
    respond(CohortError(401, "Missing Basic credentials (api_key:secret_key)"));
    return;
  }
  size_t colon = credentials.find(':');
  std::shared_ptr<const Access> access = access_.load();
  const ProjectConfig* project =
      colon == std::string::npos
          ? nullptr
          : access->ByKeyPair(std::string_view(credentials).substr(0, colon),
                              std::string_view(credentials).substr(colon + 1));
  if (project == nullptr) {
    respond(CohortError(401, "Invalid API key or secret key"));
    return;
  }
  std::vector<std::string_view> s = PathSegments(request.path);
  const std::string& project_id = project->id;

  // GET /api/3/cohorts
  if (s.size() == 3 && s[1] == "3") {
    if (request.method != "GET") {
      respond(CohortError(405, "Method not allowed"));
      return;
    }
    // A scan of the project's users: on the worker, never on an I/O thread.
    std::string project_copy = project_id;
    Status posted =
        downloads_->Post([this, respond, project_copy] { respond(ListCohorts(project_copy)); });
    if (!posted.ok()) respond(CohortError(HttpStatusOf(posted.code()), PublicMessage(posted)));
    return;
  }

  // POST /api/3/cohorts/upload and /api/3/cohorts/membership
  if (s.size() == 4 && s[1] == "3" && (s[3] == "upload" || s[3] == "membership")) {
    if (request.method != "POST") {
      respond(CohortError(405, "Method not allowed"));
      return;
    }
    json::object o;
    if (!ParseStoredObject(request.body, &o).ok()) {
      respond(CohortError(400, "the body must be a JSON object"));
      return;
    }
    ingest::StaticCohortChange change;
    change.project = project_id;
    size_t total = 0;
    bool upload = s[3] == "upload";
    bool skip_invalid = true;
    if (const json::value* v = o.if_contains("skip_invalid_ids"); v != nullptr && v->is_bool()) {
      skip_invalid = v->get_bool();
    }
    if (upload) {
      change.create = true;
      change.name = StringField(o, "name");
      if (change.name.empty()) {
        respond(CohortError(400, "name: a non-empty string is required"));
        return;
      }
      if (change.name.size() > kMaxDefinitionNameLength) {
        respond(CohortError(
            400, "name: at most " + std::to_string(kMaxDefinitionNameLength) + " bytes"));
        return;
      }
      json::object source;
      source["name"] = change.name;
      source["static"] = true;
      change.source = ObjectText(source);
      change.cohort_id = StringField(o, "existing_cohort_id");
      if (!change.cohort_id.empty() && !IsCohortId(change.cohort_id)) {
        respond(CohortError(400,
                            "existing_cohort_id: 1 to 128 characters of A-Z, a-z, 0-9, "
                            "'_', '.' and '-'"));
        return;
      }
      std::string id_type = StringField(o, "id_type");
      ingest::MembershipChange m;
      if (id_type == "BY_AMP_ID") {
        m.id_type = ingest::CohortIdType::kAmplitudeId;
      } else if (id_type == "BY_USER_ID") {
        m.id_type = ingest::CohortIdType::kUserId;
      } else {
        respond(CohortError(400, "id_type: one of BY_AMP_ID, BY_USER_ID"));
        return;
      }
      if (std::string e = ReadIds(o, "body", &m.ids, &total); !e.empty()) {
        respond(CohortError(400, e));
        return;
      }
      change.changes.push_back(std::move(m));
    } else {
      change.cohort_id = StringField(o, "cohort_id");
      if (change.cohort_id.empty()) {
        respond(CohortError(400, "cohort_id: a non-empty string is required"));
        return;
      }
      const json::value* list = o.if_contains("memberships");
      if (list == nullptr || !list->is_array() || list->get_array().empty()) {
        respond(CohortError(400, "memberships: a non-empty array is required"));
        return;
      }
      for (size_t i = 0; i < list->get_array().size(); ++i) {
        std::string field = "memberships[" + std::to_string(i) + "]";
        const json::value& entry = list->get_array()[i];
        if (!entry.is_object()) {
          respond(CohortError(400, field + " must be an object"));
          return;
        }
        const json::object& e = entry.get_object();
        ingest::MembershipChange m;
        std::string id_type = StringField(e, "id_type");
        std::string operation = StringField(e, "operation");
        if (id_type == "BY_ID") {
          m.id_type = ingest::CohortIdType::kAmplitudeId;
        } else if (id_type == "BY_NAME") {
          m.id_type = ingest::CohortIdType::kUserId;
        } else {
          respond(CohortError(400, field + ".id_type: one of BY_ID, BY_NAME"));
          return;
        }
        if (operation != "ADD" && operation != "REMOVE") {
          respond(CohortError(400, field + ".operation: one of ADD, REMOVE"));
          return;
        }
        m.add = operation == "ADD";
        if (std::string err = ReadIds(e, field, &m.ids, &total); !err.empty()) {
          respond(CohortError(400, err));
          return;
        }
        change.changes.push_back(std::move(m));
      }
    }
    change.refuse_unknown_ids = !skip_invalid;
    ingest::StaticCohortChange copy_for_answer;  // the id types and operations, for the answer
    for (const auto& m : change.changes) copy_for_answer.changes.push_back({m.id_type, m.add, {}});
    ingestor_.ChangeStaticCohort(
        std::move(change), [respond, upload, kinds = std::move(copy_for_answer.changes)](
                               ingest::StaticCohortResult r) {
          if (!r.status.ok()) {
            respond(CohortError(HttpStatusOf(r.status.code()), PublicMessage(r.status)));
            return;
          }
          json::object answer;
          if (upload) {
            json::array sample;
            for (const auto& id : r.skipped.empty() ? std::vector<std::string>() : r.skipped[0]) {
              if (sample.size() >= 10) break;
              sample.push_back(json::string(id));
            }
            answer["cohortId"] = r.cohort_id;
            json::object meta;
            meta["matched"] = r.matched;
            meta["totals"] = r.matched + (r.skipped.empty() ? 0 : r.skipped[0].size());
            meta["invalid_ids_sample"] = std::move(sample);
            answer["metadata"] = std::move(meta);
          } else {
            answer["cohort_id"] = r.cohort_id;
            json::array results;
            for (size_t i = 0; i < kinds.size(); ++i) {
              json::object m;
              json::array skipped;
              if (i < r.skipped.size()) {
                for (const auto& id : r.skipped[i]) skipped.push_back(json::string(id));
              }
              m["skipped_ids"] = std::move(skipped);
              m["id_type"] =
                  kinds[i].id_type == ingest::CohortIdType::kAmplitudeId ? "BY_ID" : "BY_NAME";
              m["operation"] = kinds[i].add ? "ADD" : "REMOVE";
              results.push_back(std::move(m));
            }
            answer["memberships_result"] = std::move(results);
          }
          respond(JsonOk(200, answer));
        });
    return;
  }

  // /api/5/cohorts/request/{id}, /api/5/cohorts/request-status/{request_id},
  // /api/5/cohorts/request/{request_id}/file
  if (s.size() >= 4 && s[1] == "5" && request.method == "GET") {
    if (s.size() == 4 && s[3] == "request") {
      respond(CohortError(404, "Not found"));
      return;
    }
    if (s.size() == 5 && s[3] == "request") {
      std::string cohort_id(s[4]);
      ingest::DefinitionInfo info;
      if (!registry_->Get(project_id, ingest::DefinitionKind::kCohort, cohort_id, &info).ok()) {
        respond(CohortError(404, "No cohort " + cohort_id));
        return;
      }
      if (!info.ready) {
        respond(CohortError(
            400,
            "cohort " + cohort_id + " is still backfilling; download it once its status is ready"));
        return;
      }
      std::string request_id;
      Status st = downloads_->Request(project_id, cohort_id, &request_id);
      if (!st.ok()) {
        respond(CohortError(HttpStatusOf(st.code()), PublicMessage(st)));
        return;
      }
      json::object o;
      o["request_id"] = request_id;
      o["cohort_id"] = cohort_id;
      respond(JsonOk(202, o));
      return;
    }
    if (s.size() == 5 && s[3] == "request-status") {
      std::string cohort_id;
      auto state = downloads_->Find(project_id, s[4], &cohort_id);
      if (state == CohortDownloads::State::kUnknown) {
        respond(CohortError(404, "No such request"));
        return;
      }
      json::object o;
      o["request_id"] = s[4];
      o["cohort_id"] = cohort_id;
      o["async_status"] = state == CohortDownloads::State::kRunning ? "JOB INPROGRESS"
                          : state == CohortDownloads::State::kDone  ? "JOB COMPLETED"
                                                                    : "JOB FAILED";
      respond(JsonOk(state == CohortDownloads::State::kRunning ? 202 : 200, o));
      return;
    }
    if (s.size() == 6 && s[3] == "request" && s[5] == "file") {
      std::string csv;
      if (!downloads_->File(project_id, s[4], &csv)) {
        respond(CohortError(404, "No finished download with this request id"));
        return;
      }
      respond(HttpResponse{200, "text/csv; charset=utf-8", std::move(csv)});
      return;
    }
  }
  respond(CohortError(404, "Not found"));
}

}  // namespace profiled::api
