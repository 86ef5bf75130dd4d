// PopularModel: scores every item by the number of users who interacted with it in the
// training data, whatever the user's history. The baseline every other model must beat, and
// what a user without history gets. Immutable after Train; thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "recs/interactions.h"
#include "recs/model.h"

namespace profiled::recs {

class PopularModel final : public ItemModel {
 public:
  static std::unique_ptr<PopularModel> Train(const Interactions& data);
  // A model scoring item i by counts[i]; Train is the usual way to get one.
  explicit PopularModel(std::vector<float> counts) : counts_(std::move(counts)) {}

  ModelKind kind() const override { return ModelKind::kPopular; }
  int32_t num_items() const override { return static_cast<int32_t>(counts_.size()); }
  void Score(std::span<const int32_t> history, std::span<float> scores) const override;
  void ScoreItems(std::span<const int32_t> history, std::span<const int32_t> items,
                  std::span<float> out) const override;

 private:
  std::vector<float> counts_;
};

}  // namespace profiled::recs
