#include "recs/offline.h"

#include <algorithm>
#include <array>
#include <vector>

#include "core/hash.h"
#include "recs/evaluation.h"

namespace profiled::recs {

Result<std::optional<OfflineFigures>> MeasureOffline(
    const ModelOptions& options, const TrainingSet& data,
    const std::unordered_map<uint64_t, int32_t>& newest, int64_t now_ms,
    uint64_t memory_budget_bytes) {
  std::unordered_map<uint64_t, std::vector<int32_t>> items_of;
  for (const auto& [user, item] : data.pairs()) items_of[user].push_back(item);
  struct Drawn {
    uint64_t hash;
    uint64_t user;
    int32_t held;
  };
  std::vector<Drawn> eligible;
  for (auto& [user, items] : items_of) {
    std::sort(items.begin(), items.end());
    items.erase(std::unique(items.begin(), items.end()), items.end());
    auto last = newest.find(user);
    if (items.size() < 2 || last == newest.end()) continue;
    eligible.push_back({StableHasher().Add(user).Finish(), user, last->second});
  }
  if (eligible.size() < 2) return std::optional<OfflineFigures>();
  auto by_hash = [](const Drawn& a, const Drawn& b) {
    return a.hash < b.hash || (a.hash == b.hash && a.user < b.user);
  };
  const size_t n = std::min(eligible.size(), kMaxOfflineUsers);
  std::partial_sort(eligible.begin(), eligible.begin() + static_cast<ptrdiff_t>(n), eligible.end(),
                    by_hash);
  eligible.resize(n);
  std::unordered_map<uint64_t, int32_t> held;
  for (const Drawn& d : eligible) held.emplace(d.user, d.held);

  TrainingSet rest;
  for (const auto& [user, item] : data.pairs()) {
    auto h = held.find(user);
    if (h == held.end() || h->second != item)
      rest.Add(user, data.keys()[static_cast<size_t>(item)]);
  }
  Result<std::shared_ptr<const ServingModel>> trained =
      TrainServingModel(options, rest, now_ms, memory_budget_bytes);
  if (!trained.ok()) return trained.status();
  const ServingModel& model = **trained;
  if (model.model == nullptr) return std::optional<OfflineFigures>();

  Result<Interactions> space =
      Interactions::FromUserItems(static_cast<int32_t>(model.items.size()), {});
  if (!space.ok()) return space.status();
  EvalSplit split;
  split.train = std::move(space.value());
  for (const Drawn& d : eligible) {
    EvalUser u;
    u.user = static_cast<int32_t>(split.users.size());
    const int32_t target = model.Find(data.keys()[static_cast<size_t>(d.held)]);
    if (target < 0) continue;  // only drawn users had it: a miss
    for (int32_t i : items_of[d.user]) {
      if (i == d.held) continue;
      const int32_t known = model.Find(data.keys()[static_cast<size_t>(i)]);
      if (known >= 0) u.history.push_back(known);
    }
    std::sort(u.history.begin(), u.history.end());
    u.held_out = {target};
    split.users.push_back(std::move(u));
  }
  OfflineFigures figures;
  figures.model = model.used;
  figures.users = static_cast<int64_t>(eligible.size());
  if (!split.users.empty()) {
    const std::array<size_t, 1> ks = {kOfflineCutoff};
    EvalReport report = EvaluateTrained(split, *model.model, ks);
    // EvaluateTrained averages over the users it ranked; the others are misses.
    const double share =
        static_cast<double>(split.users.size()) / static_cast<double>(eligible.size());
    figures.hit_rate = report.cutoffs[0].recall * share;
    figures.ndcg = report.cutoffs[0].ndcg * share;
  }
  return std::optional<OfflineFigures>(figures);
}

}  // namespace profiled::recs
