#include "api/console_wire.h"

#include <cmath>

#include "core/json_writer.h"

namespace profiled::api {

namespace {

void AppendRate(double rate, std::string* out) {
  AppendJsonDouble(out, std::round(rate * 100.0) / 100.0);
}

}  // namespace

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

std::string SerializeStats(const read::StatsSnapshot& stats, int64_t now_ms) {
  std::string out = R"({"now":)";
  AppendJsonInt(&out, now_ms / 1000);
  out.append(R"(,"rates":{"interval_seconds":)");
  AppendJsonInt(&out, stats.rate_seconds);
  out.append(R"(,"samples":[)");
  for (size_t i = 0; i < stats.rates.size(); ++i) {
    const read::RateSample& r = stats.rates[i];
    if (i > 0) out.push_back(',');
    out.append(R"({"t":)");
    AppendJsonInt(&out, r.t_ms / 1000);
    out.append(R"(,"events_ingested_per_second":)");
    AppendRate(r.events_ingested_per_second, &out);
    out.append(R"(,"profile_reads_per_second":)");
    AppendRate(r.profile_reads_per_second, &out);
    out.append(R"(,"requests_per_second":)");
    AppendRate(r.requests_per_second, &out);
    out.push_back('}');
  }
  out.append(R"(]},"cohort_sizes":{)");
  bool first = true;
  for (const auto& [project, samples] : stats.cohorts) {
    if (!first) out.push_back(',');
    first = false;
    AppendJsonString(&out, project);
    out.append(R"(:{"interval_seconds":)");
    AppendJsonInt(&out, stats.cohort_seconds);
    out.append(R"(,"samples":[)");
    for (size_t i = 0; i < samples.size(); ++i) {
      if (i > 0) out.push_back(',');
      out.append(R"({"t":)");
      AppendJsonInt(&out, samples[i].t_ms / 1000);
      out.append(R"(,"sizes":{)");
      bool first_size = true;
      for (const auto& [cohort, size] : samples[i].sizes) {
        if (!first_size) out.push_back(',');
        first_size = false;
        AppendJsonString(&out, cohort);
        out.push_back(':');
        AppendJsonUint(&out, size);
      }
      out.append("}}");
    }
    out.append("]}");
  }
  out.append("}}");
  return out;
}

}  // namespace profiled::api
