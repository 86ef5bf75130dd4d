// Amplitude's User Privacy API v1 (docs/API.md, "Privacy deletion"): Endpoints::Deletions.
#include <charconv>

#include "api/auth.h"
#include "api/cohort_downloads.h"
#include "api/endpoints.h"
#include "api/form.h"
#include "api/http_errors.h"
#include "api/privacy_wire.h"
#include "ingest/deletions.h"

namespace profiled::api {

namespace {

HttpResponse DeletionError(int status, std::string_view message) {
  return HttpResponse{status, "application/json", ProfileErrorBody(message)};
}

}  // namespace

void Endpoints::Deletions(const HttpRequest& request, const Respond& respond) {
  // Basic auth with api_key:secret_key, as Amplitude's (and the cohort API's).
  std::shared_ptr<const Access> access = access_.load();
  std::string_view problem;
  const ProjectConfig* project = access->ByBasicAuth(request.authorization, &problem);
  if (project == nullptr) {
    respond(DeletionError(401, problem));
    return;
  }
  const std::vector<std::string_view> s = PathSegments(request.path);
  auto answer_job = [respond](const ingest::DeletionResult& r) {
    if (!r.status.ok()) {
      respond(DeletionError(HttpStatusOf(r.status.code()), PublicMessage(r.status)));
      return;
    }
    respond(HttpResponse{200, "application/json", SerializeDeletionJob(r.job)});
  };

  // /api/2/deletions/users
  if (s.size() == 4) {
    if (request.method == "POST") {
      ingest::DeletionRequest req;
      if (Status st = ParseDeletionRequest(request.content_type, request.body, &req); !st.ok()) {
        respond(DeletionError(400, st.message()));
        return;
      }
      req.project = project->id;
      ingestor_.RequestDeletion(std::move(req), answer_job);
      return;
    }
    if (request.method == "GET") {
      int64_t start_day = 0;
      int64_t end_day = 0;
      if (Status st = ParseDeletionListQuery(request.query, &start_day, &end_day); !st.ok()) {
        respond(DeletionError(400, st.message()));
        return;
      }
      // A read of the store (on a Redis Cluster, round trips): on the background worker
      // when there is one, never blocking an I/O thread.
      auto list = [this, respond, project_id = project->id, start_day, end_day] {
        std::vector<ingest::DeletionJob> jobs;
        if (Status st = ingest::ListDeletionJobs(store_, project_id, &jobs); !st.ok()) {
          respond(DeletionError(HttpStatusOf(st.code()), PublicMessage(st)));
          return;
        }
        std::erase_if(jobs, [&](const ingest::DeletionJob& job) {
          int64_t day = 0;
          ingest::ParseDay(ingest::DayOf(job.run_at_ms), &day);
          return day < start_day || day > end_day;
        });
        respond(HttpResponse{200, "application/json", SerializeDeletionJobs(jobs)});
      };
      if (downloads_ == nullptr) {
        list();
      } else if (Status posted = downloads_->Post(list); !posted.ok()) {
        respond(DeletionError(HttpStatusOf(posted.code()), PublicMessage(posted)));
      }
      return;
    }
    respond(Allowing(DeletionError(405, "Method not allowed"), "GET, POST, OPTIONS"));
    return;
  }

  // /api/2/deletions/users/{amplitude_id}/{day}
  if (s.size() == 6) {
    if (request.method != "DELETE") {
      respond(Allowing(DeletionError(405, "Method not allowed"), "DELETE, OPTIONS"));
      return;
    }
    uint64_t amplitude_id = 0;
    int64_t day = 0;
    std::string_view id_text = s[4];
    auto [end, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), amplitude_id);
    if (ec != std::errc() || end != id_text.data() + id_text.size() || amplitude_id == 0) {
      respond(DeletionError(400, "the amplitude_id in the path is not a positive integer"));
      return;
    }
    if (!ingest::ParseDay(s[5], &day)) {
      respond(DeletionError(400, "the day in the path is not a date YYYY-MM-DD"));
      return;
    }
    ingestor_.RemoveStagedDeletion(project->id, amplitude_id, std::string(s[5]), answer_job);
    return;
  }
  respond(DeletionError(404, "Not found"));
}

}  // namespace profiled::api
