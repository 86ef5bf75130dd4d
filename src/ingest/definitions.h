// DefinitionRegistry: the computed properties, cohorts and recommendations of every project,
// durable, and the backfill state of the aggregates they need (docs/COMPUTE.md).
//
// A definition has up to two versions: the *served* one (what reads report) and a *pending*
// one (the latest PUT, while the aggregates it needs that did not exist before are
// backfilled from the event log). A pending version whose aggregates are all ready replaces
// the served one at once. Definitions whose AggregateSpecs have the same canonical text
// share one spec id and one stored state per user, so changing only a cohort's threshold
// needs no backfill.
//
// The registry is owned by the ingest writer: Put, Delete and the backfill run on the
// writer thread only, between commit groups (so every event logged before a new spec was
// created has a smaller sequence number than the spec's `until_seq`, and every later one
// is applied to it live by the writer). Get and List may be called from any thread (a
// mutex guards the state they read). Each change is committed durably before it is
// visible; a new catalog is then published through the CatalogHolder.
//
// On a store several nodes share (Store::Shared(); the store given is then the writer's
// view, whose reads lock): every change of a project's definitions, and every backfill chunk,
// bumps the project's version (store::DefinitionsVersionKey) in the same commit, after Sync
// locked that key and brought this node up to date; the writer polls the versions (Sync) and
// reloads a project another node changed. A new spec does not cut the log at a sequence number
// (each node has its own) but at a time: until_seq is kTimeCutoff and until_ms is
// kActivationMs after its creation. Events ingested before until_ms are backfilled, later ones
// are applied live (compute::SpecEntry::live_from_ms) by every node, which knows the spec by
// then as long as it synced less than kSyncMaxAgeMs ago (the writer refuses groups otherwise)
// and node clocks agree within kActivationMs - kSyncMaxAgeMs. A backfill stays kSettleMs behind
// the clock, so that it never passes an event whose group is still being committed (the
// writer retries a group not committed within kSettleMs / 2 of its ingest time).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "compute/catalog.h"
#include "compute/definition.h"
#include "core/config.h"
#include "core/status.h"
#include "store/store.h"

namespace profiled::ingest {

// The stored byte of each kind (in definition keys): never change one.
enum class DefinitionKind : char { kComputation = 'c', kCohort = 'h', kRecommendation = 'r' };

// A definition's typed value; its alternative is its kind. A recommendation references
// nothing and nothing references it; its only spec is its history.
using TypedDefinition =
    std::variant<compute::Computation, compute::Cohort, compute::Recommendation>;

struct Definition {
  std::string id;
  std::string source;  // the JSON the admin API returns (normalised by src/api)
  TypedDefinition typed;

  DefinitionKind kind() const;
};

// Rebuilds a definition from its stored source (src/api provides it: JSON stays at the edge).
using DefinitionParser = std::function<Status(DefinitionKind kind, std::string_view id,
                                              std::string_view source, Definition* out)>;

// What the admin API reports of one definition.
struct DefinitionInfo {
  DefinitionKind kind = DefinitionKind::kComputation;
  std::string id;
  std::string source;   // the latest version's (the pending one while it backfills)
  bool ready = false;   // false while the latest version backfills
  double progress = 1;  // 0..1 of the backfill of the latest version
  uint64_t events_scanned = 0;
  bool is_static = false;  // a static cohort
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
};

// A spec whose backfill is cut by time (its until_ms) rather than by a sequence number.
inline constexpr uint64_t kTimeCutoff = UINT64_MAX;
// Shared stores: how long after its creation a new spec goes live; how often the writer polls
// the definitions and how old its last poll may be when it applies a group; how far behind the
// clock a backfill stays.
inline constexpr int64_t kActivationMs = 2000;
inline constexpr int64_t kSyncEveryMs = 500;
inline constexpr int64_t kSyncMaxAgeMs = 1000;
inline constexpr int64_t kSyncRetryMs = 2000;  // after a failed poll
inline constexpr int64_t kSettleMs = 5000;

// One chunk of backfill work, staged by the writer and applied once committed.
struct BackfillJob {
  std::string project;
  std::vector<uint64_t> spec_ids;  // backfilled together (they share cursor and until_seq)
  uint64_t until_seq = 0;          // events with a sequence number below this are backfilled
                                   // (kTimeCutoff: those ingested before until_ms)
  std::string cursor;              // the last event key scanned; empty = from the start
  int64_t from_ms = 0;             // ingest time of the first event, for progress
  int64_t until_ms = 0;            // ingest time when the specs were created
};

class DefinitionRegistry {
 public:
  // Borrows everything; all must outlive the registry.
  // `unlocked`: on a shared store, the store itself beside `store` (the writer's view, whose
  // reads lock), for the polls of SyncAll, which must not queue behind another node's change
  // or backfill chunk; null = `store`.
  DefinitionRegistry(store::Store& store, compute::CatalogHolder& catalogs, DefinitionParser parser,
                     const Clock& clock, store::Store* unlocked = nullptr);

  // Reads the stored definitions and spec states of `projects` and publishes their
  // catalogs. At start-up, before the writer runs. A stored definition that no longer
  // parses is logged and skipped. Errors: the store's.
  Status Load(const std::vector<std::string>& projects);

  // Writer thread, shared stores only (OK and nothing done otherwise): locks the project's
  // version key in the store's current transaction (the caller ends it) and, when another node
  // changed the project's definitions since this node last read them, reloads them and
  // publishes their catalog; *changed (may be null) says whether it did. SyncAll, the poll:
  // the same for every project Load read, without locks (the version is read before the
  // definitions, all in the project's one meta slot, so a reload never keeps a version newer
  // than what it read). Errors: the store's.
  Status Sync(const std::string& project, bool* changed);
  Status SyncAll();

  // Any thread. NotFound when there is no such definition.
  Status Get(std::string_view project, DefinitionKind kind, std::string_view id,
             DefinitionInfo* info) const;
  // Any thread. In id order (computations numerically).
  std::vector<DefinitionInfo> List(std::string_view project, DefinitionKind kind) const;

  // How many definitions of each kind a project may have (static cohorts count as cohorts);
  // Put refuses a new id past them. Lowering a bound removes nothing. Any thread; the next Put
  // sees it. Until called: DefinitionsConfig's defaults.
  void SetLimits(const DefinitionsConfig& limits);

  // Writer thread. Creates or replaces a definition. InvalidArgument (nothing changes) when
  // it references an unknown cohort or computation, would make a cycle of cohort
  // references, or is a new id of a kind the project already has its most of (SetLimits;
  // the message names the config key). `next_seq` is the sequence number the next logged
  // event will get.
  Status Put(const std::string& project, Definition definition, uint64_t next_seq);
  // Put's checks and writes, added to *writes for the caller to commit with its own (a
  // static cohort and its members, in one commit); then CommitStaged. Nothing is visible
  // before CommitStaged(true).
  Status StagePut(const std::string& project, Definition definition, uint64_t next_seq,
                  store::WriteSet* writes);
  // Writer thread. NotFound; InvalidArgument when another definition references it.
  Status Delete(const std::string& project, DefinitionKind kind, std::string_view id);

  // Writer thread. The next chunk of backfill work, if any.
  std::optional<BackfillJob> NextBackfill() const;
  // Writer thread. Records the progress of `job` (its cursor moved to `cursor`, `scanned`
  // more events seen) and, when `done`, marks its specs ready and serves the pending
  // versions that were waiting for them. Adds the spec records to *writes; the in-memory
  // state changes only through Commit* below.
  void StageBackfill(const BackfillJob& job, const std::string& cursor, uint64_t scanned, bool done,
                     store::WriteSet* writes);
  // After the store committed (or failed) the writes of StagePut or StageBackfill: makes
  // the staged state current and publishes its catalog, or drops it.
  void CommitStaged(bool committed);

  // The live specs of `project` (the writer updates them for every event).
  std::shared_ptr<const compute::ProjectCatalog> Catalog(std::string_view project) const {
    return catalogs_.Get(project);
  }

 private:
  struct Version {
    std::string source;
    TypedDefinition typed;
  };
  struct Entry {
    std::optional<Version> served;
    std::optional<Version> pending;
    int64_t created_ms = 0;
    int64_t updated_ms = 0;
  };
  struct Spec {
    compute::AggregateSpec spec;
    std::string canonical;
    bool ready = false;
    uint64_t until_seq = 0;
    std::string cursor;
    uint64_t scanned = 0;
    int64_t from_ms = 0;
    int64_t until_ms = 0;
  };
  using EntryKey = std::pair<DefinitionKind, std::string>;
  struct Project {
    std::map<EntryKey, Entry> entries;
    std::map<uint64_t, Spec> specs;
    std::unordered_map<std::string, uint64_t> spec_by_canonical;
    uint64_t next_spec_id = 1;
    uint64_t version = 0;  // shared stores: the version this state was read at or written as
  };

  // Reads the project's stored definitions and specs (Load's work, without Reconcile).
  Status ReadProject(store::Store& from, const std::string& project, Project* p);
  Status SyncWith(store::Store& from, const std::string& project, bool* changed);
  // Shared stores: the next version in *next and its record in *writes.
  void BumpVersion(const std::string& project, Project* next, store::WriteSet* writes) const;
  Status CheckReferences(const Project& p, const Definition& d) const;
  // InvalidArgument when `d` is a new id and `p` has as many of its kind as allowed.
  Status CheckCount(const std::string& project, const Project& p, const Definition& d) const;
  // The definitions whose served versions reads report: served computations and
  // recommendations, and served cohorts whose references are all reported.
  static std::set<EntryKey> Publishable(const Project& p);
  static bool ReferencesServed(const TypedDefinition& typed, const std::set<EntryKey>& served);
  // Allocates spec ids for the specs of `typed` that have none (new ones backfill up to
  // next_seq), serves `entry`'s pending version when its specs are ready, drops specs no
  // version uses; adds every changed record to *writes.
  void Reconcile(const std::string& project, Project* p, uint64_t next_seq,
                 store::WriteSet* writes) const;
  Status CommitAndPublish(const std::string& project, Project next, const store::WriteSet& writes);
  void Publish(const std::string& project, const Project& p) const;
  DefinitionInfo Info(const Project& p, const EntryKey& key, const Entry& e) const;

  store::Store& store_;
  store::Store& unlocked_;
  compute::CatalogHolder& catalogs_;
  DefinitionParser parser_;
  const Clock& clock_;
  const bool shared_;
  std::atomic<int> max_computations_{DefinitionsConfig().max_computations};
  std::atomic<int> max_cohorts_{DefinitionsConfig().max_cohorts};
  std::atomic<int> max_recommendations_{DefinitionsConfig().max_recommendations};
  mutable std::mutex mu_;
  std::unordered_map<std::string, Project> projects_;      // GUARDED_BY mu_; written by the writer
  std::optional<std::pair<std::string, Project>> staged_;  // writer thread only
  std::string staged_log_;                                 // writer thread only
};

// The specs a definition needs, in condition order (a computation and a recommendation have
// one: a recommendation's is its history).
std::vector<const compute::AggregateSpec*> SpecsOf(const TypedDefinition& typed);

}  // namespace profiled::ingest
