// The console's admin paths (docs/API.md, "Console API"): Endpoints::Console.
#include "api/console_wire.h"
#include "api/endpoints.h"
#include "api/http_errors.h"
#include "read/stats_sampler.h"

namespace profiled::api {

namespace {

HttpResponse Error(int status, std::string_view message) {
  return HttpResponse{status, "application/json", ProfileErrorBody(message)};
}

}  // namespace

bool Endpoints::Console(const HttpRequest& request, const Access& access,
                        const std::vector<std::string_view>& s, const Respond& respond) {
  const bool projects = s.size() == 3 && s[2] == "projects";
  const bool stats = s.size() == 3 && s[2] == "stats";
  if (!projects && !stats) return false;
  if (request.method != "GET") {
    respond(Error(405, "Method not allowed: use GET"));
    return true;
  }
  if (projects) {
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
  if (stats_ == nullptr) {
    respond(Error(404, "Not found: the stats are not sampled"));
    return true;
  }
  respond(
      HttpResponse{200, "application/json", SerializeStats(stats_->Snapshot(), clock_.NowMs())});
  return true;
}

}  // namespace profiled::api
