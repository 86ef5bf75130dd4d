// RecTrainer: trains the recommendation models of every project from the event log, in the
// background, and puts them on a recs::ModelShelf, where reads find them (docs/RECS.md,
// "Training in the server").
//
// A served recommendation (compute::ProjectCatalog::recommendations()) is trained:
//  - when it first appears, and whenever its definition changes what a model learns from
//    (model, params, item_event, item_property, history_window_days);
//  - when RequestTraining asks (the admin API's POST .../train);
//  - every `retrain_every_minutes` after its last training (0: never on a schedule).
// One training reads the project's event log and takes the events the recommendation's item
// history (compute::HistorySpecOf) holds at that moment: those of `item_event` ("_active":
// every tracked event) whose UTC day is in the rolling window of `history_window_days` whole
// days ending today, or tomorrow (compute::InRollingWindow, as the writer kept them when they
// arrived; the log keeps event_retention_days, so a longer window sees only that much). Each
// gives the item of its user that the writer's history gives (compute::ItemOfEvent, on the
// fields a backfill reads from the log, ingest/logged_event.h); an anonymous profile merged
// into another counts as that one.
//
// Models live in the store (ingest/model_store.h), so that on a store several nodes share one
// node trains and every node serves:
//  - every node reads each served recommendation's model head every `poll_ms` and, when it
//    names a model it has not loaded for the definition it serves, loads it onto its shelf (in
//    one pointer swap: reads never wait for a training or a load and always see a whole model);
//    a server that restarts serves the stored model without training again;
//  - on a shared store (store::Store::Shared()) one node per project, the holder of its
//    trainer lease (store::TrainerLeaseKey, `lease_ms` long, renewed by the holder), trains:
//    it writes the model's chunks under a new generation, then, in one transaction that checks
//    it still holds the lease, the head naming them; the status every node reports is in the
//    head too. A node that stops or stalls loses the lease and another takes over; on a store
//    only this process writes, this process always trains.
// A failed training keeps the previous model and is retried a minute later at the earliest.
// Once a new model serves, the trainer measures its offline figures (recs::MeasureOffline: a
// second training without each drawn user's newest interaction) and adds them to the head;
// until then the status has none (docs/RECS.md, "Offline figures"). Stop ends a measurement
// between two of its users (its training, though, runs to its end).
//
// Thread-safe: Start/Stop from one thread; RequestTraining and StatusOf from any.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "compute/catalog.h"
#include "compute/definition.h"
#include "core/clock.h"
#include "core/status.h"
#include "ingest/model_store.h"
#include "recs/model_shelf.h"
#include "recs/offline.h"
#include "recs/serving.h"
#include "store/store.h"

namespace profiled::ingest {

struct RecTrainerOptions {
  // recs.max_memory_mb: bounds the models on the shelf plus the one in training. An ease
  // model whose training would take more than what the shelf leaves of it is trained as
  // itemknn instead (recs::TrainServingModel), its status note saying so. The model it
  // replaces counts until the swap.
  uint64_t memory_budget_bytes = UINT64_MAX;
  // On a shared store, a view of it that locks what it reads until the transaction ends
  // (cluster::RedisStore::Writer()), for the lease and the heads. Null: the store itself.
  store::Store* locking_store = nullptr;
  // Names this node in the lease; empty: a random name.
  std::string node_id;
  int64_t poll_ms = 500;      // how often the heads are read
  int64_t lease_ms = 10'000;  // a trainer lease lasts this long unless renewed
};

class RecTrainer {
 public:
  // Borrows everything; all must outlive the trainer. `projects` are the ones it serves.
  RecTrainer(store::Store& store, const compute::CatalogHolder& catalogs, recs::ModelShelf& shelf,
             const Clock& clock, std::vector<std::string> projects, RecTrainerOptions options = {});
  ~RecTrainer();
  RecTrainer(const RecTrainer&) = delete;
  RecTrainer& operator=(const RecTrainer&) = delete;

  void Start();
  // Ends the training in progress at its next event and joins the thread. Idempotent.
  void Stop();

  // Serves `projects` too from the next poll (a configuration reload added them); those it
  // serves already are left alone. Any thread.
  void AddProjects(const std::vector<std::string>& projects);

  // Trains served recommendation `id` of `project` as soon as the trainer is free (after
  // the training in progress). NotFound when the project serves no such recommendation.
  Status RequestTraining(std::string_view project, std::string_view id);

  // The training status of recommendation `id` of `project`; a recommendation the trainer
  // has not seen yet is kPending.
  RecTrainingStatus StatusOf(std::string_view project, std::string_view id) const;

  // One training of `rec` of `project`, on the calling thread (the loop uses it; so do
  // tests). `progress` (may be null) is called with 0..1 as it goes.
  // With `offline` (may be null), what measuring the model's offline figures needs is moved
  // there once the model is trained (its training set and each user's newest interaction).
  Result<std::shared_ptr<const recs::ServingModel>> Train(
      const std::string& project, const compute::Recommendation& rec,
      const std::function<void(double)>& progress, recs::OfflineInput* offline = nullptr) const;

 private:
  struct Entry {
    RecTrainingStatus status;   // this node's while it trains the recommendation, else the head's
    ModelHead head;             // as last read from the store (or written here)
    std::string request;        // the training request token last read from the store
    uint64_t loaded = 0;        // the generation on this node's shelf (or superseded by it)
    uint64_t unloadable = 0;    // a generation that does not decode, or lost a chunk
    uint64_t missing = 0;       // a generation one of whose chunks was missing once
    int64_t load_after = 0;     // steady ms: no load before (after a failed one)
    std::string tried;          // the training key last tried here (failed or not)
    int64_t tried_ms = 0;       // clock_ ms of that try
    int64_t unpublished = 0;    // steady ms when a job here could not store its outcome; 0 = none
    bool local_status = false;  // status is this node's (not stored) until the head changes
    bool training = false;      // this node trains it now
    uint64_t epoch = 0;         // bumped by every job here: a head read before is stale
  };
  struct Job {
    std::string project;
    compute::Recommendation rec;
    std::string request;  // the request token the training answers
  };
  // The key of entries_: project '\0' id.
  static std::string KeyOf(std::string_view project, std::string_view id);

  // The poller's loop: reads heads, loads models, keeps leases, hands due trainings over.
  void Poll();
  // Reads the heads and requests of `served` and loads the models they name onto the shelf.
  void Refresh(const std::string& project,
               const std::vector<compute::ServedRecommendation>& served);
  // Forgets (and as the lease holder, deletes from the store) what is no longer served.
  void Forget(const std::map<std::string, std::string>& served_keys);
  // Takes or renews the trainer lease of `project` when it is due; whether this node holds it.
  bool KeepLease(const std::string& project);
  bool Holds(const std::string& project) const;  // REQUIRES: mu_ held
  // Picks a due training of a project this node trains. REQUIRES: mu_ held.
  bool PickDue(Job* job);
  // The trainer's loop: runs the jobs the poller hands over, one at a time.
  void Run();
  void RunJob(const Job& job);
  // Reads, changes and writes the head of (project, id) in one transaction that, on a shared
  // store, first checks that this node holds the project's trainer lease (Unavailable when
  // not); *head is what was written.
  // Writes `model` as `generation` of (project, id), its chunk count in *chunks, after
  // naming it in the head as pending (and deleting what an earlier pending one left).
  Status StoreModel(const std::string& project, const std::string& id,
                    const recs::ServingModel& model, uint64_t generation, uint32_t* chunks);
  // Measures the offline figures of generation `generation` of (project, id), serving `used`,
  // and writes them into its head (when it still names that generation). Logs failures.
  void MeasureOffline(const std::string& project, const std::string& id, uint64_t generation,
                      recs::ModelKind used, const recs::OfflineInput& input);
  Status UpdateHead(const std::string& project, const std::string& id,
                    const std::function<void(ModelHead*)>& update, ModelHead* head);
  void SetStatus(const std::string& key, const RecTrainingStatus& status);

  store::Store& store_;
  store::Store& locking_;
  const compute::CatalogHolder& catalogs_;
  recs::ModelShelf& shelf_;
  const Clock& clock_;
  std::vector<std::string> projects_;  // guarded by mu_; only ever grows
  const RecTrainerOptions options_;
  const bool shared_;
  const std::string node_id_;

  std::mutex txn_mu_;  // one transaction at a time on locking_
  mutable std::mutex mu_;
  std::condition_variable cv_;                  // wakes the trainer
  std::condition_variable poll_cv_;             // wakes the poller
  std::map<std::string, Entry> entries_;        // guarded by mu_
  std::map<std::string, int64_t> lease_until_;  // project -> lease end (wall ms); mu_
  std::vector<Job> jobs_;                       // at most one; guarded by mu_
  bool busy_ = false;                           // the trainer runs a job; mu_
  bool wake_ = false;                           // the poller should poll now; mu_
  bool stopping_ = false;                       // guarded by mu_
  std::atomic<bool> stop_{false};               // stopping_, read by a training without the lock
  std::thread poller_;
  std::thread thread_;
};

}  // namespace profiled::ingest
