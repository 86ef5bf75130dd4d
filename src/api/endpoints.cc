#include "api/endpoints.h"

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <thread>

#include "api/auth.h"
#include "api/cohort_downloads.h"
#include "api/form.h"
#include "api/http_errors.h"
#include "api/ingest_wire.h"
#include "api/openapi.h"
#include "api/profile_wire.h"
#include "api/worker_pool.h"
#include "core/json_writer.h"
#include "core/log.h"

namespace profiled::api {

namespace {

constexpr const char* kText = "text/plain; charset=utf-8";
constexpr const char* kProfileReadsThrottled =
    "Number of requests per minute exceeds system limit. Contact Support if you need this limit "
    "raised";

HttpResponse Json(int status, std::string body) {
  return HttpResponse{status, "application/json", std::move(body)};
}

HttpResponse Rejected(const IngestRejection& r) { return Json(r.http_status, RejectionBody(r)); }

// The wire name of an event field the writer found over a limit.
const char* EventFieldName(ingest::EventField field) {
  switch (field) {
    case ingest::EventField::kUserProperties: return "user_properties";
    case ingest::EventField::kGroupProperties: return "group_properties";
    case ingest::EventField::kGroups: return "groups";
    case ingest::EventField::kNone: break;
  }
  return "event";
}

}  // namespace

Endpoints::Endpoints(const Config& config, store::Store& store, ingest::Ingestor& ingestor,
                     Metrics& metrics, const Clock& clock, const read::ProfileReader& reader,
                     ingest::DefinitionRegistry* registry)
    : store_(store),
      ingestor_(ingestor),
      metrics_(metrics),
      clock_(clock),
      access_(std::make_shared<const Access>(config)),
      reader_(reader),
      registry_(registry) {
  if (registry != nullptr) {
    downloads_ = std::make_unique<CohortDownloads>(reader, clock);
    console_worker_ = std::make_unique<CohortDownloads>(reader, clock, "console scans");
  }
  if (store.Shared()) {
    int io_threads = config.server.threads;
    if (io_threads == 0)
      io_threads = static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
    const int readers = config.storage.redis_read_threads;
    read_pool_ = std::make_unique<WorkerPool>(readers > 0 ? readers : 4 * io_threads);
  }
}

Endpoints::~Endpoints() { Stop(); }

void Endpoints::Stop() {
  if (read_pool_) read_pool_->Stop();
  if (console_worker_) console_worker_->Stop();
  if (downloads_) downloads_->Stop();
}

void Endpoints::BeginStop() {
  if (console_worker_) console_worker_->BeginStop();
  if (downloads_) downloads_->BeginStop();
}

void Endpoints::SetConfig(const Config& config) {
  SetAccess(std::make_shared<const Access>(config, access_.load().get(), clock_.NowMs()));
}

bool Endpoints::StartProfile(const HttpRequest& request, bool count_read, ProfileCall* call,
                             HttpResponse* refusal) const {
  std::string_view secret = CredentialsOf(request.authorization, "api-key");
  if (secret.empty()) {
    *refusal = {401, kText, "Missing Api-Key in Authorization header"};
    return false;
  }
  call->access = access_.load();
  call->project = call->access->BySecretKey(secret);
  if (call->project == nullptr) {
    *refusal = {401, kText, "Invalid Api-Key"};
    return false;
  }
  // Off, this is the read path's one extra branch: no clock read, no atomic.
  if (call->project->profile_reads_per_minute > 0 && count_read) {
    int64_t wait_ms = call->access->ProfileReads(*call->project).Take(clock_.NowMs());
    if (wait_ms > 0) {
      // Amplitude's words and status (docs/API.md, "Limits"); Retry-After in whole seconds.
      *refusal = Json(429, ProfileErrorBody(kProfileReadsThrottled));
      refusal->retry_after_seconds = static_cast<int>((wait_ms + 999) / 1000);
      return false;
    }
  }
  Status s = ParseProfileQuery(request.query, &call->query);
  if (!s.ok()) {
    *refusal = Json(400, ProfileErrorBody(s.message()));
    return false;
  }
  call->options = ReadOptionsFor(call->query, call->project->dialect);
  return true;
}

HttpResponse Endpoints::EndProfile(const ProfileCall& call, Status s, read::UserData& user) {
  const ProjectConfig& project = *call.project;
  HttpResponse r;
  if (s.ok()) {
    r.body.reserve(user.profile.properties_json.size() + 256);
    if (project.dialect == ProfileDialect::kAmplitude) {
      s = WriteAmplitudeProfile(call.query, user, &r.body);
    } else {
      WriteSeedProfile(call.query, user, &r.body);
    }
  }
  if (s.ok() && !user.recommendations.empty()) r.served_recommendations = true;
  if (s.ok() && trainer_ != nullptr && !user.recommendations.empty()) {
    // Once the response is written: the read waits neither for the exposure's parsing nor
    // for the ingest writer it wakes (which may share the core).
    r.after_send = [this, access = call.access, project = &project,
                    user_id = std::string(user.profile.user_id),
                    device_id = std::string(user.profile.device_id),
                    served = std::move(user.recommendations)] {
      SubmitExposures(*project, user_id, device_id, served);
    };
  }
  for (auto& record : user.records)
    internal::TrimReadBuffer(&record, internal::kKeptReadBufferBytes);
  if (s.IsNotFound()) return Json(404, ProfileErrorBody("User id and device id not seen before"));
  if (!s.ok()) {
    LogError("profile read failed: project=" + project.id + " user_id=\"" + call.query.user_id +
             "\" device_id=\"" + call.query.device_id + "\": " + s.ToString());
    return Json(HttpStatusOf(s.code()), ProfileErrorBody(PublicMessage(s)));
  }
  return r;
}

HttpResponse Endpoints::Profile(const HttpRequest& request) { return ReadProfile(request, true); }

HttpResponse Endpoints::ReadProfile(const HttpRequest& request, bool count_read) {
  ProfileCall call;
  HttpResponse refusal;
  if (!StartProfile(request, count_read, &call, &refusal)) return refusal;
  // Reused across reads so a warm read allocates only the response; trimmed afterwards.
  thread_local read::UserData user;
  Status s =
      reader_.Read(call.project->id, call.query.user_id, call.query.device_id, call.options, &user);
  return EndProfile(call, s, user);
}

// A profile read on an I/O thread's loop: the user_id's (or device_id's) identity key when its
// amplitude_id is not cached, then the user's records, each one store read made through
// store::AsyncReads, then the response. Any step that fails hands the read to a read thread.
struct Endpoints::LoopRead {
  const HttpRequest* request = nullptr;
  Respond respond;
  store::AsyncReads* reads = nullptr;
  ProfileCall call;
  read::PreparedRead prepared;
};

void Endpoints::ProfileAsync(const HttpRequest& request, const Respond& respond,
                             store::AsyncReads* reads) {
  auto read = std::make_shared<LoopRead>();
  read->request = &request;
  read->respond = respond;
  read->reads = reads;
  HttpResponse refusal;
  if (!StartProfile(request, true, &read->call, &refusal)) {
    respond(std::move(refusal));
    return;
  }
  // Groups take a second round of reads that only ProfileReader::Read makes.
  if (reads == nullptr || read->call.options.groups) {
    ReadOnThread(read);
    return;
  }
  reader_.Prepare(read->call.project->id, read->call.query.user_id, read->call.query.device_id,
                  read->call.options, &read->prepared);
  // A group property condition reads group records while it evaluates: not on the loop.
  if (read->prepared.evaluate && read->prepared.catalog->needs_groups()) {
    ReadOnThread(read);
    return;
  }
  if (!read->prepared.keys.empty()) {
    ReadRecordsOnLoop(read);
    return;
  }
  std::vector<std::string> keys = {read->prepared.identity_key};
  bool started = reads->MultiGet(
      store::Table::kIdentity, keys,
      [this, read](Status s, std::vector<std::string>& values, std::vector<Status>& statuses) {
        if (s.ok() && statuses[0].IsNotFound()) {
          // Never seen: as authoritative as the same read on a read thread.
          metrics_.AddProfileReadOnLoop();
          thread_local read::UserData user;
          read->respond(EndProfile(read->call, statuses[0], user));
          return;
        }
        if (s.ok()) s = statuses[0];
        if (!s.ok()) {
          ReadOnThread(read);
          return;
        }
        s = reader_.Resolve(values[0], &read->prepared);
        if (!s.ok()) {  // a stored id that does not decode: reading it again changes nothing
          metrics_.AddProfileReadOnLoop();
          thread_local read::UserData user;
          read->respond(EndProfile(read->call, s, user));
          return;
        }
        ReadRecordsOnLoop(read);
      });
  if (!started) ReadOnThread(read);
}

void Endpoints::ReadRecordsOnLoop(const std::shared_ptr<LoopRead>& read) {
  bool started = read->reads->MultiGet(
      store::Table::kProfiles, read->prepared.keys,
      [this, read](Status s, std::vector<std::string>& values, std::vector<Status>& statuses) {
        // On the loop's thread, like the read's start. A failed or redirected read, or no
        // profile under the id read (a merge moved the user meanwhile, or the cached id is
        // stale): the blocking read (redirects followed, the identity read again) has the last
        // word. What Finish finds wrong with the records themselves (Corruption) it would find
        // again: answered here.
        if (!s.ok()) {
          ReadOnThread(read);
          return;
        }
        thread_local read::UserData user;
        user.records.swap(values);
        s = reader_.Finish(read->prepared, statuses, read->call.options, &user);
        if (s.IsNotFound()) {
          ReadOnThread(read);
          return;
        }
        metrics_.AddProfileReadOnLoop();
        read->respond(EndProfile(read->call, s, user));
      });
  if (!started) ReadOnThread(read);
}

void Endpoints::ReadOnThread(const std::shared_ptr<LoopRead>& read) {
  read_pool_->Post([this, read] {
    metrics_.AddProfileReadOnThread();
    // The loop counted the read already; a retry on a thread is the same read.
    read->respond(ReadProfile(*read->request, false));
  });
}

std::unique_ptr<store::AsyncReads> Endpoints::NewAsyncReads(boost::asio::io_context& loop) {
  return store_.NewAsyncReads(loop);
}

void Endpoints::TrackEvents(const HttpRequest& request, const Respond& respond) {
  ParsedBatch batch;
  IngestRejection rejection;
  if (!ParseEventBatch(request.body, clock_.NowMs(), &batch, &rejection)) {
    metrics_.AddEventsRejected(rejection.event_count);
    respond(Rejected(rejection));
    return;
  }
  std::shared_ptr<const Access> access = access_.load();
  const ProjectConfig* project = access->ByApiKey(batch.api_key);
  if (project == nullptr) {
    metrics_.AddEventsRejected(batch.events.size());
    respond(Json(400, ErrorBody(400, "Invalid API key: " + batch.api_key)));
    return;
  }
  Submit(*project, std::move(batch.events), request, false, respond);
}

void Endpoints::Identify(const HttpRequest& request, const Respond& respond) {
  std::map<std::string, std::string> fields;
  std::string error =
      request.method == "GET"
          ? ParseFormBody("application/x-www-form-urlencoded", request.query, &fields)
          : ParseFormBody(request.content_type, request.body, &fields);
  if (!error.empty()) {
    respond(Json(400, ErrorBody(400, "Invalid form body: " + error)));
    return;
  }
  auto api_key = fields.find("api_key");
  if (api_key == fields.end() || api_key->second.empty()) {
    IngestRejection r;
    r.error = "Request missing required field";
    r.missing_field = "api_key";
    respond(Rejected(r));
    return;
  }
  std::shared_ptr<const Access> access = access_.load();
  const ProjectConfig* project = access->ByApiKey(api_key->second);
  if (project == nullptr) {
    respond(Json(400, ErrorBody(400, "Invalid API key: " + api_key->second)));
    return;
  }
  auto identification = fields.find("identification");
  if (identification == fields.end() || identification->second.empty()) {
    IngestRejection r;
    r.error = "missing_event";
    r.missing_field = "identification";
    r.events.details.push_back("the form needs an identification field");
    respond(Rejected(r));
    return;
  }
  std::vector<ingest::Event> events;
  IngestRejection rejection;
  const bool ok =
      request.path == "/groupidentify"
          ? ParseGroupIdentification(identification->second, clock_.NowMs(), &events, &rejection)
          : ParseIdentification(identification->second, clock_.NowMs(), &events, &rejection);
  if (!ok) {
    respond(Rejected(rejection));
    return;
  }
  Submit(*project, std::move(events), request, true, respond);
}

void Endpoints::LegacyUpload(const HttpRequest& request, const Respond& respond) {
  std::map<std::string, std::string> fields;
  // amplitude-js posts urlencoded (its XHR and its beacon alike); multipart is read too.
  std::string error = ParseFormBody(request.content_type, request.body, &fields);
  if (!error.empty()) {
    respond(Json(400, ErrorBody(400, "Invalid form body: " + error)));
    return;
  }
  LegacyForm upload;
  IngestRejection rejection;
  if (!ParseLegacyUpload(fields, &upload, &rejection)) {
    respond(Rejected(rejection));
    return;
  }
  std::shared_ptr<const Access> access = access_.load();
  const ProjectConfig* project = access->ByApiKey(upload.client);
  if (project == nullptr) {
    respond(Json(400, ErrorBody(400, "Invalid API key: " + upload.client)));
    return;
  }
  if (!LegacyChecksumMatches(upload)) {
    respond(Json(400, ErrorBody(400,
                                "Invalid checksum: checksum must be the hex MD5 of v, client, e "
                                "and upload_time as sent, concatenated")));
    return;
  }
  std::vector<ingest::Event> events;
  if (!ParseLegacyEvents(upload.events, clock_.NowMs(), &events, &rejection)) {
    metrics_.AddEventsRejected(rejection.event_count);
    respond(Rejected(rejection));
    return;
  }
  Submit(*project, std::move(events), request, true, respond);
}

HttpResponse Endpoints::RemoteConfig(const HttpRequest& request) const {
  // The route matched /config/{one segment}.
  std::vector<std::string_view> segments = PathSegments(request.path);
  std::string api_key;
  if (segments.size() != 2 || !DecodePathSegment(segments[1], &api_key)) {
    return Json(404, ErrorBody(404, "Not found"));
  }
  std::shared_ptr<const Access> access = access_.load();
  if (access->ByApiKey(api_key) == nullptr) {
    // The SDK reads 401 as an invalid key: it logs an error and asks no more.
    return Json(401, ErrorBody(401, "Invalid API key: " + api_key));
  }
  // Amplitude's shape (configs.analyticsSDK.browserSDK, the part the SDK applies), empty: every
  // option stays as the page set it. diagnostics.browserSDK.enabled false: an SDK whose page
  // forgot enableDiagnostics: false still sends nothing to Amplitude.
  return Json(200, R"({"configs":{"analyticsSDK":{"browserSDK":{}},)"
                   R"("diagnostics":{"browserSDK":{"enabled":false,"sampleRate":0}}}})");
}

void Endpoints::Submit(const ProjectConfig& project, std::vector<ingest::Event> events,
                       const HttpRequest& request, bool text_success, const Respond& respond) {
  size_t wire_body_size = request.wire_body_size;
  ingest::IngestBatch batch{project.id, std::move(events), request.body.size()};
  const Clock& clock = clock_;
  ingestor_.Submit(std::move(batch), [respond, wire_body_size, text_success,
                                      &clock](const ingest::IngestResult& result) {
    if (result.status.ok()) {
      if (text_success) {
        respond(HttpResponse{200, kText, "success"});
      } else {
        respond(Json(200, SuccessBody(result.accepted, wire_body_size, clock.NowMs())));
      }
      return;
    }
    if (result.status.code() == ErrorCode::kThrottled) {
      respond(Json(429, ThrottledBody(result.throttle)));
      return;
    }
    if (result.failed_event >= 0 && result.invalid_field != ingest::EventField::kNone) {
      // A limit only the stored state can tell (the size of the user's or a group's
      // properties, the user's group types): Amplitude's invalid field answer.
      IngestRejection r;
      r.error = "Invalid field values on some events";
      r.events.Invalid(EventFieldName(result.invalid_field), result.failed_event,
                       result.status.message());
      respond(Rejected(r));
      return;
    }
    int status = HttpStatusOf(result.status.code());
    std::string message = PublicMessage(result.status);
    if (result.failed_event >= 0) {
      message += ": event " + std::to_string(result.failed_event) +
                 " could not be applied; nothing of this request was applied";
    }
    HttpResponse r = Json(status, ErrorBody(status, message));
    r.retry_after_seconds = result.retry_after_seconds;
    respond(std::move(r));
  });
}

void Endpoints::SubmitExposures(const ProjectConfig& project, const std::string& user_id,
                                const std::string& device_id,
                                const std::vector<read::ServedRecommendation>& recommendations) {
  // The batch an SDK would send, written as text (no DOM: this runs once per served read).
  std::string body = R"({"api_key":)";
  AppendJsonString(&body, project.api_key);
  // The ids come from the store: a user ingested with a smaller min_id_length is still one.
  body += R"(,"options":{"min_id_length":1},"events":[)";
  for (size_t i = 0; i < recommendations.size(); ++i) {
    const read::ServedRecommendation& r = recommendations[i];
    body += i == 0 ? "{" : ",{";
    body += user_id.empty() ? R"("device_id":)" : R"("user_id":)";
    AppendJsonString(&body, user_id.empty() ? device_id : user_id);
    body += R"(,"event_type":)";
    AppendJsonString(&body, compute::kExposureEventType);
    body += R"(,"event_properties":{"rec_id":)";
    AppendJsonString(&body, r.rec_id);
    body += r.is_control ? R"(,"is_control":true)" : R"(,"is_control":false)";
    body += R"(,"recommendation_type":)";
    AppendJsonString(&body, r.type);
    body += R"(,"items":)";
    AppendJsonStringArray(&body, r.items);
    body += "}}";
  }
  body += "]}";
  // Through the same parser and writer as an SDK's batch: the exposure is an event like
  // any other (computations and cohorts count it). The read does not wait for it.
  ParsedBatch batch;
  IngestRejection rejection;
  if (!ParseEventBatch(body, clock_.NowMs(), &batch, &rejection)) {
    LogError("recommendations: an exposure event of project " + project.id +
             " does not parse: " + rejection.error);
    return;
  }
  std::string project_id = project.id;
  ingest::IngestBatch exposures{project.id, std::move(batch.events), 0};
  exposures.internal = true;  // never throttled: the user did not send it
  ingestor_.Submit(std::move(exposures), [project_id](const ingest::IngestResult& result) {
    if (!result.status.ok()) {
      LogWarn("recommendations: exposure events of project " + project_id +
              " not recorded: " + result.status.ToString());
    }
  });
}

HttpResponse Endpoints::Health() const {
  Status s = store_.Health();
  if (s.ok()) return {200, kText, "ok\n"};
  LogWarn("/healthz: " + s.ToString());
  return {503, kText, "unavailable: the store cannot write\n"};
}

HttpResponse Endpoints::OpenApi() { return {200, "application/json", std::string(OpenApiJson())}; }

HttpResponse Endpoints::MetricsText() const {
  return {200, "text/plain; version=0.0.4; charset=utf-8", metrics_.RenderPrometheus()};
}

namespace internal {
void TrimReadBuffer(std::string* buffer, size_t keep_bytes) {
  if (buffer->capacity() > keep_bytes) {
    std::string().swap(*buffer);
  } else {
    buffer->clear();
  }
}
}  // namespace internal

}  // namespace profiled::api
