// Ranking metrics of one user, with binary relevance: an item is relevant when it is in the
// user's held-out set. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace profiled::recs {

// Normalised recall (Liang et al. 2018): hits among the first k ranked items divided by
// min(k, |held_out|). 0 when held_out is empty. REQUIRES: held_out sorted ascending.
double RecallAtK(std::span<const int32_t> ranked, std::span<const int32_t> held_out, size_t k);

// NDCG@k: DCG = Σ_{r < k, ranked[r] relevant} 1 / log2(r + 2), divided by the DCG of a perfect
// ranking, Σ_{r < min(k, |held_out|)} 1 / log2(r + 2). 0 when held_out is empty.
// REQUIRES: held_out sorted ascending.
double NdcgAtK(std::span<const int32_t> ranked, std::span<const int32_t> held_out, size_t k);

}  // namespace profiled::recs
