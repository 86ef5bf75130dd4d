// The admin API of definitions (docs/API.md, "Definitions"): Endpoints::Admin.
#include <boost/json.hpp>
#include <charconv>
#include <fstream>
#include <future>

#include "api/auth.h"
#include "api/cohort_downloads.h"
#include "api/definition_wire.h"
#include "api/endpoints.h"
#include "api/form.h"
#include "api/http_errors.h"
#include "api/rec_report_wire.h"
#include "core/json_writer.h"
#include "core/scan_limits.h"
#include "core/value_text.h"
#include "ingest/rec_report.h"
#include "store/keys.h"
#include "store/records.h"

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

json::object TrainingJson(const ingest::RecTrainingStatus& t);

// The stored source with the registry's status (and a recommendation's training status,
// when there is a trainer): what GET answers.
json::object InfoJson(const ingest::DefinitionInfo& info, const ingest::RecTrainer* trainer,
                      std::string_view project) {
  json::object o;
  if (!ParseStoredObject(info.source, &o).ok()) o.clear();
  if (info.kind == DefinitionKind::kComputation) {
    o["id"] = std::stoull(info.id);
  } else {
    o["id"] = info.id;
  }
  o["status"] = info.ready ? "ready" : "backfilling";
  if (!info.ready) {
    o["progress"] = info.progress;
    o["events_scanned"] = info.events_scanned;
  }
  o["created_at"] = info.created_ms / 1000;
  o["updated_at"] = info.updated_ms / 1000;
  if (info.kind == DefinitionKind::kRecommendation && trainer != nullptr) {
    o["training"] = TrainingJson(trainer->StatusOf(project, info.id));
  }
  return o;
}

// A stored cohort: a static one ({"id","name","static":true}, made by the cohort upload)
// or a behavioral definition.
Status ParseCohortSource(std::string_view source, std::string_view id, compute::Cohort* out) {
  json::object o;
  if (ParseStoredObject(source, &o).ok()) {
    const json::value* is_static = o.if_contains("static");
    if (is_static != nullptr && is_static->is_bool() && is_static->get_bool()) {
      out->id = std::string(id);
      out->is_static = true;
      if (const json::value* name = o.if_contains("name"); name != nullptr && name->is_string()) {
        out->name = std::string(name->get_string());
      }
      return Status::Ok();
    }
  }
  return ParseCohort(source, id, out);
}

const char* KindName(DefinitionKind kind) {
  switch (kind) {
    case DefinitionKind::kComputation: return "computations";
    case DefinitionKind::kCohort: return "cohorts";
    case DefinitionKind::kRecommendation: return "recommendations";
  }
  return "";
}

// A recommendation's model as GET reports it, under "training".
json::object TrainingJson(const ingest::RecTrainingStatus& t) {
  json::object o;
  o["status"] = ingest::StateName(t.state);
  if (t.state == ingest::RecTrainingStatus::State::kTraining) o["progress"] = t.progress;
  if (t.last_trained_ms != 0) {
    o["last_trained_at"] = t.last_trained_ms / 1000;
    o["duration_seconds"] = t.last_duration_seconds;
    o["model"] = t.model;
    o["users"] = t.users;
    o["items"] = t.items;
    o["interactions"] = t.interactions;
    if (t.offline.has_value()) {
      json::object f;
      f["hit_rate"] = t.offline->hit_rate;
      f["ndcg"] = t.offline->ndcg;
      f["k"] = t.offline->k;
      f["users"] = t.offline->users;
      f["holdout"] = "last interaction";
      o["offline"] = std::move(f);
    } else {
      o["offline"] = nullptr;
    }
  } else {
    o["last_trained_at"] = nullptr;
  }
  o["trainings"] = t.trainings;
  o["failures"] = t.failures;
  if (!t.note.empty()) o["note"] = t.note;
  if (!t.error.empty()) o["error"] = t.error;
  return o;
}

// PUT {"offset_ms": N} moves the clock to the system clock + N; GET tells the offset.
HttpResponse ClockControl(const HttpRequest& request, OffsetClock* clock) {
  if (request.method == "PUT") {
    json::object body;
    const json::value* offset =
        ParseStoredObject(request.body, &body).ok() ? body.if_contains("offset_ms") : nullptr;
    // The bounds of testing.clock_offset_ms: up to 100 years either way.
    constexpr int64_t kCentury = int64_t{100} * 366 * 86400 * 1000;
    if (offset == nullptr || !offset->is_int64() || offset->get_int64() < -kCentury ||
        offset->get_int64() > kCentury) {
      return Error(400, "the body must be {\"offset_ms\": <integer of at most 100 years>}");
    }
    clock->SetOffset(offset->get_int64());
  } else if (request.method != "GET") {
    return Allowing(Error(405, "Method not allowed: use GET or PUT"), "GET, PUT, OPTIONS");
  }
  json::object o;
  o["offset_ms"] = clock->offset_ms();
  o["now_ms"] = clock->NowMs();
  return JsonResponse(200, ObjectText(o));
}

// The format a member export asks for ("csv" or "jsonl"), or empty when the query is not one.
std::string ExportFormat(std::string_view query) {
  if (query.empty() || query == "format=csv") return "csv";
  if (query == "format=jsonl") return "jsonl";
  return {};
}

// GET .../cohorts/{id}/members?format=csv|jsonl: every member of a served cohort.
HttpResponse ExportMembers(const std::string& format, const std::string& project,
                           const std::string& cohort_id, const read::ProfileReader& reader) {
  std::string body = format == "csv" ? "amplitude_id,user_id\n" : "";
  Status st = reader.ForEachMember(project, cohort_id, [&](uint64_t id, std::string_view user) {
    if (format == "csv") {
      body.append(std::to_string(id));
      body.push_back(',');
      AppendCsvField(user, &body);
      body.push_back('\n');
    } else {
      json::object o;
      o["amplitude_id"] = id;
      if (user.empty()) {
        o["user_id"] = nullptr;
      } else {
        o["user_id"] = user;
      }
      body.append(ObjectText(o));
      body.push_back('\n');
    }
    return true;
  });
  if (st.IsNotFound()) return Error(404, "No served cohort " + cohort_id);
  if (!st.ok()) return Error(HttpStatusOf(st.code()), PublicMessage(st));
  return HttpResponse{200, format == "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson",
                      std::move(body)};
}

}  // namespace

namespace {

// One definition of a definitions file, parsed; `where` names it in messages.
struct FileDefinition {
  std::string where;
  DefinitionKind kind;
  ingest::Definition definition;
};

// Reads and parses every definition of a definitions file, without applying any.
Status ReadDefinitionsFile(const std::string& path, std::vector<FileDefinition>* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument("cannot read the definitions file " + path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  json::object root;
  if (!ParseStoredObject(text, &root).ok()) {
    return Status::InvalidArgument(path + ": expected a JSON object {\"computations\":[...], " +
                                   "\"cohorts\":[...], \"recommendations\":[...]}");
  }
  for (const auto& kv : root) {
    if (kv.key() != "computations" && kv.key() != "cohorts" && kv.key() != "recommendations") {
      return Status::InvalidArgument(path + ": unknown key " + std::string(kv.key()));
    }
  }
  for (DefinitionKind kind :
       {DefinitionKind::kComputation, DefinitionKind::kCohort, DefinitionKind::kRecommendation}) {
    const char* name = KindName(kind);
    const json::value* list = root.if_contains(name);
    if (list == nullptr) continue;
    if (!list->is_array()) return Status::InvalidArgument(path + ": " + name + " must be an array");
    for (size_t i = 0; i < list->get_array().size(); ++i) {
      std::string where = path + ": " + name + "[" + std::to_string(i) + "]";
      const json::value& item = list->get_array()[i];
      const json::value* idv = item.is_object() ? item.get_object().if_contains("id") : nullptr;
      std::string id;
      if (idv != nullptr && idv->is_string()) id = std::string(idv->get_string());
      if (idv != nullptr && (idv->is_uint64() || idv->is_int64())) id = ValueText(*idv);
      if (id.empty()) return Status::InvalidArgument(where + ": id is required");
      std::string body = ValueText(item);
      ingest::Definition definition;
      Status st = ParseStoredDefinition(kind, id, body, &definition);
      if (!st.ok()) return Status::InvalidArgument(where + ": " + st.message());
      // A recommendation's source is already normalised by its parser.
      if (kind != DefinitionKind::kRecommendation) {
        definition.source = NormalizedSource(body, kind, id);
      }
      out->push_back({std::move(where), kind, std::move(definition)});
    }
  }
  return Status::Ok();
}

}  // namespace

Status CheckDefinitionsFile(const std::string& path) {
  std::vector<FileDefinition> definitions;
  return ReadDefinitionsFile(path, &definitions);
}

Status ApplyDefinitionsFile(const std::string& project, const std::string& path,
                            ingest::Ingestor& ingestor,
                            const ingest::DefinitionRegistry& registry) {
  std::vector<FileDefinition> definitions;
  PROFILED_RETURN_IF_ERROR(ReadDefinitionsFile(path, &definitions));
  for (FileDefinition& d : definitions) {
    ingest::DefinitionInfo info;
    if (registry.Get(project, d.kind, d.definition.id, &info).ok() &&
        info.source == d.definition.source) {
      continue;
    }
    std::promise<Status> done;
    ingestor.PutDefinition(project, std::move(d.definition),
                           [&done](Status s) { done.set_value(std::move(s)); });
    Status st = done.get_future().get();
    if (!st.ok()) return Status::InvalidArgument(d.where + ": " + st.message());
  }
  return Status::Ok();
}

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
  if (kind == DefinitionKind::kRecommendation) {
    compute::Recommendation r;
    PROFILED_RETURN_IF_ERROR(ParseRecommendation(source, id, &r, &out->source));
    out->typed = std::move(r);
    return Status::Ok();
  }
  compute::Cohort c;
  PROFILED_RETURN_IF_ERROR(ParseCohortSource(source, id, &c));
  out->typed = std::move(c);
  return Status::Ok();
}

std::string NormalizedSource(std::string_view body, DefinitionKind kind, const std::string& id) {
  json::object o;
  if (!ParseStoredObject(body, &o).ok()) o.clear();
  uint64_t number = 0;
  if (kind == DefinitionKind::kComputation &&
      std::from_chars(id.data(), id.data() + id.size(), number).ec == std::errc()) {
    o["id"] = number;
  } else {
    o["id"] = id;
  }
  return ObjectText(o);
}

void Endpoints::Admin(const HttpRequest& request, const Respond& respond) {
  if (registry_ == nullptr) {
    respond(Error(404, "Not found"));
    return;
  }
  std::string_view token = CredentialsOf(request.authorization, "bearer");
  if (token.empty()) {
    respond(Error(401, "Missing Bearer token in Authorization header"));
    return;
  }
  std::shared_ptr<const Access> access = access_.load();
  if (!access->IsAdminToken(token)) {
    respond(Error(401, "Invalid admin token"));
    return;
  }
  std::vector<std::string_view> s = PathSegments(request.path);
  if (s.size() == 4 && s[2] == "testing" && s[3] == "clock" && clock_control_ != nullptr) {
    respond(ClockControl(request, clock_control_));
    return;
  }
  if (Console(request, *access, s, respond)) return;
  // /admin/v1/projects/{project}/{kind}[/{id}[/members|/train|/report]], and
  // /admin/v1/projects/{project}/groups/{group_type}/{group_name}
  bool members = s.size() == 7 && s[4] == "cohorts" && s[6] == "members";
  bool train = s.size() == 7 && s[4] == "recommendations" && s[6] == "train";
  bool group = s.size() == 7 && s[4] == "groups";
  bool report = s.size() == 7 && s[4] == "recommendations" && s[6] == "report";
  if (s.size() < 5 || (s.size() > 6 && !members && !train && !group && !report) ||
      s[2] != "projects") {
    respond(Error(404, "Not found: the admin API is /admin/v1/projects/{project}/{kind}[/{id}]"));
    return;
  }
  const ProjectConfig* project = access->ById(s[3]);
  if (project == nullptr) {
    respond(Error(404, "Unknown project: " + std::string(s[3])));
    return;
  }
  if (group) {
    if (request.method != "GET") {
      respond(Allowing(Error(405, "Method not allowed: use GET"), "GET, OPTIONS"));
      return;
    }
    std::string type, name;
    if (!DecodePathSegment(s[5], &type) || !DecodePathSegment(s[6], &name) || type.empty() ||
        name.empty()) {
      respond(Error(400, "the group type and name must be non-empty and percent-encoded"));
      return;
    }
    // A store read: on the worker, never on an I/O thread (a shared store's read is a round
    // trip).
    store::Store& store = store_;
    Status posted = downloads_->Post(
        [respond, &store, key = store::GroupKey(project->id, type, name), type, name] {
          std::string value;
          Status st = store.Get(store::Table::kMeta, key, &value);
          std::string_view properties;
          if (st.ok()) st = store::DecodeGroup(value, &properties);
          if (st.IsNotFound()) {
            respond(Error(404, "No group " + type + "/" + name));
            return;
          }
          if (!st.ok()) {
            respond(Error(HttpStatusOf(st.code()), PublicMessage(st)));
            return;
          }
          // The stored text is a JSON object written by the writer: served as it is.
          std::string body = R"({"group_type":)";
          AppendJsonString(&body, type);
          body += R"(,"group_name":)";
          AppendJsonString(&body, name);
          body += R"(,"group_properties":)";
          body.append(properties);
          body += "}";
          respond(JsonResponse(200, std::move(body)));
        });
    if (!posted.ok()) respond(Error(HttpStatusOf(posted.code()), PublicMessage(posted)));
    return;
  }
  DefinitionKind kind;
  if (s[4] == "computations") {
    kind = DefinitionKind::kComputation;
  } else if (s[4] == "cohorts") {
    kind = DefinitionKind::kCohort;
  } else if (s[4] == "recommendations") {
    kind = DefinitionKind::kRecommendation;
  } else {
    respond(Error(404, "Unknown kind " + std::string(s[4]) +
                           ": one of computations, cohorts, recommendations"));
    return;
  }
  if (s.size() == 5) {
    if (request.method != "GET") {
      respond(Allowing(Error(405, "Method not allowed: a list answers GET only"), "GET, OPTIONS"));
      return;
    }
    json::array list;
    for (const auto& info : registry_->List(project->id, kind)) {
      list.push_back(InfoJson(info, trainer_, project->id));
    }
    json::object o;
    o[KindName(kind)] = std::move(list);
    respond(JsonResponse(200, ObjectText(o)));
    return;
  }
  std::string id(s[5]);
  if (train) {
    if (request.method != "POST") {
      respond(Allowing(Error(405, "Method not allowed: use POST"), "POST, OPTIONS"));
      return;
    }
    ingest::DefinitionInfo info;
    if (!registry_->Get(project->id, kind, id, &info).ok()) {
      respond(Error(404, "No recommendations definition " + id));
      return;
    }
    Status asked = trainer_ == nullptr ? Status::NotFound("no trainer")
                                       : trainer_->RequestTraining(project->id, id);
    if (asked.IsNotFound()) {
      respond(Error(409, "Recommendation " + id +
                             " is not served yet (its item history is being backfilled): " +
                             "it trains as soon as it is"));
      return;
    }
    if (!asked.ok()) {
      respond(Error(HttpStatusOf(asked.code()), PublicMessage(asked)));
      return;
    }
    json::object o = InfoJson(info, trainer_, project->id);
    o["training"].as_object()["requested"] = true;
    respond(JsonResponse(202, ObjectText(o)));
    return;
  }
  if (report) {
    if (request.method != "GET") {
      respond(Allowing(Error(405, "Method not allowed: use GET"), "GET, OPTIONS"));
      return;
    }
    ingest::DefinitionInfo info;
    if (!registry_->Get(project->id, kind, id, &info).ok()) {
      respond(Error(404, "No recommendations definition " + id));
      return;
    }
    RecReportQuery query;
    if (Status q = ParseRecReportQuery(request.query, &query); !q.ok()) {
      respond(Error(400, q.message()));
      return;
    }
    const int64_t since_ms = clock_.NowMs() - int64_t{query.days} * 86'400'000;
    // A scan of the project's event log: on the console's worker, never on an I/O thread.
    store::Store& store = store_;
    ScanLimits limits;
    limits.stop = &console_worker_->StopFlag();
    Status posted = console_worker_->Post([respond, &store, project_id = project->id, id, query,
                                           since_ms, limits] {
      Result<ingest::RecReport> r =
          ingest::ScanRecReport(store, project_id, id, query.conversion_event, since_ms, limits);
      if (!r.ok()) {
        respond(Error(HttpStatusOf(r.status().code()), PublicMessage(r.status())));
        return;
      }
      respond(JsonResponse(200, RecReportJson(id, query, since_ms, *r)));
    });
    if (!posted.ok()) {
      HttpResponse busy = Error(HttpStatusOf(posted.code()), PublicMessage(posted));
      if (posted.code() == ErrorCode::kThrottled) busy.retry_after_seconds = 1;
      respond(std::move(busy));
    }
    return;
  }
  if (members) {
    if (request.method != "GET") {
      respond(Allowing(Error(405, "Method not allowed: use GET"), "GET, OPTIONS"));
      return;
    }
    std::string format = ExportFormat(request.query);
    if (format.empty()) {
      respond(Error(400, "format must be csv or jsonl"));
      return;
    }
    // A scan of the project's users: on the worker, never on an I/O thread.
    const read::ProfileReader& reader = reader_;
    Status posted = downloads_->Post([respond, format, project_id = project->id, id, &reader] {
      respond(ExportMembers(format, project_id, id, reader));
    });
    if (!posted.ok()) respond(Error(HttpStatusOf(posted.code()), PublicMessage(posted)));
    return;
  }
  if (request.method == "GET") {
    ingest::DefinitionInfo info;
    Status st = registry_->Get(project->id, kind, id, &info);
    if (!st.ok()) {
      respond(Error(404, "No " + std::string(s[4]) + " definition " + id));
      return;
    }
    respond(JsonResponse(200, ObjectText(InfoJson(info, trainer_, project->id))));
    return;
  }
  ingest::DefinitionRegistry* registry = registry_;
  ingest::RecTrainer* trainer = trainer_;
  std::string project_id = project->id;
  auto answer = [respond, registry, trainer, project_id, kind, id](const Status& st) {
    if (!st.ok()) {
      int status = HttpStatusOf(st.code());
      respond(Error(status, PublicMessage(st)));
      return;
    }
    ingest::DefinitionInfo info;
    if (registry->Get(project_id, kind, id, &info).ok()) {
      respond(JsonResponse(200, ObjectText(InfoJson(info, trainer, project_id))));
    } else {
      respond(JsonResponse(200, R"({"deleted":true})"));
    }
  };
  if (request.method == "DELETE") {
    ingestor_.DeleteDefinition(project->id, kind, id, answer);
    return;
  }
  if (request.method != "PUT") {
    respond(Allowing(Error(405, "Method not allowed: use GET, PUT or DELETE"),
                     "GET, PUT, DELETE, OPTIONS"));
    return;
  }
  ingest::Definition definition;
  Status st;
  if (kind == DefinitionKind::kComputation) {
    compute::Computation c;
    st = ParseComputation(request.body, id, &c);
    definition.typed = std::move(c);
  } else if (kind == DefinitionKind::kCohort) {
    compute::Cohort c;
    st = ParseCohort(request.body, id, &c);
    definition.typed = std::move(c);
  } else {
    compute::Recommendation r;
    st = ParseRecommendation(request.body, id, &r, &definition.source);
    definition.typed = std::move(r);
  }
  if (!st.ok()) {
    respond(Error(400, st.message()));
    return;
  }
  // After a successful parse only: the path id is then valid for its kind. A recommendation's
  // parser normalised its source already.
  if (kind != DefinitionKind::kRecommendation) {
    definition.source = NormalizedSource(request.body, kind, id);
  }
  definition.id = id;
  ingestor_.PutDefinition(project->id, std::move(definition), answer);
}

}  // namespace profiled::api
