#include "recs/interactions.h"

#include <algorithm>
#include <string>

namespace profiled::recs {

Result<Interactions> Interactions::FromUserItems(int32_t num_items,
                                                 std::vector<std::vector<int32_t>> user_items) {
  if (num_items < 0) return Status::InvalidArgument("negative item count");
  Interactions out;
  out.num_items_ = num_items;
  out.item_counts_.assign(static_cast<size_t>(num_items), 0);
  for (size_t u = 0; u < user_items.size(); ++u) {
    std::vector<int32_t>& items = user_items[u];
    std::sort(items.begin(), items.end());
    items.erase(std::unique(items.begin(), items.end()), items.end());
    if (!items.empty() && (items.front() < 0 || items.back() >= num_items)) {
      return Status::InvalidArgument("user " + std::to_string(u) + " has an item outside [0, " +
                                     std::to_string(num_items) + ")");
    }
    for (int32_t i : items) ++out.item_counts_[static_cast<size_t>(i)];
    out.size_ += static_cast<int64_t>(items.size());
  }
  out.user_items_ = std::move(user_items);
  return out;
}

}  // namespace profiled::recs
