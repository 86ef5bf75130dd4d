#include "recs/blend.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <vector>

#include "recs/ease.h"
#include "recs/ials.h"

namespace profiled::recs {

void Standardise(std::span<float> scores, std::span<const uint8_t> seen) {
  double sum = 0;
  double sum_sq = 0;
  size_t n = 0;
  for (size_t j = 0; j < scores.size(); ++j) {
    if (seen[j] != 0) continue;
    sum += scores[j];
    sum_sq += static_cast<double>(scores[j]) * scores[j];
    ++n;
  }
  const double mean = n > 0 ? sum / static_cast<double>(n) : 0;
  const double variance = n > 0 ? sum_sq / static_cast<double>(n) - mean * mean : 0;
  if (!(variance > 0)) {
    std::fill(scores.begin(), scores.end(), 0.0F);
    return;
  }
  const double inv_sd = 1.0 / std::sqrt(variance);
  for (float& s : scores) s = static_cast<float>((s - mean) * inv_sd);
}

Result<std::unique_ptr<BlendModel>> BlendModel::Train(const Interactions& data,
                                                      const ModelOptions& options) {
  if (!(options.ials_weight >= 0 && options.ials_weight <= 1)) {
    return Status::InvalidArgument("blend: ials_weight must be in [0, 1]");
  }
  Result<std::unique_ptr<EaseModel>> ease =
      EaseModel::Train(data, options.lambda, options.max_dense_items, EaseModel::Form::kAuto,
                       options.popularity_exponent);
  if (!ease.ok()) return ease.status();
  Result<std::unique_ptr<IalsModel>> ials = IalsModel::Train(data, options.ials);
  if (!ials.ok()) return ials.status();
  return std::make_unique<BlendModel>(std::move(ease.value()), std::move(ials.value()),
                                      options.ials_weight);
}

BlendModel::BlendModel(std::shared_ptr<const ItemModel> ease, std::shared_ptr<const ItemModel> ials,
                       double ials_weight)
    : ease_(std::move(ease)), ials_(std::move(ials)), ials_weight_(ials_weight) {
  assert(ease_ != nullptr && ials_ != nullptr);
  assert(ease_->num_items() == ials_->num_items());
}

void BlendModel::Score(std::span<const int32_t> history, std::span<float> scores) const {
  const size_t n = scores.size();
  std::vector<uint8_t> seen(n, 0);
  for (int32_t i : history) seen[static_cast<size_t>(i)] = 1;
  std::vector<float> other(n);
  ease_->Score(history, scores);
  ials_->Score(history, other);
  Standardise(scores, seen);
  Standardise(other, seen);
  const auto w = static_cast<float>(ials_weight_);
  for (size_t j = 0; j < n; ++j) scores[j] = (1.0F - w) * scores[j] + w * other[j];
}

void BlendModel::ScoreItems(std::span<const int32_t> history, std::span<const int32_t> items,
                            std::span<float> out) const {
  std::vector<float> all(static_cast<size_t>(num_items()));
  Score(history, all);
  for (size_t k = 0; k < items.size(); ++k) out[k] = all[static_cast<size_t>(items[k])];
}

}  // namespace profiled::recs
