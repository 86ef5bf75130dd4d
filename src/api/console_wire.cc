#include "api/console_wire.h"

#include "core/json_writer.h"

namespace profiled::api {

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

}  // namespace profiled::api
