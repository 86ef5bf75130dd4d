#include "ingest/ingestor.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <random>

#include "core/coding.h"
#include "core/log.h"
#include "core/value_text.h"
#include "ingest/builtins.h"
#include "ingest/group_membership.h"
#include "ingest/identity.h"
#include "ingest/logged_event.h"
#include "ingest/property_ops.h"
#include "store/keys.h"

namespace profiled::ingest {

namespace {
constexpr int64_t kDayMs = 86400000;
constexpr int64_t kRetentionEveryMs = 3600000;
// Under sustained ingestion, a pending backfill still gets one chunk this often.
constexpr int64_t kBackfillUnderLoadEveryMs = 100;
// The most users one privacy deletion job holds; a request that would pass it starts a new job.
constexpr size_t kMaxDeletionJobEntries = 1000;
// What a refused batch is told: one group commit (an fsync) usually frees the queue.
constexpr int kQueueFullRetryAfterSeconds = 1;
// What a batch refused by a failing store is told. A full or failing disk needs someone to
// act, and the store probes it on every later write anyway; a shared store's writers that
// gave up on each other's locks (Aborted) are usually done in a moment.
constexpr int kDiskFailureRetryAfterSeconds = 5;
constexpr int kStoreFailureRetryAfterSeconds = 1;

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
  for (const auto& p : config.projects) {
    if (p.events_per_second > 0) o.project_events_per_second[p.id] = p.events_per_second;
  }
  o.max_queued_events = static_cast<size_t>(config.ingest.max_queued_events);
  o.max_queued_bytes = static_cast<size_t>(config.ingest.max_queued_mb) << 20;
  o.backfill_chunk_events = static_cast<size_t>(config.testing.backfill_chunk_events);
  o.backfill_chunk_delay_ms = config.testing.backfill_chunk_delay_ms;
  o.deletion_staging_ms = int64_t{config.privacy.staging_minutes} * 60000;
  o.deletion_chunk_events = static_cast<size_t>(config.testing.deletion_chunk_events);
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
      working_(store, options_.writer_cache_bytes),
      throttle_(options_.throttle_events_per_second, options_.throttle_window_seconds, clock),
      project_throttle_(clock),
      shared_(store.Shared()),
      commits_(store),
      max_queued_events_(options_.max_queued_events),
      max_queued_bytes_(options_.max_queued_bytes),
      event_retention_days_(options_.event_retention_days),
      retention_projects_(options_.projects) {
  project_throttle_.SetLimits(options_.project_events_per_second, options_.throttle_window_seconds);
}

void Ingestor::SetLimits(const IngestorOptions& options) {
  std::lock_guard<std::mutex> lock(mu_);
  max_queued_events_ = options.max_queued_events;
  max_queued_bytes_ = options.max_queued_bytes;
  event_retention_days_ = options.event_retention_days;
  new_throttle_.emplace(options.throttle_events_per_second, options.throttle_window_seconds);
  new_project_rates_.emplace(options.project_events_per_second);
}

void Ingestor::AddProjects(std::vector<std::string> projects, StatusCallback done) {
  SubmitControl(
      [this, projects = std::move(projects)] {
        if (registry_ != nullptr) PROFILED_RETURN_IF_ERROR(registry_->Load(projects));
        std::lock_guard<std::mutex> lock(mu_);
        for (const std::string& p : projects) {
          if (std::find(retention_projects_.begin(), retention_projects_.end(), p) ==
              retention_projects_.end()) {
            retention_projects_.push_back(p);
          }
        }
        return Status::Ok();
      },
      std::move(done));
}

Status Ingestor::SyncDefinitions() {
  int64_t now = clock_.NowMs();
  last_sync_ms_ = now;
  Status s = registry_ == nullptr ? Status::Ok() : registry_->SyncAll();
  store_.EndTransaction();
  if (s.ok()) last_sync_ok_ms_ = now;
  last_sync_failed_ = !s.ok();
  return s;
}

Status Ingestor::SyncForChange(const std::string& project) {
  if (!shared_ || registry_ == nullptr) return Status::Ok();
  return registry_->Sync(project, nullptr);
}

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
    // A client's batch is measured against the other clients' batches only: internal ones
    // wait in the queue by design (up to internal_delay_ms) and must not refuse it, nor take
    // the place of an oversized batch that an empty queue would take. Internal batches are
    // measured against everything queued, so the queue stays within twice the bounds.
    const bool internal = batch.internal;
    const bool empty = internal ? queue_.empty() : queue_.size() == internal_batches_;
    const size_t held_events = internal ? queued_events_ : queued_events_ - internal_events_;
    const size_t held_bytes = internal ? queued_bytes_ : queued_bytes_ - internal_bytes_;
    bool full = !empty && (held_events + events > max_queued_events_ ||
                           held_bytes + bytes > max_queued_bytes_);
    if (!stopping_ && !full) {
      queued_events_ += events;
      queued_bytes_ += bytes;
      const bool was_empty = queue_.empty();
      Pending p;
      p.batch = std::move(batch);
      p.done = std::move(done);
      p.bytes = bytes;
      if (internal) {
        p.queued_at = std::chrono::steady_clock::now();
        ++internal_batches_;
        internal_events_ += events;
        internal_bytes_ += bytes;
      }
      queue_.push_back(std::move(p));
      // An internal batch wakes the writer only to start timing its wait (the queue was
      // empty) or once the internal batches are enough for a group.
      if (!internal || was_empty || internal_events_ >= options_.internal_group_events) {
        cv_.notify_one();
      }
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
        PROFILED_RETURN_IF_ERROR(SyncForChange(project));
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
        PROFILED_RETURN_IF_ERROR(SyncForChange(project));
        DefinitionInfo info;
        bool is_static = kind == DefinitionKind::kCohort &&
                         registry_->Get(project, kind, id, &info).ok() && info.is_static;
        PROFILED_RETURN_IF_ERROR(registry_->Delete(project, kind, id));
        if (!is_static) return Status::Ok();
        // The members of a deleted static cohort leave it (their records and the index). A
        // failure here leaves stale entries, which reads ignore and a new upload clears.
        working_.KeepProfiles();
        Status s = ClearStaticMembers(project, id);
        store::WriteSet writes;
        if (s.ok()) {
          working_.Flush(&writes);
          s = store_.Commit(writes, true);
        }
        working_.Finish(s.ok());
        if (!s.ok()) LogError("deleting static cohort " + id + ": " + s.ToString());
        return Status::Ok();
      },
      std::move(done));
}

void Ingestor::Run() {
  std::vector<Pending> group;
  for (;;) {
    bool pending = registry_ != nullptr && registry_->NextBackfill().has_value();
    bool backfilling = pending && clock_.NowMs() >= backfill_paused_until_ms_;
    Pending control;
    bool stopping = false;
    bool idle = false;
    bool commit_failed = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      // While a backfill is pending, the writer runs a chunk of it whenever the queue is
      // empty, so ingestion goes on at full speed and the backfill takes the idle time.
      auto timeout_at = std::chrono::steady_clock::now() +
                        (backfilling ? std::chrono::milliseconds(options_.backfill_chunk_delay_ms)
                                     : std::chrono::milliseconds(shared_   ? kSyncEveryMs
                                                                 : pending ? 1000
                                                                           : 10000));
      // A due deletion job takes the idle time like a backfill; a staging one is looked at
      // every second (a clock moved by tests included).
      if (!backfilling && (deletions_waiting_ || next_deletion_check_ms_ == 0)) {
        // With batches queued a step waits its kBackfillUnderLoadEveryMs turn (below), so the
        // wait does too: no spinning while internal batches wait to be due.
        int64_t next_check = next_deletion_check_ms_;
        if (!queue_.empty()) {
          next_check = std::max(next_check, last_deletion_ms_ + kBackfillUnderLoadEveryMs);
        }
        const int64_t wait = std::clamp<int64_t>(next_check - clock_.NowMs(), 0, 1000);
        timeout_at = std::min(timeout_at,
                              std::chrono::steady_clock::now() + std::chrono::milliseconds(wait));
      }
      for (;;) {
        const auto now = std::chrono::steady_clock::now();
        if (QueueDue(now) || now >= timeout_at || commit_failed_) break;
        auto until = timeout_at;
        if (!queue_.empty()) {
          until = std::min(until, queue_.front().queued_at +
                                      std::chrono::milliseconds(options_.internal_delay_ms));
        }
        cv_.wait_until(lock, until);
      }
      if (queue_.empty() && stopping_) break;
      stopping = stopping_;
      // A wake for other work (a deletion's turn) leaves internal batches that are not due
      // waiting for their company.
      const bool due = QueueDue(std::chrono::steady_clock::now());
      size_t events = 0;
      while (due && !queue_.empty() && !queue_.front().control &&
             (group.empty() || events < options_.max_group_events)) {
        events += queue_.front().batch.events.size();
        queued_events_ -= queue_.front().batch.events.size();
        if (queue_.front().batch.internal) {
          --internal_batches_;
          internal_events_ -= queue_.front().batch.events.size();
          internal_bytes_ -= queue_.front().bytes;
        }
        queued_bytes_ -= queue_.front().bytes;
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      if (due && group.empty() && !queue_.empty()) {
        control = std::move(queue_.front());
        queue_.pop_front();
      }
      idle = queue_.empty();
      commit_failed = commit_failed_;
      if (new_throttle_) {
        throttle_.SetLimits(new_throttle_->first, new_throttle_->second);
        if (new_project_rates_)
          project_throttle_.SetLimits(*new_project_rates_, new_throttle_->second);
        new_throttle_.reset();
        new_project_rates_.reset();
      }
    }
    if (group.empty() || commit_failed) {
      // Whatever else the writer does next reads the store; and a failed commit's batches,
      // already answered, give their events back to the project throttle before a retry of
      // them in this group is checked against it.
      AwaitCommit();
    }
    if (!group.empty()) ProcessGroup(group);
    group.clear();
    if (control.control) {
      // A backfill the change started begins at the next turn (after the chunk pause).
      Status s = control.control();
      if (shared_) store_.EndTransaction();  // what a refused change read stays locked else
      control.control_done(std::move(s));
    } else if (backfilling && !stopping &&
               (idle || clock_.NowMs() - last_backfill_ms_ >= kBackfillUnderLoadEveryMs)) {
      // Chunks take the writer's idle time; under sustained load one still runs every
      // kBackfillUnderLoadEveryMs, so a backfill finishes while ingestion goes on. A backfill
      // cut short by a stop resumes from its durable cursor at the next start.
      last_backfill_ms_ = clock_.NowMs();
      AwaitCommit();
      BackfillStep();
    } else if (!stopping && clock_.NowMs() >= next_deletion_check_ms_ &&
               (idle || clock_.NowMs() - last_deletion_ms_ >= kBackfillUnderLoadEveryMs)) {
      // Like a backfill: the idle time, and one step every kBackfillUnderLoadEveryMs under
      // load. A job cut short by a stop or a crash resumes from its stored progress.
      last_deletion_ms_ = clock_.NowMs();
      AwaitCommit();
      DeletionStep();
    }
    int64_t now = clock_.NowMs();
    // After a failed poll the next waits longer: groups fail fast meanwhile (their poll is
    // stale), and the writer does not spend its time on a store that is down.
    if (shared_ && now - last_sync_ms_ >= (last_sync_failed_ ? kSyncRetryMs : kSyncEveryMs)) {
      if (Status s = SyncDefinitions(); !s.ok()) LogError("definitions poll: " + s.ToString());
    }
    if (now - last_retention_ms_ >= kRetentionEveryMs) {
      AwaitCommit();
      last_retention_ms_ = now;
      Status s = EnforceRetention();
      if (!s.ok()) LogError("event log retention failed: " + s.ToString());
    }
  }
  AwaitCommit();  // everything queued before Stop is committed when it returns
}

bool Ingestor::QueueDue(std::chrono::steady_clock::time_point now) const {
  if (stopping_) return true;
  if (queue_.empty()) return false;
  if (queue_.size() > internal_batches_) return true;  // a batch from a client, or a control
  return internal_events_ >= options_.internal_group_events ||
         now >= queue_.front().queued_at + std::chrono::milliseconds(options_.internal_delay_ms);
}

namespace {
// A failure of the store itself: no write of the group could succeed.
bool IsStoreFailure(const Status& s) {
  return s.code() == ErrorCode::kIoError || s.code() == ErrorCode::kUnavailable ||
         s.code() == ErrorCode::kAborted;
}

// How often a group is applied again when a shared store's locks made it give up (Aborted):
// another node held a key for longer than the store waits, or two nodes' groups waited for
// each other. A random pause first, so two such groups do not meet again.
constexpr int kGroupAttempts = 4;
}  // namespace

Status Ingestor::PrefetchGroup(const std::vector<Pending>& group,
                               const std::vector<IngestResult>& results) {
  struct Keys {
    std::vector<std::string_view> user_ids;
    std::vector<std::string_view> device_ids;
    std::vector<std::string> scopes;  // stable storage for the views below
    std::vector<std::pair<size_t, std::string_view>> insert_ids;  // (scope index, insert_id)
    std::vector<std::string> group_keys;  // the groups $groupidentify events change
  };
  std::map<std::string_view, Keys> by_project;
  for (size_t i = 0; i < group.size(); ++i) {
    if (!results[i].status.ok()) continue;  // throttled: never applied
    Keys& k = by_project[group[i].batch.project];
    for (const Event& e : group[i].batch.events) {
      if (!e.group_ops.empty()) {
        for (const GroupRef& ref : e.groups) {
          for (const std::string& name : ref.names) {
            k.group_keys.push_back(store::GroupKey(group[i].batch.project, ref.type, name));
          }
        }
      }
      if (!e.user_id.empty()) k.user_ids.push_back(e.user_id);
      if (!e.device_id.empty()) k.device_ids.push_back(e.device_id);
      if (e.insert_id.empty()) continue;
      k.scopes.push_back(e.device_id.empty() ? "u" + e.user_id : "d" + e.device_id);
      k.insert_ids.emplace_back(k.scopes.size() - 1, e.insert_id);
    }
  }
  for (auto& [project, k] : by_project) {
    std::vector<std::pair<std::string_view, std::string_view>> insert_ids;
    insert_ids.reserve(k.insert_ids.size());
    for (const auto& [scope, id] : k.insert_ids) insert_ids.emplace_back(k.scopes[scope], id);
    PROFILED_RETURN_IF_ERROR(working_.Prefetch(project, k.user_ids, k.device_ids, insert_ids));
    // The groups after the users, all at once (WorkingSet::PrefetchGroups says why).
    PROFILED_RETURN_IF_ERROR(working_.PrefetchGroups(std::move(k.group_keys)));
  }
  return Status::Ok();
}

Status Ingestor::ApplyGroup(std::vector<Pending>& group, int64_t now,
                            std::vector<IngestResult>* results) {
  for (size_t i = 0; i < group.size(); ++i) {
    IngestResult& r = (*results)[i];
    if (!r.status.ok()) continue;  // throttled
    const IngestBatch& batch = group[i].batch;
    working_.BeginBatch();
    for (size_t j = 0; j < batch.events.size(); ++j) {
      bool duplicate = false;
      EventField invalid_field = EventField::kNone;
      Status s = ApplyEvent(batch.project, batch.events[j], now, &duplicate, &invalid_field);
      if (IsStoreFailure(s)) return s;
      if (!s.ok()) {
        // Undo this batch alone; the rest of the group goes on.
        working_.RollbackBatch();
        LogError("ingest: project " + batch.project + ": refused a batch at event " +
                 std::to_string(j) + ": " + s.ToString());
        r.status = std::move(s);
        r.failed_event = static_cast<int>(j);
        r.invalid_field = invalid_field;
        break;
      }
      r.deduplicated += duplicate ? 1 : 0;
    }
    if (r.status.ok()) r.accepted = batch.events.size();
  }
  return Status::Ok();
}

void Ingestor::ProcessGroup(std::vector<Pending>& group) {
  catalogs_.clear();  // definitions may have changed since the last group
  int64_t now = clock_.NowMs();
  std::vector<IngestResult> results(group.size());
  if (throttle_.enabled() || project_throttle_.enabled()) {
    for (size_t i = 0; i < group.size(); ++i) {
      const IngestBatch& batch = group[i].batch;
      if (batch.internal) continue;
      // The project's rate first, then the ids'; a batch either refuses takes nothing from
      // the other.
      ThrottleReport report = project_throttle_.Check(batch.project, batch.events.size());
      if (!report.any()) report = throttle_.Admit(batch.project, batch.events);
      if (report.any()) {
        results[i].status =
            Status::Throttled(report.project ? "Too many requests for this project"
                                             : "Too many requests for some devices and users");
        results[i].throttle = std::move(report);
      } else {
        project_throttle_.Take(batch.project, batch.events.size());
      }
    }
  }
  const std::vector<IngestResult> admitted = results;
  Status commit;
  if (shared_ && now - last_sync_ok_ms_ > kSyncMaxAgeMs) {
    // Another node's new spec goes live at a time this node must know it by. A poll that
    // failed a moment ago is not tried again for every group (the store is down).
    Status s = last_sync_failed_ && now - last_sync_ms_ < kSyncRetryMs
                   ? Status::Unavailable("the last poll failed")
                   : SyncDefinitions();
    if (!s.ok()) {
      commit =
          Status::Unavailable("the definitions could not be read from the store: " + s.message());
    }
  }
  // While a backfill cut by time is pending, it stays kSettleMs behind the clock, so a group
  // must be ready to commit well within that of its ingest time.
  const bool settle = shared_ && registry_ != nullptr && registry_->NextBackfill().has_value();
  for (int attempt = 1; commit.ok() || commit.code() == ErrorCode::kAborted; ++attempt) {
    if (attempt > 1) now = clock_.NowMs();
    commit = shared_ ? PrefetchGroup(group, results) : Status::Ok();
    if (commit.ok()) commit = ApplyGroup(group, now, &results);
    if (commit.ok() && settle && clock_.NowMs() - now > kSettleMs / 2) {
      commit = Status::Aborted("the group took too long to apply");
    }
    if (commit.ok()) {
      store::WriteSet writes;
      working_.Flush(&writes);
      // The commit in flight goes first: this group was applied on top of it. If it failed,
      // this group is applied again, from the store.
      if (!AwaitCommit()) {
        results = admitted;
        continue;
      }
      if (options_.pipeline_commits && working_.CanPipeline()) {
        StartCommit(group, std::move(results), admitted, std::move(writes));
        return;
      }
      commit = store_.Commit(writes, options_.sync);
    }
    if (commit.code() != ErrorCode::kAborted || attempt == kGroupAttempts) break;
    if (metrics_ != nullptr) metrics_->AddCommitRetry();
    AwaitCommit();  // none on a shared store, the only one whose locks abort
    working_.Finish(false);
    results = admitted;
    // Long enough for another node's group that held a key to finish.
    std::this_thread::sleep_for(std::chrono::milliseconds(
        std::uniform_int_distribution<int>(5, 100 * attempt)(retry_random_)));
  }
  if (!commit.ok()) AwaitCommit();  // a group that failed to apply: forgotten after it
  working_.Finish(commit.ok());
  FailUnapplied(commit, &results);
  GiveBackUnapplied(group, results, admitted);
  Deliver(group, std::move(results));
}

void Ingestor::StartCommit(std::vector<Pending>& group, std::vector<IngestResult> results,
                           const std::vector<IngestResult>& admitted, store::WriteSet writes) {
  // What the commit's failure would give back; the batches refused already, now.
  GiveBackUnapplied(group, results, admitted);
  in_flight_admitted_.clear();
  for (size_t i = 0; i < group.size(); ++i) {
    if (results[i].status.ok() && admitted[i].status.ok() && !group[i].batch.internal) {
      in_flight_admitted_.emplace_back(group[i].batch.project, group[i].batch.events.size());
    }
  }
  working_.FinishInFlight();
  auto job = std::make_shared<std::pair<std::vector<Pending>, std::vector<IngestResult>>>(
      std::move(group), std::move(results));
  group.clear();
  commits_.Start(std::move(writes), options_.sync, [this, job](const Status& commit) {
    if (!commit.ok()) {
      // Before the answers go out: the writer then forgets what it kept and gives the
      // throttle back before it takes any retry of them (and an idle writer wakes for it).
      std::lock_guard<std::mutex> lock(mu_);
      commit_failed_ = true;
      cv_.notify_all();
    }
    FailUnapplied(commit, &job->second);
    Deliver(job->first, std::move(job->second));
  });
}

bool Ingestor::AwaitCommit() {
  if (!commits_.InFlight()) return true;
  Status s = commits_.Wait();
  {
    std::lock_guard<std::mutex> lock(mu_);
    commit_failed_ = false;
  }
  if (s.ok()) {
    working_.Landed();
  } else {
    // Its batches got the error; what was kept as committed is not, and neither is what
    // the group applied since (the caller applies it again).
    working_.Finish(false);
    for (const auto& [project, events] : in_flight_admitted_) {
      project_throttle_.GiveBack(project, events);
    }
  }
  in_flight_admitted_.clear();
  return s.ok();
}

void Ingestor::FailUnapplied(const Status& commit, std::vector<IngestResult>* results) {
  if (commit.ok()) return;
  // A failing disk is logged by the store, once until it recovers, not once per group.
  const bool disk_failure = store::IsDiskFailure(commit);
  if (!disk_failure) LogError("ingest commit failed: " + commit.ToString());
  for (IngestResult& r : *results) {
    // A failed group applies nothing: every batch not already refused gets the error.
    if (!r.status.ok()) continue;
    r.status = Status::Unavailable(
        (disk_failure ? commit.message() : std::string("the store could not persist the batch")) +
        "; nothing of this request was applied, retry later");
    r.retry_after_seconds =
        disk_failure ? kDiskFailureRetryAfterSeconds : kStoreFailureRetryAfterSeconds;
  }
}

void Ingestor::GiveBackUnapplied(const std::vector<Pending>& group,
                                 const std::vector<IngestResult>& results,
                                 const std::vector<IngestResult>& admitted) {
  for (size_t i = 0; i < group.size(); ++i) {
    // Admitted by the project's rate but not applied: its retry must not pay again.
    if (!results[i].status.ok() && admitted[i].status.ok() && !group[i].batch.internal) {
      project_throttle_.GiveBack(group[i].batch.project, group[i].batch.events.size());
    }
  }
}

void Ingestor::Deliver(std::vector<Pending>& group, std::vector<IngestResult> results) {
  for (size_t i = 0; i < group.size(); ++i) {
    IngestResult& r = results[i];
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

Status Ingestor::ApplyGroupOps(const std::string& project, const Event& e) {
  if (e.group_ops.empty()) return Status::Ok();
  const size_t growth = GrowthBound(e.group_ops);
  // Only a $clearAll alone may replace a record that does not decode (the way to repair it).
  const bool clear_only = std::all_of(e.group_ops.begin(), e.group_ops.end(), [](const auto& op) {
    return op.kind == PropertyOpKind::kClearAll;
  });
  for (const GroupRef& ref : e.groups) {
    for (const std::string& name : ref.names) {
      GroupState* group = nullptr;
      PROFILED_RETURN_IF_ERROR(working_.GetGroup(project, ref.type, name, clear_only, &group));
      working_.WillEditGroup(group, e.group_ops);
      group->properties_size_bound += growth;
      ApplyPropertyOps(e.group_ops, &group->properties);
      // As for a user's properties (ApplyEvent): exact only once the bound passes the limit.
      if (growth > 0 && group->properties_size_bound > kMaxPropertiesBytes) {
        size_t exact = ObjectText(group->properties).size();
        group->properties_size_bound = exact;
        if (exact > kMaxPropertiesBytes) {
          return Status::InvalidArgument(
              "this event would grow the properties of group " + ref.type + "/" + name + " to " +
              std::to_string(exact) + " bytes of JSON, over the limit of " +
              std::to_string(kMaxPropertiesBytes) + "; unset some first");
        }
      }
    }
  }
  return Status::Ok();
}

Status Ingestor::ApplyEvent(const std::string& project, const Event& e, int64_t now,
                            bool* duplicate, EventField* invalid_field) {
  // Every InvalidArgument of ApplyGroupOps is about a group's properties: its size, or its record
  // not decoding.
  auto group_ops = [&]() {
    Status s = ApplyGroupOps(project, e);
    if (s.code() == ErrorCode::kInvalidArgument) *invalid_field = EventField::kGroupProperties;
    return s;
  };
  // POST /groupidentify: no user, no log, no de-dup (it has no insert_id).
  if (e.origin == EventOrigin::kGroupIdentifyApi) return group_ops();
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
  const compute::ProjectCatalog& catalog = CatalogFor(project);
  PROFILED_RETURN_IF_ERROR(ResolveIdentity(working_, project, e.user_id, e.device_id,
                                           MergeContext{&catalog, now}, &amplitude_id, &user));
  Profile* profile = &user->profile;
  if (!e.device_id.empty()) profile->device_id = e.device_id;
  ApplyBuiltins(e.builtins, &profile->builtins);
  if (e.origin == EventOrigin::kTrack && e.event_type != compute::kExposureEventType) {
    RecordActivity(e.time_ms, &profile->builtins);
  }
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
        *invalid_field = EventField::kUserProperties;
        return Status::InvalidArgument("this event would grow the user's properties to " +
                                       std::to_string(exact) +
                                       " bytes of JSON, over the limit of " +
                                       std::to_string(kMaxPropertiesBytes) + "; unset some first");
      }
    }
  }
  PROFILED_RETURN_IF_ERROR(group_ops());  // $groupidentify
  if (e.event_type == "$identify" && !e.groups.empty()) {
    // setGroup, or `groups` of POST /identify: the user's own memberships.
    bool changed = false;
    std::string damaged;
    Status s = SetGroupMembership(e.groups, &user->groups, &changed, &damaged);
    if (s.code() == ErrorCode::kInvalidArgument) *invalid_field = EventField::kGroups;
    PROFILED_RETURN_IF_ERROR(s);
    if (!damaged.empty()) {
      LogWarn("project " + project + ": amplitude_id " + std::to_string(amplitude_id) +
              ": group memberships: " + damaged);
    }
    // The rest of a user state than its properties is saved whole for a rollback at the
    // batch's first touch of the user (WorkingSet::GetUserState).
    if (changed) user->groups_changed = true;
  }
  if (e.origin == EventOrigin::kTrack && !catalog.specs().empty()) {
    compute::EventFields fields{e.event_type, e.time_ms, &e.event_properties, &e.fields};
    specs_.clear();
    catalog.SpecsFor(e.event_type, &specs_);
    // A spec not yet live is the backfill's for this event (a shared store's new specs).
    std::erase_if(specs_, [now](const compute::SpecEntry* s) { return s->live_from_ms > now; });
    PROFILED_RETURN_IF_ERROR(AddToAggregates(specs_, catalog, fields, now, user));
  }
  if (e.origin != EventOrigin::kIdentifyApi) {
    PROFILED_RETURN_IF_ERROR(working_.AppendEvent(
        project, now, store::EventRecordView{amplitude_id, e.time_ms, e.event_type, e.json}));
  }
  if (!scope.empty()) working_.RememberInsertId(project, scope, e.insert_id, now);
  return Status::Ok();
}

const compute::ProjectCatalog& Ingestor::CatalogFor(const std::string& project) {
  static const compute::ProjectCatalog kNoDefinitions;  // NOLINT(readability-identifier-naming)
  if (registry_ == nullptr) return kNoDefinitions;
  auto it = catalogs_.find(project);
  if (it == catalogs_.end()) it = catalogs_.emplace(project, registry_->Catalog(project)).first;
  return *it->second;
}

Status Ingestor::AddToAggregates(const std::vector<const compute::SpecEntry*>& specs,
                                 const compute::ProjectCatalog& catalog,
                                 const compute::EventFields& event, int64_t now, UserState* user) {
  matched_.clear();
  for (const compute::SpecEntry* spec : specs) {
    if (compute::SpecMatches(spec->spec, event)) matched_.push_back(spec);
  }
  if (matched_.empty()) return Status::Ok();
  if (user->decoded_aggregates) {
    // Decoded by a merge in this group: Flush encodes that form.
    compute::UserAggregates* aggregates = nullptr;
    PROFILED_RETURN_IF_ERROR(MutableAggregates(user, catalog, &aggregates));
    for (const compute::SpecEntry* spec : matched_) {
      aggregates->states[spec->id].Add(spec->spec, event, now);
    }
    return Status::Ok();
  }
  // The usual case: change the encoded record in place, decoding only the matched states.
  bool changed = false;
  PROFILED_RETURN_IF_ERROR(
      aggregates_editor_.AddEvent(catalog, matched_, event, now, &user->aggregates, &changed));
  // An event that changes nothing (e.g. older than every window) rewrites nothing.
  if (changed) user->aggregates_changed = true;
  return Status::Ok();
}

namespace {

uint64_t SeqOfEventKey(std::string_view key) {
  std::string_view tail = key.substr(key.size() - 8);
  uint64_t seq = 0;
  return GetFixed64BE(&tail, &seq) ? seq : 0;
}

}  // namespace

bool Ingestor::BackfillStep() {
  std::optional<BackfillJob> job = registry_->NextBackfill();
  if (!job) return false;
  if (shared_) {
    // The project's version, locked until this chunk commits: chunks of one backfill run one
    // at a time across the nodes, each from the cursor the last one left.
    bool changed = false;
    Status s = registry_->Sync(job->project, &changed);
    if (!s.ok() || changed) {
      store_.EndTransaction();
      if (!s.ok()) LogError("backfill: project " + job->project + ": " + s.ToString());
      return s.ok();
    }
  }
  const std::string& project = job->project;
  std::shared_ptr<const compute::ProjectCatalog> catalog = registry_->Catalog(project);
  std::vector<const compute::SpecEntry*> specs;
  bool reads_properties = false;
  for (uint64_t id : job->spec_ids) {
    if (const compute::SpecEntry* spec = catalog->FindSpec(id)) {
      specs.push_back(spec);
      reads_properties =
          reads_properties || !spec->spec.where.empty() || !spec->spec.property.empty();
    }
  }
  working_.KeepProfiles();  // a chunk changes aggregates only
  std::vector<std::pair<std::string, std::string>> chunk;
  std::string begin = job->cursor.empty() ? store::EventKeyLowerBound(project, 0) : job->cursor;
  if (!job->cursor.empty()) begin.push_back('\0');  // the first key after the cursor
  int64_t now = clock_.NowMs();
  // A time cutoff: the scan stays kSettleMs behind the clock, where no group is still
  // being committed, and the backfill is done once it reached the cutoff that way.
  bool by_time = job->until_seq == kTimeCutoff;
  int64_t scan_until = std::min(job->until_ms, now - kSettleMs);
  std::string end = by_time ? store::EventKeyLowerBound(project, scan_until)
                            : store::PrefixEnd(store::ProjectPrefix(project));
  Status s = begin < end ? store_.Scan(store::Table::kEvents, begin, end,
                                       [&](std::string_view key, std::string_view value) {
                                         chunk.emplace_back(key, value);
                                         return chunk.size() < options_.backfill_chunk_events;
                                       })
                         : Status::Ok();
  bool done =
      chunk.size() < options_.backfill_chunk_events && (!by_time || scan_until == job->until_ms);
  if (s.ok() && chunk.empty() && !done) {
    // Waiting for the clock to pass the cutoff by kSettleMs: nothing to commit yet.
    working_.Finish(false);
    backfill_paused_until_ms_ = now + 250;
    return false;
  }
  for (const auto& [key, value] : chunk) {
    if (!s.ok()) break;
    if (key.size() < 16 || (!by_time && SeqOfEventKey(key) >= job->until_seq)) continue;
    store::EventRecord record;
    if (Status d = store::DecodeEvent(value, &record); !d.ok()) {
      LogError("backfill: project " + project +
               ": a logged event does not decode: " + d.ToString());
      continue;
    }
    LoggedEvent logged;
    bool parsed = false;
    if (record.event_type.empty() || reads_properties) {
      // A version 1 record has its type only in the JSON.
      parsed = ParseLoggedEvent(record, &logged);
      if (!parsed) continue;
    }
    const compute::EventFields fields = FieldsOfLoggedEvent(record, parsed ? &logged : nullptr);
    if (!IsTracked(fields.event_type)) continue;
    if (std::none_of(specs.begin(), specs.end(), [&](const compute::SpecEntry* spec) {
          return compute::MatchesEventType(spec->spec, fields.event_type);
        })) {
      continue;
    }
    uint64_t id = 0;
    UserState* user = nullptr;
    s = working_.ResolveMerged(project, record.amplitude_id, &id);
    if (s.ok()) s = working_.GetUserState(project, id, &user);
    if (s.ok() && user != nullptr) s = AddToAggregates(specs, *catalog, fields, now, user);
    if (s.code() == ErrorCode::kCorruption) {
      LogError("backfill: project " + project + ": user " + std::to_string(id) +
               " skipped: " + s.ToString());
      s = Status::Ok();
    }
  }
  store::WriteSet writes;
  if (s.ok()) {
    registry_->StageBackfill(*job, chunk.empty() ? job->cursor : chunk.back().first, chunk.size(),
                             done, &writes);
    working_.Flush(&writes);
    s = store_.Commit(writes, options_.sync);
  }
  working_.Finish(s.ok());
  registry_->CommitStaged(s.ok());
  if (!s.ok()) {
    // The store failed: try again a little later rather than spin on it.
    LogError("backfill: project " + project + ": " + s.ToString());
    backfill_paused_until_ms_ = now + 1000;
    return false;
  }
  if (metrics_ != nullptr) metrics_->AddBackfilledEvents(chunk.size());
  return true;
}

void Ingestor::ChangeStaticCohort(StaticCohortChange change, StaticCohortCallback done) {
  auto result = std::make_shared<StaticCohortResult>();
  SubmitControl(
      [this, change = std::move(change), result]() mutable {
        Status s = SyncForChange(change.project);
        if (s.ok()) s = ApplyStaticCohortChange(change, result.get());
        working_.Finish(s.ok());
        return s;
      },
      [result, done = std::move(done)](Status s) {
        result->status = std::move(s);
        done(std::move(*result));
      });
}

Status Ingestor::ApplyStaticCohortChange(StaticCohortChange& change, StaticCohortResult* result) {
  // The cohort's definition and its members go in one commit: a failure leaves neither.
  working_.KeepProfiles();
  store::WriteSet writes;
  Status s = StageStaticCohortChange(change, result, &writes);
  if (s.ok()) {
    working_.Flush(&writes);
    s = store_.Commit(writes, true);
  }
  registry_->CommitStaged(s.ok());
  return s;
}

Status Ingestor::StageStaticCohortChange(StaticCohortChange& change, StaticCohortResult* result,
                                         store::WriteSet* writes) {
  const std::string& project = change.project;
  DefinitionInfo info;
  bool exists = !change.cohort_id.empty() &&
                registry_->Get(project, DefinitionKind::kCohort, change.cohort_id, &info).ok();
  if (exists && !info.is_static) {
    return Status::InvalidArgument("cohort " + change.cohort_id +
                                   " is a behavioral cohort; its members are computed");
  }
  if (!exists && !change.create) {
    return Status::InvalidArgument("no static cohort " + change.cohort_id);
  }
  if (change.create && change.cohort_id.empty()) change.cohort_id = NewStaticCohortId(project);
  const std::string& cohort = change.cohort_id;
  result->cohort_id = cohort;

  // Resolve every id first, so that a refused change (unknown ids) changes nothing.
  std::vector<std::vector<uint64_t>> resolved(change.changes.size());
  result->skipped.assign(change.changes.size(), {});
  for (size_t i = 0; i < change.changes.size(); ++i) {
    for (const std::string& id : change.changes[i].ids) {
      std::optional<uint64_t> amplitude_id;
      if (change.changes[i].id_type == CohortIdType::kUserId) {
        PROFILED_RETURN_IF_ERROR(working_.GetUser(project, id, &amplitude_id));
      } else {
        uint64_t n = 0;
        auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), n);
        if (ec == std::errc() && end == id.data() + id.size() && n > 0) {
          // An id from before a merge names the user it merged into.
          PROFILED_RETURN_IF_ERROR(working_.ResolveMerged(project, n, &n));
          UserState* user = nullptr;
          PROFILED_RETURN_IF_ERROR(working_.GetUserState(project, n, &user));
          if (user != nullptr) amplitude_id = n;
        }
      }
      if (amplitude_id) {
        resolved[i].push_back(*amplitude_id);
        ++result->matched;
      } else {
        result->skipped[i].push_back(id);
      }
    }
  }
  if (change.refuse_unknown_ids) {
    for (const auto& skipped : result->skipped) {
      if (skipped.empty()) continue;
      std::string sample;
      for (size_t i = 0; i < skipped.size() && i < 5; ++i) sample += (i ? ", " : "") + skipped[i];
      return Status::InvalidArgument(std::to_string(skipped.size()) + " ids name no known user (" +
                                     sample + "); nothing was changed");
    }
  }
  if (change.create) {
    Definition d;
    d.id = cohort;
    compute::Cohort typed;
    typed.id = cohort;
    typed.name = change.name;
    typed.is_static = true;
    d.typed = std::move(typed);
    d.source = change.source;
    uint64_t next_seq = 0;
    PROFILED_RETURN_IF_ERROR(working_.NextEventSeq(&next_seq));
    PROFILED_RETURN_IF_ERROR(registry_->StagePut(project, std::move(d), next_seq, writes));
    // An upload over an existing static cohort replaces its members; a new one starts empty.
    PROFILED_RETURN_IF_ERROR(ClearStaticMembers(project, cohort));
  }
  for (size_t i = 0; i < change.changes.size(); ++i) {
    for (uint64_t id : resolved[i]) {
      PROFILED_RETURN_IF_ERROR(SetMembership(project, cohort, id, change.changes[i].add));
    }
  }
  return Status::Ok();
}

Status Ingestor::ClearStaticMembers(const std::string& project, const std::string& cohort) {
  std::vector<uint64_t> members;
  std::string prefix = store::StaticMemberPrefix(project, cohort);
  PROFILED_RETURN_IF_ERROR(store_.Scan(store::Table::kMeta, prefix, store::PrefixEnd(prefix),
                                       [&](std::string_view key, std::string_view) {
                                         std::string_view tail = key.substr(prefix.size());
                                         uint64_t id = 0;
                                         if (GetFixed64BE(&tail, &id)) members.push_back(id);
                                         return true;
                                       }));
  for (uint64_t id : members) {
    PROFILED_RETURN_IF_ERROR(SetMembership(project, cohort, id, false));
    // A member index entry whose user is gone is dropped too.
    working_.DeleteRaw(store::Table::kMeta, store::StaticMemberKey(project, cohort, id));
  }
  return Status::Ok();
}

Status Ingestor::SetMembership(const std::string& project, const std::string& cohort,
                               uint64_t amplitude_id, bool member) {
  UserState* user = nullptr;
  PROFILED_RETURN_IF_ERROR(working_.GetUserState(project, amplitude_id, &user));
  if (user == nullptr) return Status::Ok();
  std::vector<std::string> ids;
  PROFILED_RETURN_IF_ERROR(StaticCohortsOf(*user, &ids));
  auto at = std::lower_bound(ids.begin(), ids.end(), cohort);
  bool is_member = at != ids.end() && *at == cohort;
  if (member == is_member) return Status::Ok();
  if (member) {
    ids.insert(at, cohort);
    working_.PutRaw(store::Table::kMeta, store::StaticMemberKey(project, cohort, amplitude_id), "");
  } else {
    ids.erase(at);
    working_.DeleteRaw(store::Table::kMeta, store::StaticMemberKey(project, cohort, amplitude_id));
  }
  SetStaticCohorts(user, ids);
  return Status::Ok();
}

std::string Ingestor::NewStaticCohortId(const std::string& project) const {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device random;
  for (;;) {
    std::string id;
    for (int i = 0; i < 7; ++i) id.push_back(kAlphabet[random() % (sizeof(kAlphabet) - 1)]);
    DefinitionInfo info;
    if (!registry_->Get(project, DefinitionKind::kCohort, id, &info).ok()) return id;
  }
}

void Ingestor::RequestDeletion(DeletionRequest request, DeletionCallback done) {
  auto result = std::make_shared<DeletionResult>();
  SubmitControl(
      [this, request = std::move(request), result] {
        Status s = StageDeletion(request, &result->job);
        working_.Finish(true);  // only reads: nothing of the users changed
        return s;
      },
      [result, done = std::move(done)](Status s) {
        result->status = std::move(s);
        done(std::move(*result));
      });
}

void Ingestor::RemoveStagedDeletion(std::string project, uint64_t amplitude_id, std::string day,
                                    DeletionCallback done) {
  auto result = std::make_shared<DeletionResult>();
  SubmitControl([this, project = std::move(project), amplitude_id, day = std::move(day),
                 result] { return UnstageDeletion(project, amplitude_id, day, &result->job); },
                [result, done = std::move(done)](Status s) {
                  result->status = std::move(s);
                  done(std::move(*result));
                });
}

Status Ingestor::StageDeletion(const DeletionRequest& request, DeletionJob* job) {
  const std::string& project = request.project;
  const int64_t now = clock_.NowMs();
  // Resolve every id first, so that a refused request stages nothing.
  std::vector<uint64_t> ids;
  std::vector<std::string> invalid;
  auto known = [&](uint64_t id, bool* exists) {
    UserState* user = nullptr;
    PROFILED_RETURN_IF_ERROR(working_.GetUserState(project, id, &user));
    *exists = user != nullptr;
    return Status::Ok();
  };
  for (uint64_t requested : request.amplitude_ids) {
    uint64_t id = 0;
    bool exists = false;
    // An id from before a merge names the user it merged into.
    PROFILED_RETURN_IF_ERROR(working_.ResolveMerged(project, requested, &id));
    if (id != 0) PROFILED_RETURN_IF_ERROR(known(id, &exists));
    if (exists) {
      ids.push_back(id);
    } else {
      invalid.push_back(std::to_string(requested));
    }
  }
  for (const std::string& user_id : request.user_ids) {
    std::optional<uint64_t> id;
    bool exists = false;
    PROFILED_RETURN_IF_ERROR(working_.GetUser(project, user_id, &id));
    if (id) PROFILED_RETURN_IF_ERROR(known(*id, &exists));
    if (exists) {
      ids.push_back(*id);
    } else {
      invalid.push_back(user_id);
    }
  }
  if (ids.empty() && !invalid.empty() && request.ignore_invalid_ids) {
    return Status::InvalidArgument("no id names a known user (" + std::to_string(invalid.size()) +
                                   " skipped); nothing was staged");
  }
  if (!invalid.empty() && !request.ignore_invalid_ids) {
    std::string sample;
    for (size_t i = 0; i < invalid.size() && i < 5; ++i) sample += (i ? ", " : "") + invalid[i];
    return Status::InvalidArgument(std::to_string(invalid.size()) + " ids name no known user (" +
                                   sample +
                                   "); nothing was staged (set ignore_invalid_ids to skip them)");
  }
  // The project's newest job that is still staging and not yet due takes the request; else a
  // new job, due after the staging time.
  std::vector<DeletionJob> jobs;
  PROFILED_RETURN_IF_ERROR(ListDeletionJobs(store_, project, &jobs));
  const DeletionJob* open = nullptr;
  for (const DeletionJob& j : jobs) {
    if (j.status == DeletionStatus::kStaging && j.run_at_ms > now) open = &j;
  }
  if (open != nullptr) {
    // Read again through the writer's view: on a shared store that locks it until the commit,
    // and another node may have started it meanwhile (then a new job takes the request).
    std::string value;
    PROFILED_RETURN_IF_ERROR(
        store_.Get(store::Table::kMeta, store::DeletionJobKey(project, open->id), &value));
    uint64_t id = open->id;
    PROFILED_RETURN_IF_ERROR(DecodeDeletionJob(value, job));
    job->id = id;
    if (job->status != DeletionStatus::kStaging || job->run_at_ms <= now ||
        job->entries.size() + ids.size() > kMaxDeletionJobEntries) {
      open = nullptr;  // a full job: the request starts the next one
    }
  }
  if (open == nullptr) {
    *job = DeletionJob();
    std::random_device random;
    job->id = (static_cast<uint64_t>(now) << 16) | (random() & 0xffff);
    job->created_ms = now;
    job->run_at_ms = now + options_.deletion_staging_ms;
  }
  const std::string today = DayOf(now);
  for (uint64_t id : ids) {
    if (std::any_of(job->entries.begin(), job->entries.end(),
                    [id](const DeletionEntry& e) { return e.amplitude_id == id; })) {
      continue;
    }
    job->entries.push_back(DeletionEntry{id, request.requester, today});
  }
  store::WriteSet writes;
  writes.Put(store::Table::kMeta, store::DeletionJobKey(project, job->id), EncodeDeletionJob(*job));
  PROFILED_RETURN_IF_ERROR(store_.Commit(writes, true));
  next_deletion_check_ms_ = 0;
  return Status::Ok();
}

Status Ingestor::UnstageDeletion(const std::string& project, uint64_t amplitude_id,
                                 const std::string& day, DeletionJob* job) {
  std::vector<DeletionJob> jobs;
  PROFILED_RETURN_IF_ERROR(ListDeletionJobs(store_, project, &jobs));
  const DeletionJob* started = nullptr;
  for (const DeletionJob& j : jobs) {
    if (DayOf(j.run_at_ms) != day) continue;
    if (std::none_of(j.entries.begin(), j.entries.end(),
                     [&](const DeletionEntry& e) { return e.amplitude_id == amplitude_id; })) {
      continue;
    }
    if (j.status != DeletionStatus::kStaging) {
      started = &j;
      continue;
    }
    std::string value;
    PROFILED_RETURN_IF_ERROR(
        store_.Get(store::Table::kMeta, store::DeletionJobKey(project, j.id), &value));
    PROFILED_RETURN_IF_ERROR(DecodeDeletionJob(value, job));
    job->id = j.id;
    if (job->status != DeletionStatus::kStaging) {
      // Started on another node since the list was read.
      return Status::InvalidArgument(
          "the deletion job of " + day + " holding amplitude_id " + std::to_string(amplitude_id) +
          " is " + DeletionStatusName(job->status) + "; it can no longer be changed");
    }
    std::erase_if(job->entries,
                  [&](const DeletionEntry& e) { return e.amplitude_id == amplitude_id; });
    store::WriteSet writes;
    writes.Put(store::Table::kMeta, store::DeletionJobKey(project, job->id),
               EncodeDeletionJob(*job));
    return store_.Commit(writes, true);
  }
  if (started != nullptr) {
    return Status::InvalidArgument(
        "the deletion job of " + day + " holding amplitude_id " + std::to_string(amplitude_id) +
        " is " + DeletionStatusName(started->status) + "; it can no longer be changed");
  }
  return Status::NotFound("no deletion job of " + day + " holds amplitude_id " +
                          std::to_string(amplitude_id));
}

bool Ingestor::DeletionStep() {
  const int64_t now = clock_.NowMs();
  std::vector<std::string> projects;
  {
    std::lock_guard<std::mutex> lock(mu_);
    projects = retention_projects_;
  }
  // Without a due job: look again when the next staging job is due, and at least every
  // minute (every second on a shared store, where other nodes stage jobs too).
  int64_t next = now + (shared_ ? 1000 : 60000);
  bool waiting = false;
  for (const std::string& project : projects) {
    std::vector<DeletionJob> jobs;
    Status s = ListDeletionJobs(store_, project, &jobs);
    if (!s.ok()) {
      LogError("privacy deletions: project " + project + ": " + s.ToString());
      next = std::min(next, now + 1000);
      continue;
    }
    for (const DeletionJob& job : jobs) {
      if (job.status == DeletionStatus::kDone) continue;
      waiting = true;
      if (job.run_at_ms > now) {
        next = std::min(next, job.run_at_ms);
        continue;
      }
      s = RunDeletionStep(project, job.id, now);
      if (shared_) store_.EndTransaction();
      deletions_waiting_ = true;
      if (!s.ok()) {
        // The store failed (or another node holds the job): a little later.
        LogError("privacy deletion job " + std::to_string(job.id) + " of project " + project +
                 ": " + s.ToString());
        next_deletion_check_ms_ = now + 1000;
        return false;
      }
      next_deletion_check_ms_ = now;  // the next step at the next turn
      return true;
    }
  }
  deletions_waiting_ = waiting;
  next_deletion_check_ms_ = next;
  return false;
}

Status Ingestor::DeleteIdIfIn(const std::string& key, const std::vector<uint64_t>& ids) {
  std::optional<uint64_t> id;
  PROFILED_RETURN_IF_ERROR(working_.GetIdAt(key, &id));
  if (id && std::find(ids.begin(), ids.end(), *id) != ids.end()) working_.DeleteId(key);
  return Status::Ok();
}

namespace {

// The amplitude_id of an event record without decoding the rest: every version starts with
// u8 version || varint(amplitude_id).
bool EventAmplitudeId(std::string_view record, uint64_t* id) {
  if (record.empty()) return false;
  record.remove_prefix(1);
  return GetVarint64(&record, id);
}

std::string StringMember(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

}  // namespace

Status Ingestor::RunDeletionStep(const std::string& project, uint64_t job_id, int64_t now) {
  const std::string job_key = store::DeletionJobKey(project, job_id);
  // Read through the writer's view: on a shared store the job stays locked until this step
  // commits, so two nodes never run one job's steps at once, and each starts where the last
  // one left it.
  std::string value;
  PROFILED_RETURN_IF_ERROR(store_.Get(store::Table::kMeta, job_key, &value));
  DeletionJob job;
  PROFILED_RETURN_IF_ERROR(DecodeDeletionJob(value, &job));
  job.id = job_id;
  if (job.status == DeletionStatus::kDone || job.run_at_ms > now) return Status::Ok();
  auto finish = [&] {
    job.status = DeletionStatus::kDone;
    job.done_ms = now;
    job.targets.clear();
    job.cursor.clear();
    LogInfo("privacy deletion job " + std::to_string(job.id) + " of project " + project +
            " is done: " + std::to_string(job.entries.size()) + " users, " +
            std::to_string(job.events_deleted) + " logged events deleted");
  };
  Status s;
  if (job.status == DeletionStatus::kStaging) {
    // Step 1: the users' records and the mappings they name, in one commit.
    std::vector<uint64_t> targets;
    for (const DeletionEntry& entry : job.entries) {
      // An id staged while anonymous may have merged into an identified user since: it names
      // that user now, as it would have had it merged before the request.
      uint64_t id = entry.amplitude_id;
      s = working_.ResolveMerged(project, entry.amplitude_id, &id);
      if (!s.ok()) break;
      if (id != entry.amplitude_id &&
          std::find(targets.begin(), targets.end(), entry.amplitude_id) == targets.end()) {
        targets.push_back(entry.amplitude_id);
      }
      if (std::find(targets.begin(), targets.end(), id) != targets.end()) continue;
      targets.push_back(id);
      UserState* user = nullptr;
      s = working_.GetUserState(project, id, &user);
      if (s.code() == ErrorCode::kCorruption) {
        // A record that does not decode is deleted all the same.
        LogError("privacy deletion: user " + std::to_string(id) + " of project " + project +
                 " has a record that does not decode; deleting it: " + s.ToString());
        working_.DeleteUserState(project, id);
        s = Status::Ok();
        continue;
      }
      if (!s.ok()) break;
      if (user == nullptr) continue;  // deleted already
      std::vector<std::string> cohorts;
      std::vector<uint64_t> merged;
      if (StaticCohortsOf(*user, &cohorts).ok()) {
        for (const std::string& c : cohorts) {
          working_.DeleteRaw(store::Table::kMeta, store::StaticMemberKey(project, c, id));
        }
      }
      if (MergedIdsOf(*user, &merged).ok()) {
        for (uint64_t m : merged) {
          targets.push_back(m);
          working_.DeleteId(store::MergeKey(project, m));
        }
      }
      const std::string user_id = user->profile.user_id;
      const std::string device_id = user->profile.device_id;
      working_.DeleteUserState(project, id);
      if (!user_id.empty()) s = DeleteIdIfIn(store::UserKey(project, user_id), targets);
      if (s.ok() && !device_id.empty()) {
        s = DeleteIdIfIn(store::DeviceKey(project, device_id), targets);
      }
      if (!s.ok()) break;
    }
    job.status = DeletionStatus::kSubmitted;
    job.targets = std::move(targets);
    job.phase = DeletionPhase::kLog;
    job.cursor.clear();
  } else if (job.phase == DeletionPhase::kLog) {
    // Step 2: one chunk of the event log.
    std::string begin = job.cursor.empty() ? store::EventKeyLowerBound(project, 0) : job.cursor;
    if (!job.cursor.empty()) begin.push_back('\0');  // the first key after the cursor
    const std::string end = store::PrefixEnd(store::ProjectPrefix(project));
    size_t scanned = 0;
    std::string last;
    std::vector<std::pair<std::string, std::string>> matched;  // key, event record
    s = store_.Scan(
        store::Table::kEvents, begin, end, [&](std::string_view key, std::string_view record) {
          uint64_t id = 0;
          if (EventAmplitudeId(record, &id) &&
              std::find(job.targets.begin(), job.targets.end(), id) != job.targets.end()) {
            matched.emplace_back(key, record);
          }
          last.assign(key);
          return ++scanned < options_.deletion_chunk_events;
        });
    std::vector<std::string> user_ids, device_ids;
    for (const auto& [key, record_bytes] : matched) {
      if (!s.ok()) break;
      working_.DeleteRaw(store::Table::kEvents, key);
      store::EventRecord record;
      if (!store::DecodeEvent(record_bytes, &record).ok()) continue;
      boost::json::object event;
      if (!ParseStoredObject(record.json, &event).ok()) continue;
      std::string user_id = StringMember(event, "user_id");
      std::string device_id = StringMember(event, "device_id");
      std::string insert_id = StringMember(event, "insert_id");
      if (!insert_id.empty()) {
        std::string scope = device_id.empty() ? "u" + user_id : "d" + device_id;
        working_.DeleteRaw(store::Table::kDedup, store::DedupKey(project, scope, insert_id));
      }
      if (!user_id.empty()) user_ids.push_back(std::move(user_id));
      if (!device_id.empty()) device_ids.push_back(std::move(device_id));
    }
    for (auto* ids : {&user_ids, &device_ids}) {
      std::sort(ids->begin(), ids->end());
      ids->erase(std::unique(ids->begin(), ids->end()), ids->end());
    }
    for (const std::string& u : user_ids) {
      if (s.ok()) s = DeleteIdIfIn(store::UserKey(project, u), job.targets);
    }
    for (const std::string& d : device_ids) {
      if (s.ok()) s = DeleteIdIfIn(store::DeviceKey(project, d), job.targets);
    }
    job.events_deleted += matched.size();
    job.cursor = last.empty() ? job.cursor : last;
    if (scanned < options_.deletion_chunk_events) {
      // The identity table of a shared store cannot be scanned (docs/SCALING.md).
      if (shared_) {
        finish();
      } else {
        job.phase = DeletionPhase::kIdentity;
        job.cursor.clear();
      }
    }
  } else {
    // Step 3: one chunk of the project's identity mappings. Each is checked again through the
    // writer (GetIdAt), which has the last word on a mapping.
    const std::string prefix = store::ProjectPrefix(project);
    std::string begin = job.cursor.empty() ? prefix : job.cursor;
    if (!job.cursor.empty()) begin.push_back('\0');
    size_t scanned = 0;
    std::vector<std::string> keys;
    s = store_.Scan(
        store::Table::kIdentity, begin, store::PrefixEnd(prefix),
        [&](std::string_view key, std::string_view mapped) {
          uint64_t id = 0;
          if (store::DecodeId(mapped, &id).ok() &&
              std::find(job.targets.begin(), job.targets.end(), id) != job.targets.end()) {
            keys.emplace_back(key);
          }
          job.cursor.assign(key);
          return ++scanned < options_.deletion_chunk_events;
        });
    for (const std::string& key : keys) {
      if (s.ok()) s = DeleteIdIfIn(key, job.targets);
    }
    if (scanned < options_.deletion_chunk_events) finish();
  }
  store::WriteSet writes;
  if (s.ok()) {
    working_.Flush(&writes);
    writes.Put(store::Table::kMeta, job_key, EncodeDeletionJob(job));
    s = store_.Commit(writes, true);
  }
  working_.Finish(s.ok());
  return s;
}

Status Ingestor::EnforceRetention() {
  std::vector<std::string> projects;
  int64_t days = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    projects = retention_projects_;
    days = event_retention_days_;
  }
  int64_t cutoff = clock_.NowMs() - days * kDayMs;
  for (const auto& project : projects) {
    PROFILED_RETURN_IF_ERROR(store_.DeleteRange(store::Table::kEvents,
                                                store::EventKeyLowerBound(project, 0),
                                                store::EventKeyLowerBound(project, cutoff)));
  }
  return Status::Ok();
}

}  // namespace profiled::ingest
