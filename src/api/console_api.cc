// The console's admin paths (docs/API.md, "Console API"): Endpoints::Console.
#include "api/cohort_downloads.h"
#include "api/console_wire.h"
#include "api/endpoints.h"
#include "api/http_errors.h"
#include "core/log.h"
#include "core/scan_limits.h"
#include "read/recent_events.h"
#include "read/stats_sampler.h"

namespace profiled::api {

namespace {

HttpResponse Error(int status, std::string_view message) {
  return HttpResponse{status, "application/json", ProfileErrorBody(message)};
}

// A failure of the store or the worker as the admin API answers it: 429 (the worker is busy)
// and 503 with Retry-After, so a client knows to come back.
HttpResponse Failure(const Status& st) {
  HttpResponse r = Error(HttpStatusOf(st.code()), PublicMessage(st));
  if (r.status == 429 || r.status == 503) r.retry_after_seconds = 1;
  return r;
}

}  // namespace

bool Endpoints::Console(const HttpRequest& request, const Access& access,
                        const std::vector<std::string_view>& s, const Respond& respond) {
  const bool projects = s.size() == 3 && s[2] == "projects";
  const bool stats = s.size() == 3 && s[2] == "stats";
  const bool users = s.size() == 5 && s[2] == "projects" && s[4] == "users";
  if (!projects && !stats && !users) return false;
  if (request.method != "GET") {
    respond(Allowing(Error(405, "Method not allowed: use GET"), "GET, OPTIONS"));
    return true;
  }
  if (projects) {
    if (Status parsed = ParseNoQuery(request.query, "GET /admin/v1/projects"); !parsed.ok()) {
      respond(Error(400, parsed.message()));
      return true;
    }
    std::vector<ProjectSummary> list;
    for (const ProjectConfig& p : access.projects()) {
      ProjectSummary& summary = list.emplace_back();
      summary.id = p.id;
      summary.dialect = p.dialect;
      summary.computations = registry_->List(p.id, ingest::DefinitionKind::kComputation).size();
      summary.cohorts = registry_->List(p.id, ingest::DefinitionKind::kCohort).size();
      summary.recommendations =
          registry_->List(p.id, ingest::DefinitionKind::kRecommendation).size();
    }
    respond(HttpResponse{200, "application/json", SerializeProjects(list)});
    return true;
  }
  if (stats) {
    if (stats_ == nullptr) {
      respond(Error(404, "Not found: the stats are not sampled"));
      return true;
    }
    StatsQuery query;
    if (Status parsed = ParseStatsQuery(request.query, &query); !parsed.ok()) {
      respond(Error(400, parsed.message()));
      return true;
    }
    if (!query.project.empty() && access.ById(query.project) == nullptr) {
      respond(Error(404, "Unknown project: " + query.project));
      return true;
    }
    read::StatsFilter filter;
    filter.project = query.project;
    // Samples are served in whole seconds: t > since is t_ms >= (since + 1) * 1000.
    if (query.since >= 0) filter.since_ms = (query.since + 1) * 1000 - 1;
    // Only what is asked is copied under the sampler's lock, and written here.
    respond(HttpResponse{200, "application/json",
                         SerializeStats(stats_->Snapshot(filter), clock_.NowMs())});
    return true;
  }
  const ProjectConfig* project = access.ById(s[3]);
  if (project == nullptr) {
    respond(Error(404, "Unknown project: " + std::string(s[3])));
    return true;
  }
  UserLookupQuery query;
  if (Status parsed = ParseUserLookupQuery(request.query, &query); !parsed.ok()) {
    respond(Error(400, parsed.message()));
    return true;
  }
  // The read and the log scan on the console's worker, never on an I/O thread. The read is made as
  // the Profile API's, but through the reader alone: nothing is submitted, so a lookup is no
  // exposure of the recommendations it shows.
  const read::ProfileReader& reader = reader_;
  store::Store& store = store_;
  const Clock& clock = clock_;
  ScanLimits limits;
  limits.stop = &console_worker_->StopFlag();
  Status posted = console_worker_->Post(
      [respond, query, project_id = project->id, &reader, &store, &clock, limits] {
        read::ReadOptions options;
        options.computations = true;
        options.cohorts = true;
        options.recs.wanted = true;
        options.groups = true;
        read::UserData user;
        Status st = query.amplitude_id != 0
                        ? reader.ReadById(project_id, query.amplitude_id, options, &user)
                        : reader.Read(project_id, query.user_id, query.device_id, options, &user);
        read::RecentEvents recent;
        if (st.ok()) {
          const int64_t since = clock.NowMs() - int64_t{query.events_hours} * 3600 * 1000;
          st = read::ReadRecentEvents(store, project_id, user.amplitude_id, since, kMaxRecentEvents,
                                      &recent, limits);
        }
        if (st.IsNotFound()) {
          respond(Error(404, "No such user"));
          return;
        }
        if (!st.ok()) {
          LogError("console lookup failed: project=" + project_id + ": " + st.ToString());
          respond(Failure(st));
          return;
        }
        respond(HttpResponse{200, "application/json", SerializeUserLookup(user, recent)});
      });
  if (!posted.ok()) respond(Failure(posted));
  return true;
}

}  // namespace profiled::api
