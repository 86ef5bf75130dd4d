// IalsModel: implicit alternating least squares (Hu, Koren & Volinsky 2008), in the form and
// with the frequency-scaled regularisation of Rendle, Krichene, Zhang & Koren 2022, "Revisiting
// the Performance of iALS on Item Recommendation Benchmarks" (RecSys '22). Users and items get
// d-dimensional embeddings W (users × d) and H (items × d) minimising
//
//   Σ_{(u,i) positive} (⟨w_u, h_i⟩ − 1)²  +  α₀ Σ_u Σ_i ⟨w_u, h_i⟩²
//     + λ ( Σ_u (|I_u| + α₀·items)^ν ‖w_u‖²  +  Σ_i (|U_i| + α₀·users)^ν ‖h_i‖² ),
//
// the second term pulling every (user, item) pair towards 0 with the small weight α₀. Training
// alternates exact solves of the user side and the item side (`epochs` times each), every
// row a d × d Cholesky.
//
// Only the item embeddings are kept. A history is folded in at scoring time exactly as the
// training's user step would treat it:
//   w = (α₀ HᵀH + Σ_{i∈history} h_i h_iᵀ + λ (|history| + α₀·items)^ν I)⁻¹ Σ_{i∈history} h_i,
// and the score of item j is ⟨w, h_j⟩. So the user's newest items count at once, without
// retraining, and a user the model never saw (the strong protocol's fold-in) is served the
// same way.
//
// Training draws the initial item embeddings from N(0, (0.1)² / d) with the generator seeded
// by `seed`, through code written here, so a model depends only on its data and options.
// Immutable after Train; thread-safe (Score allocates its own scratch).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/status.h"
#include "recs/interactions.h"
#include "recs/model.h"

namespace profiled::recs {

class IalsModel final : public ItemModel {
 public:
  // Fails with InvalidArgument when an option is out of range (names it); with Internal when
  // a factorisation fails (it cannot for λ > 0 on finite data) or memory runs out.
  //
  // `confidences` is empty (every observed pair weighs 1, the loss above) or holds one list
  // per user, confidences[u][k] > 0 the weight c of the pair (u, data.items_of(u)[k]) in the
  // observed term, c·(⟨w_u, h_i⟩ − 1)² (the confidence of Hu, Koren & Volinsky 2008; α₀
  // still weighs every pair). The regularisation still counts pairs, not their weights.
  // Fails with InvalidArgument when the lists do not match data's rows or a weight is not
  // finite and positive.
  static Result<std::unique_ptr<IalsModel>> Train(
      const Interactions& data, const IalsOptions& options,
      std::span<const std::vector<float>> confidences = {});
  IalsModel() = default;  // a model of no items; Train makes real ones

  ModelKind kind() const override { return ModelKind::kIals; }
  int32_t num_items() const override { return num_items_; }
  void Score(std::span<const int32_t> history, std::span<float> scores) const override;
  // The fold-in (a d × d Cholesky) plus d multiply-adds per candidate.
  void ScoreItems(std::span<const int32_t> history, std::span<const int32_t> items,
                  std::span<float> out) const override;

  // Score with a weighted history: the fold-in weighs item i's pair by its weight c_i,
  //   w = (α₀ HᵀH + Σ c_i h_i h_iᵀ + λ (|history| + α₀·items)^ν I)⁻¹ Σ c_i h_i,
  // so weights of 1 give Score. REQUIRES: as Score; distinct items, weights finite and > 0.
  void ScoreWeighted(std::span<const WeightedItem> history, std::span<float> scores) const;

  int32_t factors() const { return factors_; }
  // The embedding h_item, factors() values. REQUIRES: 0 ≤ item < num_items().
  std::span<const double> item_embedding(int32_t item) const;

 private:
  // The fold-in w above for `history`, factors() values; empty for an empty history.
  // `weights` is empty (every item weighs 1) or weights[k] the weight of history[k].
  std::vector<double> FoldIn(std::span<const int32_t> history,
                             std::span<const float> weights = {}) const;
  // Sets scores[j] = ⟨w, h_j⟩ for every item (every score 0 when w is empty, no history).
  void ScoreFoldIn(std::span<const double> w, std::span<float> scores) const;

  int32_t num_items_ = 0;
  int32_t factors_ = 0;
  double alpha0_ = 0;
  double lambda_ = 0;
  double reg_exponent_ = 0;
  std::vector<double> item_factors_;  // H, row-major, num_items × factors
  std::vector<double> gramian_;       // α₀ HᵀH, factors × factors, column-major
};

}  // namespace profiled::recs
