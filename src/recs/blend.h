// BlendModel: two models of different kinds trained on the same data, their scores blended.
// An ease model (with its popularity debiasing) and an ials model each score every item for a
// history; each score vector is standardised over the items outside the history (minus its
// mean, over its standard deviation, so neither model's scale dominates), and the blend is
//   (1 − w) · z_ease + w · z_ials,   w = ials_weight.
// EASE's item-item weights and iALS's low-rank embeddings err differently (docs/RECS.md,
// "Beyond plain EASE"), which is what a blend gains from.
//
// Immutable after Train; thread-safe (Score allocates its own scratch).
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "core/status.h"
#include "recs/interactions.h"
#include "recs/model.h"

namespace profiled::recs {

// Rewrites `scores` as (score − mean) / standard deviation over the items j with seen[j] == 0;
// all zeros when they do not vary (an empty history, or a single unseen item).
// REQUIRES: seen.size() == scores.size().
void Standardise(std::span<float> scores, std::span<const uint8_t> seen);

class BlendModel final : public ItemModel {
 public:
  // Trains the ease part (options.lambda, popularity_exponent, max_dense_items) and the ials
  // part (options.ials) on `data`. Fails as EaseModel::Train and IalsModel::Train do, and with
  // InvalidArgument when ials_weight is outside [0, 1].
  static Result<std::unique_ptr<BlendModel>> Train(const Interactions& data,
                                                   const ModelOptions& options);
  // Blends two trained models, any kinds (the first is "ease", the second "ials" in the
  // formula above). Shared because the parts are immutable and a selection grid blends the
  // same two trained parts with many weights (selection.cc) instead of retraining them.
  // REQUIRES: both non-null with the same num_items(); 0 ≤ ials_weight ≤ 1.
  BlendModel(std::shared_ptr<const ItemModel> ease, std::shared_ptr<const ItemModel> ials,
             double ials_weight);

  ModelKind kind() const override { return ModelKind::kBlend; }
  int32_t num_items() const override { return ease_->num_items(); }
  void Score(std::span<const int32_t> history, std::span<float> scores) const override;
  // Costs a whole Score: the standardisation is over every item outside the history.
  void ScoreItems(std::span<const int32_t> history, std::span<const int32_t> items,
                  std::span<float> out) const override;

 private:
  std::shared_ptr<const ItemModel> ease_;
  std::shared_ptr<const ItemModel> ials_;
  double ials_weight_ = 0;
};

}  // namespace profiled::recs
