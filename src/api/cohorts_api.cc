// Amplitude's cohort API (docs/API.md, "Cohorts"): Endpoints::Cohorts.
#include <algorithm>
#include <boost/json.hpp>

#include "api/auth.h"
#include "api/cohort_downloads.h"
#include "api/definition_wire.h"
#include "api/endpoints.h"
#include "api/form.h"
#include "api/http_errors.h"
#include "api/static_cohort_wire.h"
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
  std::shared_ptr<const Access> access = access_.load();
  std::string_view problem;
  const ProjectConfig* project = access->ByBasicAuth(request.authorization, &problem);
  if (project == nullptr) {
    respond(CohortError(401, problem));
    return;
  }
  std::vector<std::string_view> s = PathSegments(request.path);
  const std::string& project_id = project->id;

  // GET /api/3/cohorts
  if (s.size() == 3 && s[1] == "3") {
    if (request.method != "GET") {
      respond(Allowing(CohortError(405, "Method not allowed"), "GET, OPTIONS"));
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
      respond(Allowing(CohortError(405, "Method not allowed"), "POST, OPTIONS"));
      return;
    }
    bool upload = s[3] == "upload";
    ingest::StaticCohortChange change;
    if (Status st = ParseStaticCohortChange(
            upload ? StaticCohortRequest::kUpload : StaticCohortRequest::kMembership, request.body,
            &change);
        !st.ok()) {
      respond(CohortError(400, st.message()));
      return;
    }
    change.project = project_id;
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
