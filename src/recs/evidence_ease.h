// EvidenceEaseModel: EASE (Steck 2019) with a separate input and target, so that what a user
// did beyond the positives can count as evidence without becoming something to predict.
// docs/RECS.md, "Evidence EASE in C++", says where it comes from and what it gains.
//
// Training rows u = 0..n-1 each have an input row x_u (sparse, any finite weights: a positive
// rated 5 may count 1.5, a movie rated 2 may count 0.25) and a target row y_u (the positives,
// 0/1). With X the inputs and Y the targets (n × m),
//
//   B = argmin ‖Y − X B‖²_F + Σ_j Λ_j ‖B_j·‖²   subject to diag(B) = 0,
//   Λ_j = λ + a · d_j,   d_j = Σ_u X_uj²   (a > 0: the dropout emphasis of Steck 2020, EDLAE),
//
// in closed form: P = (XᵀX + Λ)⁻¹, M = P XᵀY, γ_j = M_jj / P_jj, B = M − P diag(γ), so no
// item's own evidence enters its own score. The score of item j for a query's evidence q is
// (q B)_j · c_j^−β, c_j the number of training rows with j as a target (at least 1), β the
// popularity exponent. With X = Y and a = β = 0 it is plain EASE (EaseModel) exactly.
//
// Computed in the dual (users × users) form: with D = Λ^−1/2, A = X D, K = A Aᵀ + I,
//   P = D (I − Aᵀ K⁻¹ A) D,   M = D Aᵀ K⁻¹ Y,
// and a query scored as q B = z Y − ((q D − z A) D) diag(γ) with z = q D Aᵀ K⁻¹, without
// forming the m × m matrices P, M or B: a score costs O(n² + m + nnz(X) + nnz(Y)). Training
// costs O(n³ + n·nnz(X)) time and 2 n² doubles at the peak; the model keeps K⁻¹ (n² doubles)
// and the sparse X and Y. Meant for offline evaluation (`profiled eval --model evidence`),
// where n (users) is far below m (items); training refuses more than kMaxEvidenceRows rows.
//
// Immutable after Train; thread-safe (Score allocates its own scratch).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/status.h"
#include "recs/interactions.h"

namespace profiled::recs {

constexpr int32_t kMaxEvidenceRows = 20'000;  // 2 n² doubles at the peak: 6.4 GB at 20,000

struct EvidenceEaseOptions {
  double lambda = 300;             // λ, in (0, 1e7]
  double emphasis = 0;             // a, in [0, 100]
  double popularity_exponent = 0;  // β, in [0, 2]
};

class EvidenceEaseModel {
 public:
  // targets: the positives, one row per training row; inputs[u]: row u's evidence, distinct
  // items in [0, targets.num_items()) in any order, finite weights (zero allowed).
  // Fails with InvalidArgument when inputs.size() != targets.num_users(), a row repeats an
  // item or names one out of range, a weight is not finite, an option is out of range, or
  // there are more than kMaxEvidenceRows rows, or λ is so small against the weights that the
  // Cholesky of K fails or an item's Λ_j·P_jj falls below 1e-7 (too few correct digits left);
  // with Internal when memory runs out or the model's numbers are not finite (never throws).
  // An item in no row, as input or target, scores 0 for every query.
  static Result<std::unique_ptr<EvidenceEaseModel>> Train(
      const Interactions& targets, std::span<const std::vector<WeightedItem>> inputs,
      const EvidenceEaseOptions& options);

  int32_t num_items() const;

  // Writes (q B)_j · c_j^−β for every item j into `scores`, q the query's evidence (distinct
  // items, finite weights). REQUIRES: scores.size() == num_items(); every item in
  // [0, num_items()).
  void Score(std::span<const WeightedItem> evidence, std::span<float> scores) const;

  ~EvidenceEaseModel();

 private:
  struct State;
  explicit EvidenceEaseModel(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace profiled::recs
