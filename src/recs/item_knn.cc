#include "recs/item_knn.h"

#include <algorithm>
#include <cmath>
#include <new>
#include <string>

#include "core/coding.h"

namespace profiled::recs {

std::unique_ptr<ItemKnnModel> ItemKnnModel::Train(const Interactions& data, int32_t neighbours) {
  const int32_t n = data.num_items();
  std::vector<std::vector<int32_t>> users_of(static_cast<size_t>(n));
  for (int32_t u = 0; u < data.num_users(); ++u) {
    for (int32_t i : data.items_of(u)) users_of[static_cast<size_t>(i)].push_back(u);
  }
  const std::vector<int32_t>& counts = data.item_counts();

  auto model = std::make_unique<ItemKnnModel>();
  model->num_items_ = n;
  model->offsets_.reserve(static_cast<size_t>(n) + 1);
  model->offsets_.push_back(0);
  // Co-occurrence counts of one item with every other, accumulated densely and reset through
  // the list of touched entries, so one item costs what its users' histories hold, not n.
  std::vector<int32_t> co(static_cast<size_t>(n), 0);
  std::vector<int32_t> touched;
  std::vector<ScoredItem> candidates;
  for (int32_t i = 0; i < n; ++i) {
    touched.clear();
    for (int32_t u : users_of[static_cast<size_t>(i)]) {
      for (int32_t j : data.items_of(u)) {
        if (j == i) continue;
        if (co[static_cast<size_t>(j)]++ == 0) touched.push_back(j);
      }
    }
    candidates.clear();
    for (int32_t j : touched) {
      double denominator = std::sqrt(static_cast<double>(counts[static_cast<size_t>(i)]) *
                                     static_cast<double>(counts[static_cast<size_t>(j)]));
      candidates.push_back(
          {j, static_cast<float>(static_cast<double>(co[static_cast<size_t>(j)]) / denominator)});
      co[static_cast<size_t>(j)] = 0;
    }
    auto better = [](const ScoredItem& a, const ScoredItem& b) {
      return a.score > b.score || (a.score == b.score && a.item < b.item);
    };
    size_t keep = std::min(candidates.size(), static_cast<size_t>(neighbours));
    std::partial_sort(candidates.begin(), candidates.begin() + static_cast<ptrdiff_t>(keep),
                      candidates.end(), better);
    for (size_t r = 0; r < keep; ++r) {
      model->neighbour_items_.push_back(candidates[r].item);
      model->neighbour_sims_.push_back(candidates[r].score);
    }
    model->offsets_.push_back(static_cast<int64_t>(model->neighbour_items_.size()));
  }
  return model;
}

std::span<const int32_t> ItemKnnModel::neighbours_of(int32_t item) const {
  auto begin = static_cast<size_t>(offsets_[static_cast<size_t>(item)]);
  auto end = static_cast<size_t>(offsets_[static_cast<size_t>(item) + 1]);
  return std::span<const int32_t>(neighbour_items_).subspan(begin, end - begin);
}

std::span<const float> ItemKnnModel::similarities_of(int32_t item) const {
  auto begin = static_cast<size_t>(offsets_[static_cast<size_t>(item)]);
  auto end = static_cast<size_t>(offsets_[static_cast<size_t>(item) + 1]);
  return std::span<const float>(neighbour_sims_).subspan(begin, end - begin);
}

void ItemKnnModel::Score(std::span<const int32_t> history, std::span<float> scores) const {
  std::fill(scores.begin(), scores.end(), 0.0F);
  for (int32_t i : history) {
    std::span<const int32_t> items = neighbours_of(i);
    std::span<const float> sims = similarities_of(i);
    for (size_t r = 0; r < items.size(); ++r) scores[static_cast<size_t>(items[r])] += sims[r];
  }
}

void ItemKnnModel::ScoreItems(std::span<const int32_t> history, std::span<const int32_t> items,
                              std::span<float> out) const {
  // Scatter into a per-thread dense buffer in Score's order (so each sum is bit-identical to
  // Score's), read the candidates, then zero only the entries the history touched: the cost is
  // the history's neighbour lists plus the candidates, never the item space.
  thread_local std::vector<float> dense;
  if (dense.size() < static_cast<size_t>(num_items_))
    dense.resize(static_cast<size_t>(num_items_), 0.0F);
  for (int32_t i : history) {
    std::span<const int32_t> neighbours = neighbours_of(i);
    std::span<const float> sims = similarities_of(i);
    for (size_t r = 0; r < neighbours.size(); ++r) {
      dense[static_cast<size_t>(neighbours[r])] += sims[r];
    }
  }
  for (size_t k = 0; k < items.size(); ++k) out[k] = dense[static_cast<size_t>(items[k])];
  for (int32_t i : history) {
    for (int32_t j : neighbours_of(i)) dense[static_cast<size_t>(j)] = 0.0F;
  }
}

void ItemKnnModel::AppendTo(std::string* out) const {
  PutVarint64(out, static_cast<uint64_t>(num_items_));
  PutVarint64(out, neighbour_items_.size());
  // A default-constructed model has no offsets; its one row offset is 0.
  const int64_t empty = 0;
  PutArrayLE(out, offsets_.empty() ? std::span<const int64_t>(&empty, 1)
                                   : std::span<const int64_t>(offsets_));
  PutArrayLE(out, std::span<const int32_t>(neighbour_items_));
  PutArrayLE(out, std::span<const float>(neighbour_sims_));
}

Result<std::unique_ptr<ItemKnnModel>> ItemKnnModel::DecodeFrom(std::string_view* in,
                                                               int32_t num_items) {
  auto truncated = [] { return Status::Corruption("itemknn model: truncated"); };
  uint64_t n = 0;
  uint64_t kept = 0;
  if (!GetVarint64(in, &n) || !GetVarint64(in, &kept)) return truncated();
  if (n != static_cast<uint64_t>(num_items)) {
    return Status::Corruption("itemknn model over " + std::to_string(n) + " items, expected " +
                              std::to_string(num_items));
  }
  // Each kept neighbour takes 8 bytes (an item and a similarity).
  if (!HasArrayLE<int64_t>(*in, n + 1) || !HasArrayLE<uint64_t>(*in, kept)) return truncated();
  try {
    auto model = std::make_unique<ItemKnnModel>();
    model->num_items_ = num_items;
    model->offsets_.resize(n + 1);
    (void)GetArrayLE(in, std::span<int64_t>(model->offsets_));
    if (model->offsets_.front() != 0 || model->offsets_.back() != static_cast<int64_t>(kept)) {
      return Status::Corruption("itemknn model: row offsets do not span the " +
                                std::to_string(kept) + " neighbours");
    }
    for (size_t i = 0; i < n; ++i) {
      if (model->offsets_[i] > model->offsets_[i + 1]) {
        return Status::Corruption("itemknn model: row offsets decrease at item " +
                                  std::to_string(i));
      }
    }
    if (!HasArrayLE<int32_t>(*in, kept)) return truncated();
    model->neighbour_items_.resize(kept);
    (void)GetArrayLE(in, std::span<int32_t>(model->neighbour_items_));
    for (int32_t item : model->neighbour_items_) {
      if (item < 0 || item >= num_items) {
        return Status::Corruption("itemknn model: neighbour " + std::to_string(item) +
                                  " not in [0, " + std::to_string(num_items) + ")");
      }
    }
    if (!HasArrayLE<float>(*in, kept)) return truncated();
    model->neighbour_sims_.resize(kept);
    (void)GetArrayLE(in, std::span<float>(model->neighbour_sims_));
    return model;
  } catch (const std::bad_alloc&) {
    return Status::Internal("itemknn: out of memory decoding a model of " + std::to_string(n) +
                            " items");
  }
}

}  // namespace profiled::recs
