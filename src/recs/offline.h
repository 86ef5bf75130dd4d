// The offline figures a server measures at every training (docs/RECS.md, "Offline figures"):
// leave-last-out hit rate and NDCG of the model a recommendation serves, on the data it is
// trained from.
//
// Up to kMaxOfflineUsers users with at least 2 distinct items are drawn deterministically
// (the smallest StableHasher values of their ids); each one's newest interaction is held out;
// the model is trained as the server trains it (TrainServingModel, with its fallbacks) on every
// other pair; each drawn user's remaining items are the history, the ranking covers every item
// the model knows but those (as exclude_seen), and the held-out item is looked for in the top
// k (recs/evaluation.h, recs/metrics.h). A held-out item only drawn users had counts as a miss.
// A pure function of its inputs; thread-safe. A caller that must stop early (a shutdown)
// passes `cancelled`, asked before the training and between drawn users.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_map>

#include "core/status.h"
#include "recs/model.h"
#include "recs/serving.h"

namespace profiled::recs {

inline constexpr size_t kMaxOfflineUsers = 1000;
inline constexpr size_t kOfflineCutoff = 10;

struct OfflineFigures {
  ModelKind model = ModelKind::kPopular;  // the kind measured (after TrainServingModel's fallbacks)
  double hit_rate = 0;  // share of drawn users whose held-out item is in the top k
  double ndcg = 0;      // mean NDCG@k (1 / log2(rank + 2) for a hit at 0-based rank)
  size_t k = kOfflineCutoff;
  int64_t users = 0;  // users drawn
};

// What MeasureOffline needs of one training: the options, the pairs and, per user, the index
// in data.keys() of their newest interaction.
struct OfflineInput {
  ModelOptions options;
  TrainingSet data;
  std::unordered_map<uint64_t, int32_t> newest;
  int64_t now_ms = 0;
};

// `newest`: per user of `data`, the index in data.keys() of their newest interaction. None
// when fewer than 2 users have 2 or more distinct items; fails with what TrainServingModel
// fails with, and with Unavailable as soon as `cancelled` (when given) returns true.
Result<std::optional<OfflineFigures>> MeasureOffline(
    const ModelOptions& options, const TrainingSet& data,
    const std::unordered_map<uint64_t, int32_t>& newest, int64_t now_ms,
    uint64_t memory_budget_bytes = UINT64_MAX, const std::function<bool()>& cancelled = {});

}  // namespace profiled::recs
