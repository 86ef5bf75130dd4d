// PopularModel: scores every item by the number of users who interacted with it in the
// training data, whatever the user's history. The baseline every other model must beat, and
// what a user without history gets. Immutable after Train; thread-safe.
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

  // Appends the model's bytes to *out (recs/model_codec.h holds them in a serving model): the
  // item count as a varint, then the counts as little-endian floats.
  void AppendTo(std::string* out) const;
  // Reads AppendTo's bytes from the front of *in and advances *in past them. Fails with
  // Corruption when they are truncated or hold another number of items than `num_items`;
  // with Internal when memory runs out.
  static Result<std::unique_ptr<PopularModel>> DecodeFrom(std::string_view* in, int32_t num_items);

 private:
  std::vector<float> counts_;
};

}  // namespace profiled::recs
