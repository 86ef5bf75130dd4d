// Ingestor: applies validated event batches to the store, one writer thread, group commit.
//
// Submit() may be called from any thread (the HTTP I/O threads). The writer thread takes
// every batch queued since its last commit, applies them in arrival order (so events of
// one device apply in order) through one WorkingSet, and commits the result as a single
// atomic Store write, fsynced when options.sync is set. Only then does it call each
// batch's callback, so a success means the batch is durable. If the commit fails, no
// batch of the group is applied and each callback gets the error.
//
// A batch is applied whole or not at all, and one batch never fails another: throttling
// refuses the whole batch; an event that cannot be applied (its user's profile would
// outgrow kMaxPropertiesBytes, or the user's stored record is corrupt) refuses its own
// batch, naming the event, and the rest of the group is applied without it. Only a store
// failure (IoError, Unavailable) fails the whole group, since no write can succeed then.
// Callbacks run on the writer thread, or on the commit thread (ingest/commit_pipeline.h),
// and must be cheap (post the answer back to the connection's executor).
//
// Commits in flight: on a store that is not shared, the writer hands a group's commit to a
// thread of its own and applies the next group meanwhile, on top of the first group's state
// (WorkingSet::FinishInFlight), unless the group changed group properties or the static cohort
// index (WorkingSet::CanPipeline), the writer keeps no cache, or pipeline_commits is off. The next
// group is committed only after the first landed; if that failed, the next is applied again from
// the store. Anything else the writer does (definition changes, backfill and deletion steps,
// retention) waits for the commit first.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "compute/aggregates_editor.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/metrics.h"
#include "core/status.h"
#include "ingest/commit_pipeline.h"
#include "ingest/definitions.h"
#include "ingest/deletions.h"
#include "ingest/event.h"
#include "ingest/static_cohorts.h"
#include "ingest/throttle.h"
#include "ingest/working_set.h"
#include "store/store.h"

namespace profiled::ingest {

struct IngestBatch {
  std::string project;
  std::vector<Event> events;
  // The decoded request body the events came from, counted against max_queued_bytes
  // (0: count the events' JSON text instead).
  size_t request_bytes = 0;
  // Events the server makes itself (recommendation exposures): never throttled, and
  // acknowledged to nobody, so the writer may hold them back to share a commit with later
  // batches (IngestorOptions::internal_delay_ms).
  bool internal = false;
};

// The field of an event whose value broke a limit only the stored state can tell, found while
// the event was applied (IngestResult::invalid_field).
enum class EventField {
  kNone,
  kUserProperties,   // would grow the user's properties past kMaxPropertiesBytes
  kGroupProperties,  // would grow a group's properties past kMaxPropertiesBytes
  kGroups,           // would put the user in too many group types (group_membership.h)
};

struct IngestResult {
  // OK (durable), Throttled (nothing applied; see throttle), Unavailable (shutting down,
  // nothing applied), the queue is full (Unavailable, see retry_after_seconds), the
  // store's error (nothing applied), or the error of the event `failed_event` that refused
  // this batch (nothing applied): InvalidArgument for a limit one of its fields would break
  // (invalid_field says which, the message how), Corruption for a user or group whose
  // stored record does not decode.
  Status status;
  int failed_event = -1;  // index in the batch of the event that refused it, or -1
  // With InvalidArgument and failed_event: the field of that event that broke a limit.
  EventField invalid_field = EventField::kNone;
  // > 0 when the batch was refused because the queue is full or the store failed (then the
  // message says why, e.g. the disk is full): retry after this long.
  int retry_after_seconds = 0;
  size_t accepted = 0;      // events acknowledged, duplicates included
  size_t deduplicated = 0;  // of those, skipped as already-seen insert_ids
  ThrottleReport throttle;
};

struct IngestorOptions {
  bool sync = true;  // fsync each commit
  int dedup_window_days = 7;
  int event_retention_days = 90;
  double throttle_events_per_second = 0;
  int throttle_window_seconds = 30;
  // Projects' own rates (events per second, all ids together, over throttle_window_seconds);
  // a project absent or at 0 has none.
  std::map<std::string, double> project_events_per_second;
  std::vector<std::string> projects;  // for the retention sweep
  size_t max_group_events = 20000;    // a commit group closes once it holds this many
  // While only internal batches are queued, the writer waits up to internal_delay_ms after
  // the oldest of them, or until they hold internal_group_events events, or another batch
  // arrives, or Stop: one commit (and one fsync) then covers many exposures instead of one
  // per read. 0: no wait.
  int internal_delay_ms = 20;
  size_t internal_group_events = 256;
  // The queue of batches waiting for the writer is bounded by both: a batch that would
  // take it past either is refused with Unavailable (a batch is always taken when the
  // queue is empty). Waiting internal batches do not count against a client's batch. Bytes are the
  // events' JSON text, the bulk of a queued batch.
  size_t max_queued_events = 200000;
  size_t max_queued_bytes = 256ull << 20;
  // A backfill reads the event log in chunks of this many events, each committed with its
  // cursor, taken whenever the queue is empty.
  size_t backfill_chunk_events = 2000;
  int backfill_chunk_delay_ms = 0;  // a pause between chunks (a test seam; 0 in production)
  // About how much memory the writer may keep committed user states and identity mappings
  // in between commit groups, so that a user's next events read nothing from the store
  // (ingest/working_set.h); 0 keeps none.
  size_t writer_cache_bytes = WorkingSet::kDefaultCacheBytes;
  // Commit a group while the next is applied (see the top); false: every commit on the
  // writer thread, before the next group is taken (tests that park the writer in a commit).
  bool pipeline_commits = true;
  // Privacy deletions (ingest/deletions.h): a job runs this long after its first request
  // ([privacy] staging_minutes), and its log step reads the event log in chunks of this many
  // events, each one commit.
  int64_t deletion_staging_ms = 0;
  size_t deletion_chunk_events = 20000;
};

// The options `config` asks for: storage.durability "fsync" sets sync; the dedup window,
// retention, throttle and queue bounds come from [ingest] and [storage]; projects and their
// rates (events_per_second) from [[projects]].
IngestorOptions IngestorOptionsFromConfig(const Config& config);

class Ingestor {
 public:
  using Callback = std::function<void(IngestResult)>;

  // Borrows store, clock, metrics and registry (metrics and registry may be null: no
  // computed properties or cohorts); all must outlive this.
  Ingestor(store::Store& store, IngestorOptions options, const Clock& clock, Metrics* metrics,
           DefinitionRegistry* registry = nullptr);
  ~Ingestor();
  Ingestor(const Ingestor&) = delete;
  Ingestor& operator=(const Ingestor&) = delete;

  void Start();
  // Stops taking batches, applies and commits everything already queued, joins the
  // writer. Idempotent.
  void Stop();

  // Queues a batch. `done` runs exactly once, on the writer thread or the commit thread, or
  // inline with Unavailable after Stop or when the queue is full (then with
  // retry_after_seconds set).
  void Submit(IngestBatch batch, Callback done);

  // Creates or replaces a definition, or deletes one, on the writer thread once every
  // batch queued before it is committed (so a new aggregate's backfill covers exactly the
  // events logged before it). `done` gets the registry's Status, or Unavailable after Stop;
  // it runs on the writer thread (or inline after Stop). REQUIRES: a registry was given.
  using StatusCallback = std::function<void(Status)>;
  void PutDefinition(std::string project, Definition definition, StatusCallback done);
  void DeleteDefinition(std::string project, DefinitionKind kind, std::string id,
                        StatusCallback done);
  // Creates a static cohort or changes its members (ingest/static_cohorts.h), on the writer
  // thread like PutDefinition; `done` gets the result.
  using StaticCohortCallback = std::function<void(StaticCohortResult)>;
  void ChangeStaticCohort(StaticCohortChange change, StaticCohortCallback done);

  // Privacy deletions (ingest/deletions.h), on the writer thread like PutDefinition: stages
  // the request's users into the project's open staging job (or a new one, which runs
  // deletion_staging_ms later), durably before `done` runs. An amplitude_id merged into another
  // stands for that one. `done` gets the job, or InvalidArgument (nothing staged) for ids that
  // name no user without ignore_invalid_ids.
  using DeletionCallback = std::function<void(DeletionResult)>;
  void RequestDeletion(DeletionRequest request, DeletionCallback done);
  // Takes `amplitude_id` out of the staging job of `day` (YYYY-MM-DD, the day it runs) that
  // holds it. NotFound when no job of that day holds it; InvalidArgument when the job holding
  // it has started (submitted or done).
  void RemoveStagedDeletion(std::string project, uint64_t amplitude_id, std::string day,
                            DeletionCallback done);

  // Deletes logged events whose ingest time is older than the retention. The writer
  // calls it hourly; public for tests.
  Status EnforceRetention();

  // A configuration reload: takes the throttles (per id and per project), the queue's bounds
  // and the event retention of `options`, leaving everything else as it started. The queue's bounds
  // apply to the next Submit, the rest from the writer's next turn. Any thread.
  void SetLimits(const IngestorOptions& options);
  // A configuration reload: loads the stored definitions of `projects` (DefinitionRegistry::
  // Load, on the writer thread between commit groups, so their catalogs are published before
  // `done` runs) and adds them to the retention sweep. `done` gets the registry's Status.
  void AddProjects(std::vector<std::string> projects, StatusCallback done);

 private:
  struct Pending {
    IngestBatch batch;
    Callback done;
    size_t bytes = 0;  // counted against max_queued_bytes while queued
    std::chrono::steady_clock::time_point queued_at;  // of an internal batch
    // A change of definitions instead of a batch: runs alone, after the batches before it.
    std::function<Status()> control;
    StatusCallback control_done;
  };
  void SubmitControl(std::function<Status()> control, StatusCallback done);
  // Runs one chunk of a pending backfill: reads up to options_.backfill_chunk_events logged
  // events after the job's cursor and adds those logged before its specs existed to the
  // users' states, committing them with the new cursor. Returns whether to go on (false
  // when nothing is pending, or after a store failure: then retried a second later).
  bool BackfillStep();
  // The project's catalog, taken once per commit group.
  const compute::ProjectCatalog& CatalogFor(const std::string& project);
  Status AddToAggregates(const std::vector<const compute::SpecEntry*>& specs,
                         const compute::ProjectCatalog& catalog, const compute::EventFields& event,
                         int64_t now, UserState* user);
  Status ApplyStaticCohortChange(StaticCohortChange& change, StaticCohortResult* result);
  // Privacy deletions, writer thread. DeletionStep runs one step of the first due job of any
  // project (ingest/deletions.h) and returns whether it did; it also sets when to look again.
  bool DeletionStep();
  Status RunDeletionStep(const std::string& project, uint64_t job_id, int64_t now);
  Status StageDeletion(const DeletionRequest& request, DeletionJob* job);
  Status UnstageDeletion(const std::string& project, uint64_t amplitude_id, const std::string& day,
                         DeletionJob* job);
  // Deletes the identity mapping at `key` when it points at one of `ids`.
  Status DeleteIdIfIn(const std::string& key, const std::vector<uint64_t>& ids);
  // Everything of ApplyStaticCohortChange but the commit: the definition staged in the
  // registry and its writes in *writes, the memberships in working_.
  Status StageStaticCohortChange(StaticCohortChange& change, StaticCohortResult* result,
                                 store::WriteSet* writes);
  Status SetMembership(const std::string& project, const std::string& cohort, uint64_t amplitude_id,
                       bool member);
  // Takes every member out of static cohort `cohort` (through working_; not committed).
  Status ClearStaticMembers(const std::string& project, const std::string& cohort);
  std::string NewStaticCohortId(const std::string& project) const;
  void Run();
  // Whether the writer should take the queue now (mu_ held): anything but internal batches
  // is queued, or those are due (internal_delay_ms, internal_group_events), or stopping.
  bool QueueDue(std::chrono::steady_clock::time_point now) const;
  void ProcessGroup(std::vector<Pending>& group);
  // Hands the group's commit to commits_ (see the top); the commit thread delivers its
  // results. Takes the group's batches out of `group`.
  void StartCommit(std::vector<Pending>& group, std::vector<IngestResult> results,
                   const std::vector<IngestResult>& admitted, store::WriteSet writes);
  // Waits for the commit in flight, if any; returns whether it succeeded (true when none). On
  // failure forgets the working set's kept state (WorkingSet::Finish(false)) and gives its
  // batches' events back to the project throttle.
  bool AwaitCommit();
  // After a commit failed: every batch not already refused gets the error. Any thread.
  static void FailUnapplied(const Status& commit, std::vector<IngestResult>* results);
  // Gives back to the project throttle the events of the batches it admitted and that were
  // not applied (their retry must not pay again). Writer thread.
  void GiveBackUnapplied(const std::vector<Pending>& group,
                         const std::vector<IngestResult>& results,
                         const std::vector<IngestResult>& admitted);
  // Counts the results in the metrics and runs each batch's callback. Any thread.
  void Deliver(std::vector<Pending>& group, std::vector<IngestResult> results);
  // Applies every batch of `group` whose result is still OK (not throttled) into
  // working_, each as a WorkingSet batch: a batch with an event that fails is rolled back
  // alone and refused in *results. Returns a store failure (the group then fails whole),
  // or OK.
  Status ApplyGroup(std::vector<Pending>& group, int64_t now, std::vector<IngestResult>* results);
  // *invalid_field: with InvalidArgument, the event's field that broke a limit.
  Status ApplyEvent(const std::string& project, const Event& e, int64_t now, bool* duplicate,
                    EventField* invalid_field);
  // Applies e.group_ops to every group of e.groups (a $groupidentify, POST /groupidentify).
  // InvalidArgument when a group's properties would pass kMaxPropertiesBytes.
  Status ApplyGroupOps(const std::string& project, const Event& e);

  store::Store& store_;
  // As started; what SetLimits changes is kept apart below.
  const IngestorOptions options_;
  const Clock& clock_;
  Metrics* metrics_;
  DefinitionRegistry* registry_;
  WorkingSet working_;                // writer thread only
  Throttle throttle_;                 // writer thread only
  ProjectThrottle project_throttle_;  // writer thread only
  int64_t last_retention_ms_ = 0;
  int64_t backfill_paused_until_ms_ = 0;  // writer thread only
  // A store several nodes share: the definitions are polled (registry Sync) every
  // kSyncEveryMs, and a group is applied only after a poll less than kSyncMaxAgeMs old.
  const bool shared_;
  int64_t last_sync_ms_ = 0;       // writer thread only
  int64_t last_sync_ok_ms_ = 0;    // writer thread only
  bool last_sync_failed_ = false;  // writer thread only
  // Shared stores: reads ahead, in a few store calls, the identity keys, de-dup entries and
  // users the group's events name (WorkingSet::Prefetch).
  Status PrefetchGroup(const std::vector<Pending>& group, const std::vector<IngestResult>& results);
  // Shared stores: brings the definitions up to date (ends the store's transaction).
  Status SyncDefinitions();
  // Before a definitions change on a shared store: the project's version locked and current.
  Status SyncForChange(const std::string& project);
  int64_t last_backfill_ms_ = 0;  // writer thread only
  int64_t last_deletion_ms_ = 0;  // writer thread only
  // When DeletionStep looks for due jobs next (0: at the next turn); whether a job is not
  // done yet (the writer then wakes at least once a second). Writer thread only.
  int64_t next_deletion_check_ms_ = 0;
  bool deletions_waiting_ = false;
  // Catalogs of the current commit group (writer thread only).
  std::unordered_map<std::string, std::shared_ptr<const compute::ProjectCatalog>> catalogs_;
  std::vector<const compute::SpecEntry*> specs_;           // scratch, writer thread only
  std::vector<const compute::SpecEntry*> matched_;         // scratch, writer thread only
  std::minstd_rand retry_random_{std::random_device{}()};  // writer thread only
  compute::AggregatesEditor aggregates_editor_;            // writer thread only
  CommitPipeline commits_;                                 // started by the writer thread
  // The (project, events) the commit in flight took from the project throttle.
  std::vector<std::pair<std::string, size_t>> in_flight_admitted_;  // writer thread only

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;    // guarded by mu_
  size_t queued_events_ = 0;     // guarded by mu_
  size_t queued_bytes_ = 0;      // guarded by mu_
  size_t internal_batches_ = 0;  // of queue_, guarded by mu_
  size_t internal_events_ = 0;   // in those, guarded by mu_
  size_t internal_bytes_ = 0;    // of those, guarded by mu_
  bool stopping_ = false;        // guarded by mu_
  bool commit_failed_ = false;   // guarded by mu_: the commit in flight failed (AwaitCommit)
  // The queue's bounds, the retention and the projects it sweeps (options_'s until SetLimits
  // or AddProjects), guarded by mu_; throttle limits for the writer to take (SetLimits).
  size_t max_queued_events_;
  size_t max_queued_bytes_;
  int event_retention_days_;
  std::vector<std::string> retention_projects_;
  std::optional<std::pair<double, int>> new_throttle_;
  std::optional<std::map<std::string, double>> new_project_rates_;  // with new_throttle_'s window
  std::thread writer_;
};

}  // namespace profiled::ingest
