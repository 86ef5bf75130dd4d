#include "recs/offline.h"

#include <algorithm>
#include <array>
#include <vector>

#include "core/hash.h"
#include "recs/metrics.h"

namespace profiled::recs {

namespace {
Status Cancelled() { return Status::Unavailable("the offline measurement was cancelled"); }
}  // namespace

Result<std::optional<OfflineFigures>> MeasureOffline(
    const ModelOptions& options, const TrainingSet& data,
    const std::unordered_map<uint64_t, int32_t>& newest, int64_t now_ms,
    uint64_t memory_budget_bytes, const std::function<bool()>& cancelled) {
  auto stop = [&] { return cancelled && cancelled(); };
  if (stop()) return Cancelled();
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

  if (stop()) return Cancelled();

  // Each drawn user ranked as recs::EvaluateTrained ranks (top kOfflineCutoff of the model's
  // items, the history excluded), one at a time so that a cancel is seen between users.
  std::vector<float> scores(model.items.size());
  std::vector<uint8_t> excluded(model.items.size(), 0);
  std::vector<int32_t> history;
  std::vector<int32_t> ranked;
  double recall = 0;
  double ndcg = 0;
  size_t ranked_users = 0;
  for (const Drawn& d : eligible) {
    if (stop()) return Cancelled();
    const int32_t target = model.Find(data.keys()[static_cast<size_t>(d.held)]);
    if (target < 0) continue;  // only drawn users had it: a miss
    history.clear();
    for (int32_t i : items_of[d.user]) {
      if (i == d.held) continue;
      const int32_t known = model.Find(data.keys()[static_cast<size_t>(i)]);
      if (known >= 0) history.push_back(known);
    }
    std::sort(history.begin(), history.end());
    model.model->Score(history, scores);
    for (int32_t i : history) excluded[static_cast<size_t>(i)] = 1;
    std::vector<ScoredItem> top = TopItems(scores, excluded, kOfflineCutoff);
    for (int32_t i : history) excluded[static_cast<size_t>(i)] = 0;
    ranked.clear();
    for (const ScoredItem& s : top) ranked.push_back(s.item);
    const std::array<int32_t, 1> held_out = {target};
    recall += RecallAtK(ranked, held_out, kOfflineCutoff);
    ndcg += NdcgAtK(ranked, held_out, kOfflineCutoff);
    ++ranked_users;
  }
  OfflineFigures figures;
  figures.model = model.used;
  figures.users = static_cast<int64_t>(eligible.size());
  if (ranked_users > 0) {
    // The mean over the users ranked; the others are misses.
    const double users = static_cast<double>(ranked_users);
    const double share = users / static_cast<double>(eligible.size());
    figures.hit_rate = recall / users * share;
    figures.ndcg = ndcg / users * share;
  }
  return std::optional<OfflineFigures>(figures);
}

}  // namespace profiled::recs
