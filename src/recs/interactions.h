// Interactions: an implicit-feedback data set, users × items, where each user holds the set of
// items they interacted with (a positive). Users and items are dense indices, 0 ≤ item <
// num_items(); mapping them from external ids (MovieLens ids, item property values) is the
// caller's business.
//
// A value type: immutable after construction, safe to share between threads for reading.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"

namespace profiled::recs {

// One item of a weighted history or evidence row: the item and how much it counts.
struct WeightedItem {
  int32_t item = 0;
  float weight = 0;
};

class Interactions {
 public:
  Interactions() = default;

  // Builds the set from one item list per user (in any order, repeats allowed: each user's
  // list is sorted and made unique). Fails with InvalidArgument when an item is negative or
  // not below num_items, or num_items is negative.
  static Result<Interactions> FromUserItems(int32_t num_items,
                                            std::vector<std::vector<int32_t>> user_items);

  int32_t num_users() const { return static_cast<int32_t>(user_items_.size()); }
  int32_t num_items() const { return num_items_; }
  // The items of `user`, sorted ascending, no repeats. REQUIRES: 0 ≤ user < num_users().
  std::span<const int32_t> items_of(int32_t user) const {
    return user_items_[static_cast<size_t>(user)];
  }
  // How many users interacted with each item (size num_items()).
  const std::vector<int32_t>& item_counts() const { return item_counts_; }
  // Total number of (user, item) positives.
  int64_t size() const { return size_; }

 private:
  int32_t num_items_ = 0;
  std::vector<std::vector<int32_t>> user_items_;
  std::vector<int32_t> item_counts_;
  int64_t size_ = 0;
};

}  // namespace profiled::recs
