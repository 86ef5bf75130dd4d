#include "recs/popular.h"

#include <algorithm>

namespace profiled::recs {

std::unique_ptr<PopularModel> PopularModel::Train(const Interactions& data) {
  const std::vector<int32_t>& counts = data.item_counts();
  return std::make_unique<PopularModel>(std::vector<float>(counts.begin(), counts.end()));
}

void PopularModel::Score(std::span<const int32_t> /*history*/, std::span<float> scores) const {
  std::copy(counts_.begin(), counts_.end(), scores.begin());
}

void PopularModel::ScoreItems(std::span<const int32_t> /*history*/, std::span<const int32_t> items,
                              std::span<float> out) const {
  for (size_t k = 0; k < items.size(); ++k) out[k] = counts_[static_cast<size_t>(items[k])];
}

}  // namespace profiled::recs
