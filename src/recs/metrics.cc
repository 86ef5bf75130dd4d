#include "recs/metrics.h"

#include <algorithm>
#include <cmath>

namespace profiled::recs {

double RecallAtK(std::span<const int32_t> ranked, std::span<const int32_t> held_out, size_t k) {
  if (held_out.empty() || k == 0) return 0.0;
  size_t hits = 0;
  for (size_t r = 0; r < std::min(k, ranked.size()); ++r) {
    if (std::binary_search(held_out.begin(), held_out.end(), ranked[r])) ++hits;
  }
  return static_cast<double>(hits) / static_cast<double>(std::min(k, held_out.size()));
}

double NdcgAtK(std::span<const int32_t> ranked, std::span<const int32_t> held_out, size_t k) {
  if (held_out.empty() || k == 0) return 0.0;
  double dcg = 0;
  for (size_t r = 0; r < std::min(k, ranked.size()); ++r) {
    if (std::binary_search(held_out.begin(), held_out.end(), ranked[r])) {
      dcg += 1.0 / std::log2(static_cast<double>(r) + 2.0);
    }
  }
  double ideal = 0;
  for (size_t r = 0; r < std::min(k, held_out.size()); ++r) {
    ideal += 1.0 / std::log2(static_cast<double>(r) + 2.0);
  }
  return dcg / ideal;
}

}  // namespace profiled::recs
