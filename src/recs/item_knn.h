// ItemKnnModel: item-based nearest neighbours (Sarwar et al. 2001, Deshpande & Karypis 2004)
// with cosine similarity of the items' user sets, sim(i, j) = |U_i ∩ U_j| / sqrt(|U_i| |U_j|).
// Each item keeps its `neighbours` most similar other items (ties to the lower index); the
// score of item j for a history H is Σ_{i ∈ H} sim(i, j) over the kept lists of H's items.
// Immutable after Train; thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "recs/interactions.h"
#include "recs/model.h"

namespace profiled::recs {

class ItemKnnModel final : public ItemModel {
 public:
  // REQUIRES: neighbours ≥ 1.
  static std::unique_ptr<ItemKnnModel> Train(const Interactions& data, int32_t neighbours);
  ItemKnnModel() = default;  // a model of no items; Train makes real ones

  ModelKind kind() const override { return ModelKind::kItemKnn; }
  int32_t num_items() const override { return num_items_; }
  void Score(std::span<const int32_t> history, std::span<float> scores) const override;
  void ScoreItems(std::span<const int32_t> history, std::span<const int32_t> items,
                  std::span<float> out) const override;

  // The kept neighbours of `item`, most similar first, and their similarities (same length).
  // REQUIRES: 0 ≤ item < num_items().
  std::span<const int32_t> neighbours_of(int32_t item) const;
  std::span<const float> similarities_of(int32_t item) const;

 private:
  int32_t num_items_ = 0;
  // Compressed rows: the neighbours of item i are [offsets_[i], offsets_[i + 1]).
  std::vector<int64_t> offsets_;
  std::vector<int32_t> neighbour_items_;
  std::vector<float> neighbour_sims_;
};

}  // namespace profiled::recs
