// SplitRandom: the random draws of the evaluation splits (recs/protocol.h) and validation
// folds. The standard library fixes mt19937_64's output but not what uniform_int_distribution
// or std::shuffle make of it, so both are written here to keep splits identical everywhere.
// Not thread-safe (one per split).
#pragma once

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace profiled::recs {

class SplitRandom {
 public:
  explicit SplitRandom(uint64_t seed) : engine_(seed) {}

  // Uniform in [0, n), by rejection of the biased top of the range. REQUIRES: n > 0.
  uint64_t Below(uint64_t n) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x = engine_();
    while (x >= limit) x = engine_();
    return x % n;
  }

  // Fisher–Yates.
  void Shuffle(std::vector<int32_t>* v) {
    for (size_t i = v->size(); i > 1; --i) std::swap((*v)[i - 1], (*v)[Below(i)]);
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace profiled::recs
