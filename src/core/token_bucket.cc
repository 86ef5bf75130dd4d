#include "core/token_bucket.h"

#include <algorithm>

namespace profiled {

namespace {
constexpr int64_t kMinuteUs = 60'000'000;
}  // namespace

// The config caps the rate at one token a microsecond, so the interval never rounds to 0.
TokenBucket::TokenBucket(int per_minute)
    : per_minute_(per_minute),
      interval_us_(std::max<int64_t>(1, kMinuteUs / per_minute)),
      tolerance_us_(interval_us_ * per_minute) {}

int64_t TokenBucket::Take(int64_t now_ms) {
  const int64_t now = now_ms * 1000;
  int64_t full_at = full_at_us_.load(std::memory_order_relaxed);
  for (;;) {
    // Taking a token moves the time the bucket is full again one interval later; that may run
    // at most the bucket's size ahead of now.
    int64_t next = std::max(full_at, now) + interval_us_;
    if (next - now > tolerance_us_) return (next - now - tolerance_us_ + 999) / 1000;
    if (full_at_us_.compare_exchange_weak(full_at, next, std::memory_order_relaxed)) return 0;
  }
}

void TokenBucket::ContinueFrom(const TokenBucket& previous, int64_t now_ms) {
  const int64_t now = now_ms * 1000;
  int64_t ahead = previous.full_at_us_.load(std::memory_order_relaxed) - now;
  if (ahead <= 0) return;
  int64_t in_use = std::min<int64_t>(ahead / previous.interval_us_, per_minute_);
  full_at_us_.store(now + in_use * interval_us_, std::memory_order_relaxed);
}

}  // namespace profiled
