// Endpoints: what each route does, from a decoded request to a response, with no sockets.
//
// The server layer routes, enforces transport limits and decodes gzip; these functions
// authenticate, parse, call the domain (store reads, the Ingestor) and serialize. Safe to
// call from every I/O thread at once: the only state is read-only after construction, but
// for the projects and keys (api/access.h), a snapshot SetAccess replaces atomically while
// requests are served; each request keeps the snapshot it started with until it is answered.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "api/access.h"
#include "api/profile_wire.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/metrics.h"
#include "ingest/definitions.h"
#include "ingest/ingestor.h"
#include "ingest/rec_trainer.h"
#include "read/profile_reader.h"
#include "store/store.h"

namespace profiled::read {
class StatsSampler;
}  // namespace profiled::read

namespace profiled::api {

class CohortDownloads;
class WorkerPool;

struct HttpRequest {
  std::string_view method;         // "GET", "POST", ...
  std::string_view path;           // without the query
  std::string_view query;          // after '?', undecoded
  std::string_view authorization;  // Authorization header
  std::string_view content_type;   // Content-Type header
  std::string_view body;           // decoded (gunzipped) body
  size_t wire_body_size = 0;       // body bytes as received
};

struct HttpResponse {
  int status = 200;
  const char* content_type = "application/json";  // static string
  std::string body;
  int retry_after_seconds = 0;  // > 0 adds a Retry-After header
  // Work the client need not wait for (a profile read's exposure events): the server runs it
  // on the connection's thread once the response has been written (or failed to be); empty =
  // none.
  std::function<void()> after_send = nullptr;
  // A profile read that served recommendations: /metrics times it apart, under the route
  // "/v1/userprofile?get_recs", so what recommendations add to a read can be watched.
  bool served_recommendations = false;
  // More header lines, each "\r\nName: value", written after the standard ones (the console's
  // caching and security headers). Static data: the view must outlive the response.
  std::string_view extra_headers = {};
  // A 405's Allow header: the methods the path takes (static data). Empty: "GET, POST,
  // OPTIONS", what the ingestion paths take together.
  std::string_view allow = {};
};

// `r` with the methods its path allows (for a 405).
inline HttpResponse Allowing(HttpResponse r, std::string_view allow) {
  r.allow = allow;
  return r;
}

class Endpoints {
 public:
  using Respond = std::function<void(HttpResponse)>;

  // Borrows everything but `config`, whose projects and keys it copies (SetAccess); all must
  // outlive this object. Without a registry the admin and cohort endpoints answer 404.
  Endpoints(const Config& config, store::Store& store, ingest::Ingestor& ingestor, Metrics& metrics,
            const Clock& clock, const read::ProfileReader& reader,
            ingest::DefinitionRegistry* registry = nullptr);
  ~Endpoints();

  // Serves the projects, keys and admin token of `access` from the next request on (a
  // configuration reload); requests already started finish with the snapshot they took.
  // Any thread. REQUIRES: not null.
  void SetAccess(std::shared_ptr<const Access> access) { access_.store(std::move(access)); }
  // SetAccess with a snapshot of `config`'s projects, keys and admin token whose read limits go
  // on from the current snapshot's counts (a configuration reload). One thread at a time.
  void SetConfig(const Config& config);

  // Ends the background work (cohort downloads). Call before the store closes.
  void Stop();
  // Asks the scans on the background workers (a console lookup or report, docs/API.md
  // "Console API") to end at their next log entry, answering 503, and those still queued to
  // do the same when they start. Call before the server stops taking and answering requests;
  // Stop still follows.
  void BeginStop();
  // Serves PUT|GET /admin/v1/testing/clock, which moves *clock (config
  // testing.clock_control). Call before serving.
  void EnableClockControl(OffsetClock* clock) { clock_control_ = clock; }
  // Serves the recommendations kind's training status and POST .../train, and appends an
  // exposure event for every recommendation a profile read serves. Call before serving.
  void EnableRecommendations(ingest::RecTrainer* trainer) { trainer_ = trainer; }
  // Serves GET /admin/v1/stats from `stats` (borrowed; it must outlive this object). Without,
  // that path answers 404. Call before serving.
  void EnableConsoleStats(const read::StatsSampler* stats) { stats_ = stats; }

  // GET /v1/userprofile
  HttpResponse Profile(const HttpRequest& request);
  // Whether the server should call ProfileAsync rather than Profile: on a store across a
  // network (Store::Shared()) a read waits for round trips, which must not block an I/O thread.
  bool ProfileOffThread() const { return read_pool_ != nullptr; }
  // Profile without blocking the calling I/O thread; `respond` is called once. With `reads`
  // (that thread's NewAsyncReads) the read's store reads (the identity, unless the user_id's
  // amplitude_id is cached, then the user's records) are made on the thread's own event loop
  // (docs/SCALING.md, "Reads"); without, and for any read that way fails, Profile runs on a
  // pool of storage.redis_read_threads threads (0: 4 per I/O thread). REQUIRES: ProfileOffThread();
  // `request` lives until `respond` is called; `reads` belongs to the calling thread's loop.
  void ProfileAsync(const HttpRequest& request, const Respond& respond,
                    store::AsyncReads* reads = nullptr);
  // The store's reads for an I/O thread's loop, or null when it has none (store::Store).
  std::unique_ptr<store::AsyncReads> NewAsyncReads(boost::asio::io_context& loop);

  // POST /2/httpapi and /batch. `respond` runs exactly once, possibly on another thread
  // (the ingest writer) once the batch is durable.
  void TrackEvents(const HttpRequest& request, const Respond& respond);

  // GET or POST /identify, and /groupidentify (the same form; request.path tells them apart).
  void Identify(const HttpRequest& request, const Respond& respond);

  // POST /: amplitude-js's legacy v1 upload (a form with client, e, v, upload_time and
  // checksum; docs/API.md "Legacy v1 upload"). 200 `success` (text) once durable. `respond`
  // runs exactly once, possibly on an ingest thread (the writer or its commit thread).
  void LegacyUpload(const HttpRequest& request, const Respond& respond);

  // GET /config/{api_key}: the remote configuration @amplitude/analytics-browser fetches on
  // init, an empty one (nothing overrides the page's own options) with the SDK's diagnostics
  // off; 401 for an unknown api_key (docs/API.md "Browser SDKs").
  HttpResponse RemoteConfig(const HttpRequest& request) const;

  // /admin/v1/projects/{project}/{kind}[/{id}] (docs/API.md, "Definitions"): PUT, GET,
  // DELETE of one definition, GET of a kind's list. `respond` runs exactly once, possibly on
  // the ingest writer thread.
  void Admin(const HttpRequest& request, const Respond& respond);
  // Amplitude's cohort API: /api/3/cohorts (list), /api/3/cohorts/upload,
  // /api/3/cohorts/membership, /api/5/cohorts/request/... (member download).
  void Cohorts(const HttpRequest& request, const Respond& respond);
  // Amplitude's User Privacy API (docs/API.md, "Privacy deletion"): POST and GET
  // /api/2/deletions/users, DELETE /api/2/deletions/users/{amplitude_id}/{day}.
  void Deletions(const HttpRequest& request, const Respond& respond);

  // GET /healthz: 200 "ok" while the store can take writes, else 503 with a short reason
  // (the detail goes to the log). May block while the store tries to recover.
  HttpResponse Health() const;
  // GET /metrics.
  HttpResponse MetricsText() const;
  // GET /openapi.json: the OpenAPI document of every endpoint (openapi.h).
  static HttpResponse OpenApi();

 private:
  // A profile read around its store read.
  struct ProfileCall {
    std::shared_ptr<const Access> access;  // keeps `project` alive
    const ProjectConfig* project = nullptr;
    ProfileQuery query;
    read::ReadOptions options;
  };
  // Checks the key, takes a token of the project's read limit when `count_read` and it has one,
  // and parses the query into *call; false with *refusal (401, 429, 400) otherwise.
  bool StartProfile(const HttpRequest& request, bool count_read, ProfileCall* call,
                    HttpResponse* refusal) const;
  // Profile; `count_read` false for a read ProfileAsync started (and counted) already.
  HttpResponse ReadProfile(const HttpRequest& request, bool count_read);
  // The response to the read's outcome (`user` is trimmed for reuse).
  HttpResponse EndProfile(const ProfileCall& call, Status s, read::UserData& user);
  struct LoopRead;
  void ReadRecordsOnLoop(const std::shared_ptr<LoopRead>& read);
  void ReadOnThread(const std::shared_ptr<LoopRead>& read);
  // The console's admin paths (docs/API.md, "Console API"; console_api.cc): GET
  // /admin/v1/projects, /admin/v1/stats and /admin/v1/projects/{p}/users. Answers through
  // `respond` and returns true when `s` (the path's segments) is one of them; false (nothing
  // answered) otherwise. REQUIRES: the admin token was checked.
  bool Console(const HttpRequest& request, const Access& access,
               const std::vector<std::string_view>& s, const Respond& respond);
  // GET /api/3/cohorts for `project` (a scan of its users: run on the downloads worker).
  HttpResponse ListCohorts(const std::string& project) const;
  // Ingests `events` and answers: with `text_success` 200 `success` as plain text (/identify
  // and the v1 upload), else the JSON success body.
  void Submit(const ProjectConfig& project, std::vector<ingest::Event> events,
              const HttpRequest& request, bool text_success, const Respond& respond);
  // Appends one exposure event (compute::kExposureEventType: event_properties rec_id,
  // is_control, recommendation_type, items) per recommendation served to the user
  // (`user_id`, or `device_id` when it has none), without waiting for it to be durable; a
  // failure is logged.
  void SubmitExposures(const ProjectConfig& project, const std::string& user_id,
                       const std::string& device_id,
                       const std::vector<read::ServedRecommendation>& recommendations);

  store::Store& store_;
  ingest::Ingestor& ingestor_;
  Metrics& metrics_;
  const Clock& clock_;
  // Read once per request (an atomic load, no lock of ours); replaced by SetAccess.
  std::atomic<std::shared_ptr<const Access>> access_;
  const read::ProfileReader& reader_;
  ingest::DefinitionRegistry* registry_;
  std::unique_ptr<CohortDownloads> downloads_;  // with a registry: the cohort API, exports
  // With a registry: the console's log scans (user lookups, recommendation reports) alone.
  std::unique_ptr<CohortDownloads> console_worker_;
  OffsetClock* clock_control_ = nullptr;
  ingest::RecTrainer* trainer_ = nullptr;
  const read::StatsSampler* stats_ = nullptr;
  std::unique_ptr<WorkerPool> read_pool_;  // on a shared store
};

// Applies the definitions of a definitions file ({"computations":[...],"cohorts":[...]},
// each with its id) to `project` through the writer, waiting for each; a definition whose
// stored latest version is the same is left alone. InvalidArgument naming the file and the
// definition when one does not parse or is refused.
Status ApplyDefinitionsFile(const std::string& project, const std::string& path,
                            ingest::Ingestor& ingestor, const ingest::DefinitionRegistry& registry);

// Whether a definitions file reads and every definition in it parses, applying nothing
// (a configuration reload checks every file before it applies any). The errors of
// ApplyDefinitionsFile but those the registry finds (an unknown reference, a cycle).
Status CheckDefinitionsFile(const std::string& path);

// Rebuilds a stored definition from its source JSON (the registry's DefinitionParser).
Status ParseStoredDefinition(ingest::DefinitionKind kind, std::string_view id,
                             std::string_view source, ingest::Definition* out);

// The source stored for a computation or cohort PUT under `id` (a recommendation's parser
// writes its own): the body as compact JSON, with the path's id in it. ParseStoredDefinition
// reads it back as the same definition. REQUIRES: the body parsed as a definition of `kind`
// stored under `id`.
std::string NormalizedSource(std::string_view body, ingest::DefinitionKind kind,
                             const std::string& id);

namespace internal {
// Per-thread read buffers above this capacity are released after the read, so one huge
// profile does not stay pinned in every I/O thread.
inline constexpr size_t kKeptReadBufferBytes = size_t{64} << 10;
// Clears *buffer, releasing its storage when its capacity is above keep_bytes.
void TrimReadBuffer(std::string* buffer, size_t keep_bytes);
}  // namespace internal

}  // namespace profiled::api
