// EaseModel: Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data" (WWW '19).
// The item-item weights B minimise ‖X − XB‖²_F + λ‖B‖²_F subject to diag(B) = 0, in closed form:
//   P = (XᵀX + λI)⁻¹,  B_ij = −P_ij / P_jj (i ≠ j),  B_jj = 0,
// and the score of item j for a history H is Σ_{i ∈ H} B_ij.
//
// Optionally the scores are debiased against popularity (Steck 2011, "Item popularity and
// recommendation accuracy", RecSys '11): with popularity exponent β, column j of B is divided
// by c_j^β, c_j the number of users who interacted with j, so the score of j becomes
// c_j^−β Σ_{i ∈ H} B_ij. EASE fits the training data's popularity closely, and a heavily
// regularised B ranks popular items above what a user's held-out items hold (docs/RECS.md).
//
// Only items that occur in the training data take part in the inverse: an item nobody
// interacted with has a zero column in X, so its row and column of G = XᵀX + λI are λ·e_i and
// its B row and column are zero; dropping it gives the same B for the rest, exactly.
//
// P is computed in the cheaper of two exact forms: the primal (Cholesky of the m × m matrix G,
// m items) or, when there are fewer users than items, the dual through the Woodbury identity,
//   (λI + XᵀX)⁻¹ = (I − Xᵀ(λI + XXᵀ)⁻¹X) / λ = (I − YᵀY) / λ,  Y = L⁻¹X,  LLᵀ = λI + XXᵀ,
// which needs a users × users Cholesky and one rank-(users) update of an m × m matrix.
// The primal computes in double; the dual in double except its m × m rank update, in float
// (ease.cc says why that is safe). B is kept in float (m² × 4 bytes), row-major.
//
// Immutable after Train; thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "recs/huge_page_allocator.h"
#include "recs/interactions.h"
#include "recs/model.h"

namespace profiled::recs {

class EaseModel final : public ItemModel {
 public:
  enum class Form { kAuto, kPrimal, kDual };

  // Fails with InvalidArgument when lambda ≤ 0 (or not finite), popularity_exponent is outside
  // [0, 2], or more than max_dense_items items occur in data; with Internal when memory runs
  // out, a factorisation fails or a weight is not finite (a λ so large or small that P leaves
  // float's range). `form` forces one way of computing P (tests); kAuto picks the cheaper.
  // popularity_exponent is β above (0: plain EASE).
  static Result<std::unique_ptr<EaseModel>> Train(const Interactions& data, double lambda,
                                                  int32_t max_dense_items, Form form = Form::kAuto,
                                                  double popularity_exponent = 0);
  EaseModel() = default;  // a model of no items; Train makes real ones

  ModelKind kind() const override { return ModelKind::kEase; }
  int32_t num_items() const override { return num_items_; }
  void Score(std::span<const int32_t> history, std::span<float> scores) const override;
  void ScoreItems(std::span<const int32_t> history, std::span<const int32_t> items,
                  std::span<float> out) const override;

  // B_from,to: how much having `from` in the history adds to the score of `to` (with the
  // popularity debiasing applied).
  // REQUIRES: both in [0, num_items()).
  float weight(int32_t from, int32_t to) const;
  // The number of items that took part in training (those with an interaction).
  int32_t trained_items() const { return static_cast<int32_t>(trained_.size()); }

  // Appends the model's bytes to *out (recs/model_codec.h holds them in a serving model):
  // num_items and trained_items() as varints, the trained items (int32, ascending), then B
  // (trained_items()² floats, row-major), all little-endian. Costs about a memcpy of B.
  void AppendTo(std::string* out) const;
  // Reads AppendTo's bytes from the front of *in and advances *in past them. Fails with
  // Corruption when they are truncated or describe no model over `num_items` items (another
  // item count, a trained item out of range or out of order); with Internal when memory runs
  // out. Allocates no more than num_items and the bytes' length justify.
  static Result<std::unique_ptr<EaseModel>> DecodeFrom(std::string_view* in, int32_t num_items);

 private:
  int32_t num_items_ = 0;
  std::vector<int32_t> trained_;  // compact index → item
  std::vector<int32_t> compact_;  // item → compact index, or -1 when untrained
  // B over trained items, row-major, trained² entries; on huge pages (reads touch rows at random)
  std::vector<float, HugePageAllocator<float>> weights_;
};

}  // namespace profiled::recs
