// Synthetic interaction data with planted structure, for the recs unit tests only.
//
// ClusteredData: items 0..kBlockbusters-1 are "blockbusters" that every user interacts with
// at random, independently of taste (35 % of the users each), so they are the most popular
// items by far; the other items form `clusters` clusters of `cluster_size` items, and each user
// belongs to one cluster (user u to cluster u % clusters) and interacts with each of its items
// with probability 0.8, and with nothing in other clusters. For a user, an unseen in-cluster
// item is the likelier one (0.8 against 0.35), so a model that learns item-item structure
// must rank the user's unseen in-cluster items above the blockbusters; popularity ranks the
// blockbusters first (140 users each against 80).
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "recs/interactions.h"

namespace profiled::recs::testing {

inline constexpr int32_t kBlockbusters = 3;

struct ClusteredDataOptions {
  int32_t users = 400;
  int32_t clusters = 4;
  int32_t cluster_size = 12;
  uint64_t seed = 7;
};

inline int32_t ClusterItem(const ClusteredDataOptions& o, int32_t cluster, int32_t r) {
  return kBlockbusters + cluster * o.cluster_size + r;
}

inline Interactions ClusteredData(const ClusteredDataOptions& o) {
  std::mt19937_64 engine(o.seed);
  auto chance = [&engine](int per_thousand) {
    return static_cast<int>(engine() % 1000) < per_thousand;
  };
  std::vector<std::vector<int32_t>> user_items(static_cast<size_t>(o.users));
  for (int32_t u = 0; u < o.users; ++u) {
    std::vector<int32_t>& items = user_items[static_cast<size_t>(u)];
    for (int32_t b = 0; b < kBlockbusters; ++b) {
      if (chance(350)) items.push_back(b);
    }
    const int32_t cluster = u % o.clusters;
    for (int32_t r = 0; r < o.cluster_size; ++r) {
      if (chance(800)) items.push_back(ClusterItem(o, cluster, r));
    }
  }
  return Interactions::FromUserItems(kBlockbusters + o.clusters * o.cluster_size,
                                     std::move(user_items))
      .value();
}

}  // namespace profiled::recs::testing
