#include "recs/popular.h"

#include <algorithm>
#include <new>
#include <string>

#include "core/coding.h"

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

void PopularModel::AppendTo(std::string* out) const {
  PutVarint64(out, counts_.size());
  PutArrayLE(out, std::span<const float>(counts_));
}

Result<std::unique_ptr<PopularModel>> PopularModel::DecodeFrom(std::string_view* in,
                                                               int32_t num_items) {
  uint64_t n = 0;
  if (!GetVarint64(in, &n)) return Status::Corruption("popular model: truncated");
  if (n != static_cast<uint64_t>(num_items)) {
    return Status::Corruption("popular model over " + std::to_string(n) + " items, expected " +
                              std::to_string(num_items));
  }
  if (!HasArrayLE<float>(*in, n)) return Status::Corruption("popular model: truncated");
  try {
    std::vector<float> counts(n);
    (void)GetArrayLE(in, std::span<float>(counts));
    return std::make_unique<PopularModel>(std::move(counts));
  } catch (const std::bad_alloc&) {
    return Status::Internal("popular: out of memory decoding a model of " + std::to_string(n) +
                            " items");
  }
}

}  // namespace profiled::recs
