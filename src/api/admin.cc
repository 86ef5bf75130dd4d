// The admin API of definitions (docs/API.md, "Definitions"): Endpoints::Admin.
#include <boost/json.hpp>

#include "api/definition_wire.h"
#include "api/endpoints.h"
#include "api/http_errors.h"
#include "core/value_text.h"

namespace profiled::api {

namespace {

namespace json = boost::json;
using ingest::DefinitionKind;

HttpResponse JsonResponse(int status, std::string body) {
  return HttpResponse{status, "application/json", std::move(body)};
}

HttpResponse Error(int status, std::string_view message) {
  return JsonResponse(status, ProfileErrorBody(message));
}

// The token of "Authorization: Bearer <token>" (scheme case-insensitive), or empty.
std::string_view BearerToken(std::string_view header) {
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() <= kScheme.size()) return {};
  for (size_t i = 0; i < kScheme.size(); ++i) {
    char c = header[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return {};
  }
  std::string_view token = header.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

// Compares without an early exit, so the time taken does not tell how much of a guess
// was right.
bool SameSecret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    size_t end = path.find('/');
    out.push_back(path.substr(0, end));
    path.remove_prefix(end == std::string_view::npos ? path.size() : end);
  }
  return out;
}

// The stored source with the registry's status: what GET answers.
json::object InfoJson(const ingest::DefinitionInfo& info) {
  json::object o;
  std::error_code ec;
  bool non_finite = false;
  json::value source = ParseJson(info.source, kMaxJsonDepth, &ec, &non_finite);
  if (!ec && source.is_object()) o = std::move(source.get_object());
  o["status"] = info.ready ? "ready" : "backfilling";
  if (!info.ready) {
    o["progress"] = info.progress;
    o["events_scanned"] = info.events_scanned;
  }
  o["created_at"] = info.created_ms / 1000;
  o["updated_at"] = info.updated_ms / 1000;
  return o;
}

// The body as stored: compact JSON, with the path's id in it.
std::string NormalizedSource(std::string_view body, DefinitionKind kind, const std::string& id) {
  std::error_code ec;
  bool non_finite = false;
  json::value v = ParseJson(body, kMaxJsonDepth, &ec, &non_finite);
  json::object o = v.is_object() ? std::move(v.get_object()) : json::object();
  if (kind == DefinitionKind::kComputation) {
    o["id"] = std::stoull(id);
  } else {
    o["id"] = id;
  }
  return json::serialize(o);
}

// A stored cohort: a static one ({"id","name","static":true}, made by the cohort upload)
// or a behavioral definition.
Status ParseCohortSource(std::string_view source, std::string_view id, compute::Cohort* out) {
  std::error_code ec;
  bool non_finite = false;
  json::value v = ParseJson(source, kMaxJsonDepth, &ec, &non_finite);
  if (!ec && v.is_object()) {
    const json::value* is_static = v.get_object().if_contains("static");
    if (is_static != nullptr && is_static->is_bool() && is_static->get_bool()) {
      out->id = std::string(id);
      out->is_static = true;
      if (const json::value* name = v.get_object().if_contains("name");
          name != nullptr && name->is_string()) {
        out->name = std::string(name->get_string());
      }
      return Status::Ok();
    }
  }
  return ParseCohort(source, id, out);
}

const char* KindName(DefinitionKind kind) {
  return kind == DefinitionKind::kComputation ? "computations" : "cohorts";
}

}  // namespace

Status ParseStoredDefinition(DefinitionKind kind, std::string_view id, std::string_view source,
                             ingest::Definition* out) {
  out->id = std::string(id);
  out->source = std::string(source);
  if (kind == DefinitionKind::kComputation) {
    compute::Computation c;
    PROFILED_RETURN_IF_ERROR(ParseComputation(source, id, &c));
    out->typed = std::move(c);
    return Status::Ok();
  }
  compute::Cohort c;
  PROFILED_RETURN_IF_ERROR(ParseCohortSource(source, id, &c));
  out->typed = std::move(c);
  return Status::Ok();
}

void Endpoints::Admin(const HttpRequest& request, const Respond& respond) {
  if (registry_ == nullptr) {
    respond(Error(404, "Not found"));
    return;
  }
  std::string_view token = BearerToken(request.authorization);
  if (token.empty()) {
    respond(Error(401, "Missing Bearer token in Authorization header"));
    return;
  }
  if (admin_token_.empty() || !SameSecret(token, admin_token_)) {
    respond(Error(401, "Invalid admin token"));
    return;
  }
  // /admin/v1/projects/{project}/{kind}[/{id}]
  std::vector<std::string_view> s = Segments(request.path);
  if (s.size() < 5 || s.size() > 6 || s[2] != "projects") {
    respond(Error(404, "Not found: the admin API is /admin/v1/projects/{project}/{kind}[/{id}]"));
    return;
  }
  const ProjectConfig* project = ProjectById(s[3]);
  if (project == nullptr) {
    respond(Error(404, "Unknown project: " + std::string(s[3])));
    return;
  }
  DefinitionKind kind;
  if (s[4] == "computations") {
    kind = DefinitionKind::kComputation;
  } else if (s[4] == "cohorts") {
    kind = DefinitionKind::kCohort;
  } else if (s[4] == "recommendations") {
    respond(Error(400, "kind recommendations is not supported yet"));
    return;
  } else {
    respond(Error(404, "Unknown kind " + std::string(s[4]) +
                           ": one of computations, cohorts, recommendations"));
    return;
  }
  if (s.size() == 5) {
    if (request.method != "GET") {
      respond(Error(405, "Method not allowed: a list answers GET only"));
      return;
    }
    json::array list;
    for (const auto& info : registry_->List(project->id, kind)) list.push_back(InfoJson(info));
    json::object o;
    o[KindName(kind)] = std::move(list);
    respond(JsonResponse(200, json::serialize(o)));
    return;
  }
  std::string id(s[5]);
  if (request.method == "GET") {
    ingest::DefinitionInfo info;
    Status st = registry_->Get(project->id, kind, id, &info);
    if (!st.ok()) {
      respond(Error(404, "No " + std::string(s[4]) + " definition " + id));
      return;
    }
    respond(JsonResponse(200, json::serialize(InfoJson(info))));
    return;
  }
  ingest::DefinitionRegistry* registry = registry_;
  std::string project_id = project->id;
  auto answer = [respond, registry, project_id, kind, id](Status st) {
    if (!st.ok()) {
      int status = HttpStatusOf(st.code());
      respond(Error(status, PublicMessage(st)));
      return;
    }
    ingest::DefinitionInfo info;
    if (registry->Get(project_id, kind, id, &info).ok()) {
      respond(JsonResponse(200, json::serialize(InfoJson(info))));
    } else {
      respond(JsonResponse(200, R"({"deleted":true})"));
    }
  };
  if (request.method == "DELETE") {
    ingestor_.DeleteDefinition(project->id, kind, id, answer);
    return;
  }
  if (request.method != "PUT") {
    respond(Error(405, "Method not allowed: use GET, PUT or DELETE"));
    return;
  }
  ingest::Definition definition;
  Status st;
  if (kind == DefinitionKind::kComputation) {
    compute::Computation c;
    st = ParseComputation(request.body, id, &c);
    definition.typed = std::move(c);
  } else {
    compute::Cohort c;
    st = ParseCohort(request.body, id, &c);
    definition.typed = std::move(c);
  }
  if (!st.ok()) {
    respond(Error(400, st.message()));
    return;
  }
  definition.id = id;
  definition.source = NormalizedSource(request.body, kind, id);
  ingestor_.PutDefinition(project->id, std::move(definition), answer);
}

}  // namespace profiled::api
