// Serving recommendations: a model trained from (user, item key) pairs, and the pure function
// that answers one read from it and from the user's *current* history.
//
//  - TrainingSet collects the pairs (users are opaque 64-bit ids, items strings); not
//    thread-safe (one trainer fills it).
//  - TrainServingModel turns it into a ServingModel: the item keys, the trained ItemModel and
//    the popularity order. A ServingModel is immutable once built, shared between readers as
//    shared_ptr<const ServingModel> (the trainer swaps in a new one while reads still hold the
//    old), and every function here that reads it is const and thread-safe.
//  - Serve picks the items of one read: control assignment, candidates, exclusions, then the
//    model's ranking or a stable random pick. docs/RECS.md ("Serving") states the rules.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/status.h"
#include "recs/model.h"

namespace profiled::recs {

// At most this many items are served in one read, whatever the request's limit.
inline constexpr size_t kMaxServedItems = 100;

namespace internal {
struct KeyHash {
  using is_transparent = void;
  size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
};
using KeyIndex = std::unordered_map<std::string, int32_t, KeyHash, std::equal_to<>>;
}  // namespace internal

// The training data: which users interacted with which items.
class TrainingSet {
 public:
  // Records that `user` interacted with `item`. Repeats are allowed and count once.
  void Add(uint64_t user, std::string_view item);
  // Pairs added, repeats included.
  size_t size() const { return pairs_.size(); }
  // The distinct item keys, in the order first added.
  const std::vector<std::string>& keys() const { return keys_; }
  // Every pair added, as (user, index into keys()).
  const std::vector<std::pair<uint64_t, int32_t>>& pairs() const { return pairs_; }

 private:
  std::vector<std::string> keys_;
  internal::KeyIndex index_;
  std::vector<std::pair<uint64_t, int32_t>> pairs_;
};

struct ServingModel {
  ModelKind requested = ModelKind::kPopular;
  ModelKind used = ModelKind::kPopular;  // != requested when ease fell back to itemknn
  std::string note;                      // why `used` differs from `requested`; else empty
  std::unique_ptr<ItemModel> model;      // over items.size() items
  // Item index -> key. TrainServingModel indexes items most popular first (most distinct users,
  // ties to the smaller key), so a lower index is always the more popular item.
  std::vector<std::string> items;
  std::vector<int32_t> by_popularity;  // item indices, most users first (0, 1, 2, …)
  int64_t users = 0;                   // distinct users in the training data
  int64_t interactions = 0;            // distinct (user, item) pairs
  int64_t trained_at_ms = 0;
  double train_seconds = 0;
  uint64_t memory_bytes = 0;  // about what it holds: the item keys and the model's weights

  // The index of `key`, or -1 when the model does not know it. No allocation.
  // REQUIRES: IndexItems() ran after `items` last changed (TrainServingModel does).
  int32_t Find(std::string_view key) const;
  void IndexItems();

 private:
  internal::KeyIndex index_;
};

// Whether a recommendation definition may name `kind`: ease, itemknn and popular, whose
// ScoreItems costs what the candidates cost. ials and blend are for `profiled eval` only (a
// blend's ScoreItems scores the whole item space; neither is measured in the server).
bool Servable(ModelKind kind);

// The models Servable accepts, as a message names them: "ease, itemknn or popular".
std::string_view ServableModelNames();

// About the most memory training an ease model over `items` items from `users` users takes:
// its dense B and P (4 · items² bytes each) and, in the dual form (fewer users than items),
// the users × items doubles of Y.
uint64_t EaseTrainingBytes(int64_t items, int64_t users);

// Trains the model `options` asks for on `data`. An ease model over more than
// options.max_dense_items items, or whose EaseTrainingBytes exceed memory_budget_bytes, is not
// trained: itemknn (options.neighbours) is, and `note` says why. Fails with what TrainModel
// fails with (InvalidArgument on bad options, Internal when memory runs out), and with
// InvalidArgument when !Servable(options.kind). An empty set gives a model of no items.
Result<std::shared_ptr<const ServingModel>> TrainServingModel(
    const ModelOptions& options, const TrainingSet& data, int64_t now_ms,
    uint64_t memory_budget_bytes = UINT64_MAX);

// One read's question. Views borrow from the caller for the duration of Serve.
struct ServeRequest {
  uint64_t amplitude_id = 0;
  std::string_view rec_id;
  std::string_view control_key;   // control_group_of, or rec_id (empty: rec_id)
  double control_percentage = 0;  // 0..100
  // rec_type of the read: kModel serves the model (not control), kRandom serves at random (as
  // control); kNone follows InControl.
  enum class Override { kNone, kModel, kRandom } override = Override::kNone;
  std::span<const std::string_view> history;     // the user's item keys, newest first
  size_t limit = 10;                             // clamped to kMaxServedItems
  int64_t candidates_top_n = 1000;               // when candidate_items is empty
  std::span<const std::string> candidate_items;  // non-empty: the fixed candidate list
  std::span<const std::string> exclude_items;    // never served
  bool exclude_seen = true;                      // history items are never served
  int64_t day = 0;  // UTC day number: a random pick is stable within it
};

struct Served {
  std::vector<std::string> items;  // best first; at most the limit; no repeats
  bool is_control = false;
  bool random = false;  // picked at random (control); else ranked by model.used
};

// Answers `request` from `model` into `out` (overwriting it):
//  - control: kModel → not control; kRandom → control; kNone → InControl(amplitude_id,
//    control_key, control_percentage). Control users are served at random.
//  - candidates: candidate_items when non-empty (repeats dropped; keys the model does not know
//    can be served, ranked below every known item), else the candidates_top_n most popular
//    items; then exclude_items, and the history when exclude_seen, are dropped.
//  - model: candidates scored from the history items the model knows (ties to the more
//    popular); with no known history item, in popularity order. Unknown fixed-list keys follow
//    in list order.
//  - random: a deterministic shuffle of the candidates seeded by (amplitude_id, rec_id, day).
// Fails with InvalidArgument when control_percentage is not in [0, 100], and with Internal
// when the model holds no ItemModel. Allocates only the result (scratch is per thread).
Status Serve(const ServingModel& model, const ServeRequest& request, Served* out);

// Whether amplitude_id is in the control group of control_key: a fixed 64-bit hash of the
// pair (docs/RECS.md gives it), mod 10000, is below percentage × 100. Stable across runs,
// machines and versions. 0 puts nobody in control, 100 everybody.
bool InControl(uint64_t amplitude_id, std::string_view control_key, double percentage);

}  // namespace profiled::recs
