// TokenBucket: a rate limit shared by threads without a lock: `per_minute` requests a minute,
// averaged over a minute (the bucket holds a minute's worth and refills at the rate), so a
// burst of up to `per_minute` passes after a quiet minute.
//
// It keeps one atomic, the theoretical arrival time of the next request (the generic cell
// rate algorithm, equivalent to a token bucket): taking a token is one load and one
// compare-and-swap, and the bucket holds no per-caller state. Time comes from the caller, in
// milliseconds, so tests drive it with a ManualClock's readings. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>

namespace profiled {

class TokenBucket {
 public:
  // REQUIRES: per_minute > 0. The bucket starts full.
  explicit TokenBucket(int per_minute);
  TokenBucket(const TokenBucket&) = delete;
  TokenBucket& operator=(const TokenBucket&) = delete;

  int per_minute() const { return per_minute_; }

  // Takes one token at `now_ms`: 0 when there was one, else how many milliseconds until there
  // will be (> 0; nothing is taken).
  int64_t Take(int64_t now_ms);

  // Continues what `previous` counted (a configuration reload, possibly with another rate):
  // the tokens `previous` had in use at `now_ms` are in use here, up to this bucket's size.
  // REQUIRES: nobody else uses this bucket yet.
  void ContinueFrom(const TokenBucket& previous, int64_t now_ms);

 private:
  const int per_minute_;
  const int64_t interval_us_;   // between two tokens
  const int64_t tolerance_us_;  // how far the next arrival time may run ahead: the bucket's size
  // When the bucket will be full again, in microseconds since the epoch (0: full).
  std::atomic<int64_t> full_at_us_{0};
};

}  // namespace profiled
