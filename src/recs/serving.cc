#include "recs/serving.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "core/hash.h"

namespace profiled::recs {

namespace {

// SplitMix64 (Steele et al. 2014): a tiny generator whose sequence is fixed by its seed.
class SplitMix {
 public:
  explicit SplitMix(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

constexpr uint8_t kExcluded = 1;
constexpr uint8_t kCandidate = 2;
constexpr uint8_t kInHistory = 4;

// Per-thread buffers, so a read allocates only its result once a thread has served a few.
struct Scratch {
  std::vector<uint8_t> marks;  // per item of the model; only `touched` entries are nonzero
  std::vector<int32_t> touched;
  std::vector<int32_t> history;           // known history items, deduplicated, newest first
  std::vector<int32_t> known;             // known candidates, in candidate order
  std::vector<std::string_view> unknown;  // fixed-list keys the model does not know
  std::vector<std::string_view> unknown_excluded;  // sorted
  std::vector<uint32_t> order;
  std::vector<float> scores;
  std::vector<ScoredItem> ranked;

  void Reset(size_t items) {
    for (int32_t i : touched) marks[static_cast<size_t>(i)] = 0;
    touched.clear();
    if (marks.size() < items) marks.resize(items, 0);
    history.clear();
    known.clear();
    unknown.clear();
    unknown_excluded.clear();
  }
  void Mark(int32_t item, uint8_t bits) {
    uint8_t& m = marks[static_cast<size_t>(item)];
    if (m == 0) touched.push_back(item);
    m |= bits;
  }
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

// Drops repeats from `keys`, keeping first occurrences in order: positions sorted by (key,
// position) put each key's first occurrence at the head of its run; the others are cleared to a
// null view (a key from a std::string never has a null data pointer) and compacted away.
void DropRepeats(std::vector<std::string_view>* keys, std::vector<uint32_t>* order) {
  std::vector<std::string_view>& k = *keys;
  if (k.size() < 2) return;
  order->resize(k.size());
  std::iota(order->begin(), order->end(), 0U);
  std::sort(order->begin(), order->end(),
            [&k](uint32_t a, uint32_t b) { return k[a] != k[b] ? k[a] < k[b] : a < b; });
  std::string_view run = k[(*order)[0]];
  for (size_t r = 1; r < order->size(); ++r) {
    std::string_view& key = k[(*order)[r]];
    if (key == run) {
      key = std::string_view();
    } else {
      run = key;
    }
  }
  std::erase_if(k, [](std::string_view v) { return v.data() == nullptr; });
}

}  // namespace

void TrainingSet::Add(uint64_t user, std::string_view item) {
  auto it = index_.find(item);
  int32_t i = 0;
  if (it == index_.end()) {
    i = static_cast<int32_t>(keys_.size());
    keys_.emplace_back(item);
    index_.emplace(keys_.back(), i);
  } else {
    i = it->second;
  }
  pairs_.emplace_back(user, i);
}

int32_t ServingModel::Find(std::string_view key) const {
  auto it = index_.find(key);
  return it == index_.end() ? -1 : it->second;
}

void ServingModel::IndexItems() {
  index_.clear();
  index_.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) index_.emplace(items[i], static_cast<int32_t>(i));
}

bool Servable(ModelKind kind) {
  switch (kind) {
    case ModelKind::kPopular:
    case ModelKind::kItemKnn:
    case ModelKind::kEase: return true;
    case ModelKind::kIals:
    case ModelKind::kBlend: return false;
  }
  return false;
}

std::string_view ServableModelNames() { return "ease, itemknn or popular"; }

uint64_t EaseTrainingBytes(int64_t items, int64_t users) {
  const auto m = static_cast<uint64_t>(std::max<int64_t>(items, 0));
  const auto n = static_cast<uint64_t>(std::max<int64_t>(users, 0));
  return 8 * m * m + (n < m ? 8 * n * m : 0);
}

Result<std::shared_ptr<const ServingModel>> TrainServingModel(const ModelOptions& options,
                                                              const TrainingSet& data,
                                                              int64_t now_ms,
                                                              uint64_t memory_budget_bytes) {
  if (!Servable(options.kind)) {
    return Status::InvalidArgument("model " + std::string(ModelName(options.kind)) +
                                   " is not served (expected " + std::string(ServableModelNames()) +
                                   ")");
  }
  const auto start = std::chrono::steady_clock::now();
  auto serving = std::make_shared<ServingModel>();
  serving->requested = options.kind;
  serving->trained_at_ms = now_ms;
  try {
    std::vector<std::pair<uint64_t, int32_t>> pairs = data.pairs();
    std::sort(pairs.begin(), pairs.end());
    pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
    serving->interactions = static_cast<int64_t>(pairs.size());

    // Index items most popular first (ties to the smaller key), so the top-n candidates are
    // the first n items: one contiguous slice of each row of an ease model.
    const std::vector<std::string>& keys = data.keys();
    std::vector<int32_t> counts(keys.size(), 0);
    for (const auto& [user, item] : pairs) ++counts[static_cast<size_t>(item)];
    std::vector<int32_t> order(keys.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
      auto ca = counts[static_cast<size_t>(a)];
      auto cb = counts[static_cast<size_t>(b)];
      return ca != cb ? ca > cb : keys[static_cast<size_t>(a)] < keys[static_cast<size_t>(b)];
    });
    std::vector<int32_t> rank(keys.size());
    serving->items.reserve(keys.size());
    for (size_t r = 0; r < order.size(); ++r) {
      rank[static_cast<size_t>(order[r])] = static_cast<int32_t>(r);
      serving->items.push_back(keys[static_cast<size_t>(order[r])]);
    }
    serving->by_popularity.resize(keys.size());
    std::iota(serving->by_popularity.begin(), serving->by_popularity.end(), 0);
    serving->IndexItems();

    std::vector<std::vector<int32_t>> user_items;
    for (size_t p = 0; p < pairs.size(); ++p) {
      if (p == 0 || pairs[p].first != pairs[p - 1].first) user_items.emplace_back();
      user_items.back().push_back(rank[static_cast<size_t>(pairs[p].second)]);
    }
    serving->users = static_cast<int64_t>(user_items.size());
    const auto num_items = static_cast<int32_t>(keys.size());
    Result<Interactions> interactions =
        Interactions::FromUserItems(num_items, std::move(user_items));
    if (!interactions.ok()) return interactions.status();

    ModelOptions used = options;
    if (options.kind == ModelKind::kEase && num_items > options.max_dense_items) {
      used.kind = ModelKind::kItemKnn;
      serving->note = "ease needs " + std::to_string(num_items) + " items > max_dense_items " +
                      std::to_string(options.max_dense_items) + ": serving itemknn";
    } else if (const uint64_t need = EaseTrainingBytes(num_items, serving->users);
               options.kind == ModelKind::kEase && need > memory_budget_bytes) {
      constexpr uint64_t kMiB = uint64_t{1} << 20;
      used.kind = ModelKind::kItemKnn;
      serving->note = "ease over " + std::to_string(num_items) + " items needs about " +
                      std::to_string((need + kMiB - 1) / kMiB) + " MiB to train, more than the " +
                      std::to_string(memory_budget_bytes / kMiB) +
                      " MiB left of recs.max_memory_mb: serving itemknn";
    }
    serving->used = used.kind;
    Result<std::unique_ptr<ItemModel>> model = TrainModel(used, *interactions);
    if (!model.ok()) return model.status();
    serving->model = std::move(model.value());
    const auto items = static_cast<uint64_t>(num_items);
    switch (used.kind) {
      case ModelKind::kEase: serving->memory_bytes = 4 * items * items; break;
      case ModelKind::kItemKnn:
        // each item keeps at most `neighbours` others: an index and a similarity each
        serving->memory_bytes =
            8 * items * std::min(static_cast<uint64_t>(used.neighbours), items - 1);
        break;
      default: serving->memory_bytes = 4 * items; break;
    }
    for (const std::string& key : serving->items) serving->memory_bytes += key.size() + 64;
  } catch (const std::bad_alloc&) {
    return Status::Internal("training " + std::string(ModelName(options.kind)) + ": out of memory");
  }
  serving->train_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return std::shared_ptr<const ServingModel>(std::move(serving));
}

bool InControl(uint64_t amplitude_id, std::string_view control_key, double percentage) {
  const uint64_t bucket = StableHasher().Add(amplitude_id).Add(control_key).Finish() % 10000;
  return static_cast<double>(bucket) < percentage * 100;
}

Status Serve(const ServingModel& model, const ServeRequest& request, Served* out) {
  if (!(request.control_percentage >= 0 && request.control_percentage <= 100)) {
    return Status::InvalidArgument("control_percentage must be in [0, 100]");
  }
  if (model.model == nullptr) return Status::Internal("serving model holds no item model");
  out->items.clear();
  switch (request.override) {
    case ServeRequest::Override::kModel: out->is_control = false; break;
    case ServeRequest::Override::kRandom: out->is_control = true; break;
    case ServeRequest::Override::kNone: {
      std::string_view key = request.control_key.empty() ? request.rec_id : request.control_key;
      out->is_control = InControl(request.amplitude_id, key, request.control_percentage);
      break;
    }
  }
  out->random = out->is_control;
  const size_t limit = std::min(request.limit, kMaxServedItems);
  if (limit == 0) return Status::Ok();

  Scratch& s = ThreadScratch();
  s.Reset(model.items.size());
  const bool fixed = !request.candidate_items.empty();

  // Exclusions. Keys the model does not know matter only against a fixed list.
  for (std::string_view key : request.history) {
    int32_t i = model.Find(key);
    if (i >= 0) {
      if ((s.marks[static_cast<size_t>(i)] & kInHistory) == 0) s.history.push_back(i);
      s.Mark(i, request.exclude_seen ? kInHistory | kExcluded : kInHistory);
    } else if (fixed && request.exclude_seen) {
      s.unknown_excluded.push_back(key);
    }
  }
  for (const std::string& key : request.exclude_items) {
    int32_t i = model.Find(key);
    if (i >= 0) {
      s.Mark(i, kExcluded);
    } else if (fixed) {
      s.unknown_excluded.emplace_back(key);
    }
  }

  // Candidates. The top-n are first collected unfiltered: the model path scores all of them,
  // one contiguous run of items (a slice of each ease row, whatever the exclusions), and skips
  // the excluded ones when ranking; the random path shuffles the filtered list.
  std::span<const int32_t> top_n;
  if (fixed) {
    std::sort(s.unknown_excluded.begin(), s.unknown_excluded.end());
    for (const std::string& key : request.candidate_items) {
      int32_t i = model.Find(key);
      if (i >= 0) {
        if ((s.marks[static_cast<size_t>(i)] & (kExcluded | kCandidate)) != 0) continue;
        s.Mark(i, kCandidate);
        s.known.push_back(i);
      } else if (!std::binary_search(s.unknown_excluded.begin(), s.unknown_excluded.end(),
                                     std::string_view(key))) {
        s.unknown.emplace_back(key);
      }
    }
    DropRepeats(&s.unknown, &s.order);
  } else {
    top_n =
        std::span<const int32_t>(model.by_popularity)
            .first(static_cast<size_t>(std::clamp<int64_t>(
                request.candidates_top_n, 0, static_cast<int64_t>(model.by_popularity.size()))));
    if (out->random) {
      for (int32_t i : top_n) {
        if ((s.marks[static_cast<size_t>(i)] & kExcluded) == 0) s.known.push_back(i);
      }
    }
  }
  if (out->random) {
    const size_t total = s.known.size() + s.unknown.size();
    auto key_of = [&](size_t c) -> std::string_view {
      return c < s.known.size() ? std::string_view(model.items[static_cast<size_t>(s.known[c])])
                                : s.unknown[c - s.known.size()];
    };
    // A partial Fisher–Yates shuffle of candidate positions: the first `limit` draws.
    const uint64_t seed = StableHasher()
                              .Add(request.amplitude_id)
                              .Add(request.rec_id)
                              .Add(static_cast<uint64_t>(request.day))
                              .Finish();
    SplitMix rng(seed);
    s.order.resize(total);
    std::iota(s.order.begin(), s.order.end(), 0U);
    const size_t n = std::min(limit, total);
    out->items.reserve(n);
    for (size_t r = 0; r < n; ++r) {
      size_t pick = r + static_cast<size_t>(rng.Next() % (total - r));
      std::swap(s.order[r], s.order[pick]);
      out->items.emplace_back(key_of(s.order[r]));
    }
    return Status::Ok();
  }

  // Model: rank the known candidates, then unknown fixed-list keys in list order.
  std::span<const int32_t> scored = fixed ? std::span<const int32_t>(s.known) : top_n;
  s.scores.resize(scored.size());
  if (s.history.empty()) {
    std::fill(s.scores.begin(), s.scores.end(), 0.0F);  // popularity order: ties to the lower
  } else {
    model.model->ScoreItems(s.history, scored, s.scores);
  }
  // The best `limit`, best first: a heap of the best so far whose top is the worst of them,
  // so most candidates lose to it at the first comparison (N log limit at worst). The order
  // is total (items are distinct), so ties never depend on the pass.
  auto better = [](const ScoredItem& a, const ScoredItem& b) {
    return a.score > b.score || (a.score == b.score && a.item < b.item);
  };
  s.ranked.clear();
  for (size_t c = 0; c < scored.size(); ++c) {
    if ((s.marks[static_cast<size_t>(scored[c])] & kExcluded) != 0) continue;
    const ScoredItem candidate{scored[c], s.scores[c]};
    if (s.ranked.size() < limit) {
      s.ranked.push_back(candidate);
      std::push_heap(s.ranked.begin(), s.ranked.end(), better);
    } else if (better(candidate, s.ranked.front())) {
      std::pop_heap(s.ranked.begin(), s.ranked.end(), better);
      s.ranked.back() = candidate;
      std::push_heap(s.ranked.begin(), s.ranked.end(), better);
    }
  }
  std::sort_heap(s.ranked.begin(), s.ranked.end(), better);
  const size_t n = s.ranked.size();
  out->items.reserve(std::min(limit, n + s.unknown.size()));
  for (size_t r = 0; r < n; ++r)
    out->items.push_back(model.items[static_cast<size_t>(s.ranked[r].item)]);
  for (size_t u = 0; u < s.unknown.size() && out->items.size() < limit; ++u) {
    out->items.emplace_back(s.unknown[u]);
  }
  return Status::Ok();
}

}  // namespace profiled::recs
