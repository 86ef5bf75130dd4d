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
// into another counts as that one. It trains the model off the writer and the read threads;
// the new model then replaces the old one on the shelf, so reads never wait for a training
// and always see a whole model. A failed training keeps the previous model and is retried a
// minute later at the earliest.
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
#include "recs/model_shelf.h"
#include "recs/serving.h"
#include "store/store.h"

namespace profiled::ingest {

// What the admin API reports of a recommendation's model.
struct RecTrainingStatus {
  enum class State { kPending, kTraining, kReady, kFailed };
  State state = State::kPending;  // kPending: never trained yet
  double progress = 0;            // 0..1 while training
  int64_t last_trained_ms = 0;    // when the serving model finished training; 0 = none
  double last_duration_seconds = 0;
  int64_t users = 0;  // of the serving model
  int64_t items = 0;
  int64_t interactions = 0;
  std::string model;      // the serving model's kind ("ease", ...)
  std::string note;       // e.g. why ease fell back to itemknn
  std::string error;      // the last failure, when state is kFailed
  int64_t trainings = 0;  // trainings that ended with a model, since the server started
  int64_t failures = 0;   // trainings that failed, since the server started
};
std::string_view StateName(RecTrainingStatus::State state);

class RecTrainer {
 public:
  // Borrows everything; all must outlive the trainer. `projects` are the ones it serves.
  RecTrainer(store::Store& store, const compute::CatalogHolder& catalogs, recs::ModelShelf& shelf,
             const Clock& clock, std::vector<std::string> projects);
  ~RecTrainer();
  RecTrainer(const RecTrainer&) = delete;
  RecTrainer& operator=(const RecTrainer&) = delete;

  void Start();
  // Ends the training in progress at its next event and joins the thread. Idempotent.
  void Stop();

  // Trains served recommendation `id` of `project` as soon as the trainer is free (after
  // the training in progress). NotFound when the project serves no such recommendation.
  Status RequestTraining(std::string_view project, std::string_view id);

  // The training status of recommendation `id` of `project`; a recommendation the trainer
  // has not seen yet is kPending.
  RecTrainingStatus StatusOf(std::string_view project, std::string_view id) const;

  // One training of `rec` of `project`, on the calling thread (the loop uses it; so do
  // tests). `progress` (may be null) is called with 0..1 as it goes.
  Result<std::shared_ptr<const recs::ServingModel>> Train(
      const std::string& project, const compute::Recommendation& rec,
      const std::function<void(double)>& progress) const;

 private:
  struct Entry {
    RecTrainingStatus status;
    std::string fingerprint;  // of the definition the serving model was trained for
    std::string tried;        // of the definition last tried (failed or not)
    int64_t tried_ms = 0;
    bool requested = false;
  };
  // The key of entries_: project '\0' id.
  static std::string KeyOf(std::string_view project, std::string_view id);
  // What a model learns from, as text: a change means a new training.
  static std::string Fingerprint(const compute::Recommendation& rec);
  void Run();
  // Picks the next due training (and forgets recommendations no longer served); false
  // when none is due.
  bool NextDue(std::string* project, compute::Recommendation* rec);

  store::Store& store_;
  const compute::CatalogHolder& catalogs_;
  recs::ModelShelf& shelf_;
  const Clock& clock_;
  const std::vector<std::string> projects_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Entry> entries_;  // guarded by mu_
  bool stopping_ = false;                 // guarded by mu_
  std::atomic<bool> stop_{false};         // stopping_, read by a training without the lock
  std::thread thread_;
};

}  // namespace profiled::ingest
