#include "ingest/ingestor.h"

#include <algorithm>

#include "core/log.h"
#include "core/value_text.h"
#include "ingest/builtins.h"
#include "ingest/identity.h"
#include "ingest/property_ops.h"
#include "store/keys.h"

namespace profiled::ingest {

namespace {
constexpr int64_t kDayMs = 86400000;
constexpr int64_t kRetentionEveryMs = 3600000;
// What a refused batch is told: one group commit (an fsync) usually frees the queue.
constexpr int kQueueFullRetryAfterSeconds = 1;

size_t QueuedBytes(const IngestBatch& batch) {
  size_t bytes = 0;
  for (const Event& e : batch.events) bytes += e.json.size();
  return std::max(bytes, batch.request_bytes);
}
}  // namespace

IngestorOptions IngestorOptionsFromConfig(const Config& config) {
  IngestorOptions o;
  o.sync = config.storage.durability == Durability::kFsync;
  o.dedup_window_days = config.ingest.dedup_window_days;
  o.event_retention_days = config.storage.event_retention_days;
  o.throttle_events_per_second = config.ingest.throttle_events_per_second;
  o.throttle_window_seconds = config.ingest.throttle_window_seconds;
  o.max_queued_events = static_cast<size_t>(config.ingest.max_queued_events);
  o.max_queued_bytes = static_cast<size_t>(config.ingest.max_queued_mb) << 20;
  for (const auto& p : config.projects) o.projects.push_back(p.id);
  return o;
}

Ingestor::Ingestor(store::Store& store, IngestorOptions options, const Clock& clock,
                   Metrics* metrics, DefinitionRegistry* registry)
    : store_(store),
      options_(std::move(options)),
      clock_(clock),
      metrics_(metrics),
      registry_(registry),
      working_(store),
      throttle_(options_.throttle_events_per_second, options_.throttle_window_seconds, clock) {}

Ingestor::~Ingestor() { Stop(); }

void Ingestor::Start() {
  writer_ = std::thread([this] { Run(); });
}

void Ingestor::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

void Ingestor::Submit(IngestBatch batch, Callback done) {
  size_t events = batch.events.size();
  size_t bytes = QueuedBytes(batch);
  IngestResult r;
  {
    std::lock_guard<std::mutex> lock(mu_);
    bool full = !queue_.empty() && (queued_events_ + events > options_.max_queued_events ||
                                    queued_bytes_ + bytes > options_.max_queued_bytes);
    if (!stopping_ && !full) {
      queued_events_ += events;
      queued_bytes_ += bytes;
      queue_.push_back(Pending{std::move(batch), std::move(done), bytes});
      cv_.notify_one();
      return;
    }
    if (stopping_) {
      r.status = Status::Unavailable("server is shutting down");
    } else {
      r.status = Status::Unavailable("the ingest queue is full; retry later");
      r.retry_after_seconds = kQueueFullRetryAfterSeconds;
    }
  }
  done(std::move(r));
}

void Ingestor::SubmitControl(std::function<Status()> control, StatusCallback done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      Pending p;
      p.control = std::move(control);
      p.control_done = std::move(done);
      queue_.push_back(std::move(p));
      cv_.notify_one();
      return;
    }
  }
  done(Status::Unavailable("server is shutting down"));
}

void Ingestor::PutDefinition(std::string project, Definition definition, StatusCallback done) {
  SubmitControl(
      [this, project = std::move(project), d = std::move(definition)]() mutable {
        uint64_t next_seq = 0;
        PROFILED_RETURN_IF_ERROR(working_.NextEventSeq(&next_seq));
        return registry_->Put(project, std::move(d), next_seq);
      },
      std::move(done));
}

void Ingestor::DeleteDefinition(std::string project, DefinitionKind kind, std::string id,
                                StatusCallback done) {
  SubmitControl(
      [this, project = std::move(project), kind, id = std::move(id)] {
        return registry_->Delete(project, kind, id);
      },
      std::move(done));
}

void Ingestor::Run() {
  std::vector<Pending> group;
  bool backfilling = registry_ != nullptr && registry_->NextBackfill().has_value();
  for (;;) {
    Pending control;
    bool stopping = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      // While a backfill is pending, the writer runs a chunk of it whenever the queue is
      // empty, so ingestion goes on at full speed and the backfill takes the idle time.
      cv_.wait_for(lock, backfilling ? std::chrono::seconds(0) : std::chrono::seconds(10),
                   [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty() && stopping_) break;
      stopping = stopping_;
      size_t events = 0;
      while (!queue_.empty() && !queue_.front().control &&
             (group.empty() || events < options_.max_group_events)) {
        events += queue_.front().batch.events.size();
        queued_events_ -= queue_.front().batch.events.size();
        queued_bytes_ -= queue_.front().bytes;
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      if (group.empty() && !queue_.empty()) {
        control = std::move(queue_.front());
        queue_.pop_front();
      }
    }
    if (!group.empty()) ProcessGroup(group);
    group.clear();
    if (control.control) {
      Status s = control.control();
      control.control_done(std::move(s));
      backfilling = true;
    }
    // A backfill cut short by a stop resumes from its durable cursor at the next start.
    if (backfilling && !stopping) backfilling = BackfillStep();
    int64_t now = clock_.NowMs();
    if (now - last_retention_ms_ >= kRetentionEveryMs) {
      last_retention_ms_ = now;
      Status s = EnforceRetention();
      if (!s.ok()) LogError("event log retention failed: " + s.ToString());
    }
  }
}

namespace {
// A failure of the store itself: no write of the group could succeed.
bool IsStoreFailure(const Status& s) {
  return s.code() == ErrorCode::kIoError || s.code() == ErrorCode::kUnavailable;
}
}  // namespace

Status Ingestor::ApplyGroup(std::vector<Pending>& group, int64_t now,
                            std::vector<IngestResult>* results) {
  for (size_t i = 0; i < group.size(); ++i) {
    IngestResult& r = (*results)[i];
    if (!r.status.ok()) continue;  // throttled
    const IngestBatch& batch = group[i].batch;
    working_.BeginBatch();
    for (size_t j = 0; j < batch.events.size(); ++j) {
      bool duplicate = false;
      Status s = ApplyEvent(batch.project, batch.events[j], now, &duplicate);
      if (IsStoreFailure(s)) return s;
      if (!s.ok()) {
        // Undo this batch alone; the rest of the group goes on.
        working_.RollbackBatch();
        LogError("ingest: project " + batch.project + ": refused a batch at event " +
                 std::to_string(j) + ": " + s.ToString());
        r.status = std::move(s);
        r.failed_event = static_cast<int>(j);
        break;
      }
      r.deduplicated += duplicate ? 1 : 0;
    }
    if (r.status.ok()) r.accepted = batch.events.size();
  }
  return Status::Ok();
}

void Ingestor::ProcessGroup(std::vector<Pending>& group) {
  int64_t now = clock_.NowMs();
  std::vector<IngestResult> results(group.size());
  if (throttle_.enabled()) {
    for (size_t i = 0; i < group.size(); ++i) {
      ThrottleReport report = throttle_.Admit(group[i].batch.project, group[i].batch.events);
      if (report.any()) {
        results[i].status = Status::Throttled("Too many requests for some devices and users");
        results[i].throttle = std::move(report);
      }
    }
  }
  Status commit = ApplyGroup(group, now, &results);
  if (commit.ok()) {
    store::WriteSet writes;
    working_.Flush(&writes);
    commit = store_.Commit(writes, options_.sync);
  }
  working_.Finish(commit.ok());
  if (!commit.ok()) LogError("ingest commit failed: " + commit.ToString());

  for (size_t i = 0; i < group.size(); ++i) {
    IngestResult& r = results[i];
    // A failed group applies nothing: every batch not already refused gets the error.
    if (!commit.ok() && r.status.ok()) {
      r.status = Status::Unavailable("the store could not persist the batch; retry");
    }
    if (!r.status.ok()) {
      r.accepted = 0;
      r.deduplicated = 0;
    }
    if (metrics_ != nullptr) {
      if (r.status.ok()) {
        metrics_->AddEventsIngested(r.accepted - r.deduplicated);
        metrics_->AddEventsDeduplicated(r.deduplicated);
      } else if (r.status.code() == ErrorCode::kThrottled) {
        metrics_->AddEventsThrottled(group[i].batch.events.size());
      } else if (r.failed_event >= 0) {
        metrics_->AddEventsRejected(group[i].batch.events.size());
      }
    }
    group[i].done(std::move(r));
  }
}

Status Ingestor::ApplyEvent(const std::string& project, const Event& e, int64_t now,
                            bool* duplicate) {
  std::string scope;
  if (!e.insert_id.empty()) {
    // Amplitude de-duplicates an insert_id per device; events without one per user.
    scope = e.device_id.empty() ? "u" + e.user_id : "d" + e.device_id;
    bool seen = false;
    PROFILED_RETURN_IF_ERROR(working_.SeenInsertId(
        project, scope, e.insert_id, now - options_.dedup_window_days * kDayMs, &seen));
    if (seen) {
      *duplicate = true;
      return Status::Ok();
    }
  }
  uint64_t amplitude_id = 0;
  UserState* user = nullptr;
  PROFILED_RETURN_IF_ERROR(
      ResolveIdentity(working_, project, e.user_id, e.device_id, &amplitude_id, &user));
  Profile* profile = &user->profile;
  if (!e.device_id.empty()) profile->device_id = e.device_id;
  ApplyBuiltins(e.builtins, &profile->builtins);
  if (e.origin == EventOrigin::kTrack) RecordActivity(e.time_ms, &profile->builtins);
  if (!e.skip_user_properties && !e.property_ops.empty()) {
    working_.SaveForUndo(profile, e.property_ops);
    size_t growth = GrowthBound(e.property_ops);
    profile->properties_size_bound += growth;
    ApplyPropertyOps(e.property_ops, &profile->properties);
    // The bound only grows; measure exactly when it passes the limit. Events that can
    // only remove are always applied, so an oversized profile can still shrink.
    if (growth > 0 && profile->properties_size_bound > kMaxPropertiesBytes) {
      size_t exact = ObjectText(profile->properties).size();
      profile->properties_size_bound = exact;
      if (exact > kMaxPropertiesBytes) {
        return Status::InvalidArgument("this event would grow the user's properties to " +
                                       std::to_string(exact) +
                                       " bytes of JSON, over the limit of " +
                                       std::to_string(kMaxPropertiesBytes) + "; unset some first");
      }
    }
  }
  if (e.origin != EventOrigin::kIdentifyApi) {
    PROFILED_RETURN_IF_ERROR(working_.AppendEvent(
        project, now, store::EventRecord{amplitude_id, e.time_ms, e.event_type, e.json}));
  }
  if (!scope.empty()) working_.RememberInsertId(project, scope, e.insert_id, now);
  return Status::Ok();
}

Status Ingestor::EnforceRetention() {
  int64_t cutoff = clock_.NowMs() - static_cast<int64_t>(options_.event_retention_days) * kDayMs;
  for (const auto& project : options_.projects) {
    PROFILED_RETURN_IF_ERROR(store_.DeleteRange(store::Table::kEvents,
                                                store::EventKeyLowerBound(project, 0),
                                                store::EventKeyLowerBound(project, cutoff)));
  }
  return Status::Ok();
}

}  // namespace profiled::ingest
