// ItemKnnModel: item-based nearest neighbours (Sarwar et al. 2001, Deshpande & Karypis 2004)
// with cosine similarity of the items' user sets, sim(i, j) = |U_i ∩ U_j| / sqrt(|U_i| |U_j|).
// Each item keeps its `neighbours` most similar other items (ties to the lower index); the
// score of item j for a history H is Σ_{i ∈ H} sim(i, j) over the kept lists of H's items.
// Immutable after Train; thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
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

  // Appends the model's bytes to *out (recs/model_codec.h holds them in a serving model):
  // num_items and the number of kept neighbours as varints, then the num_items + 1 row offsets
  // (int64), the neighbours (int32) and their similarities (float), all little-endian.
  void AppendTo(std::string* out) const;
  // Reads AppendTo's bytes from the front of *in and advances *in past them. Fails with
  // Corruption when they are truncated or describe no model over `num_items` items (another
  // item count, offsets not starting at 0, decreasing or past the arrays, a neighbour out of
  // range); with Internal when memory runs out. Allocates no more than the bytes' length
  // justifies.
  static Result<std::unique_ptr<ItemKnnModel>> DecodeFrom(std::string_view* in, int32_t num_items);

 private:
  int32_t num_items_ = 0;
  // Compressed rows: the neighbours of item i are [offsets_[i], offsets_[i + 1]).
  std::vector<int64_t> offsets_;
  std::vector<int32_t> neighbour_items_;
  std::vector<float> neighbour_sims_;
};

}  // namespace profiled::recs
