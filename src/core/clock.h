// Clock: the one source of "now" for the core, so tests can pin time.
//
// SystemClock reads the wall clock; ManualClock returns what the test sets. Both are
// thread-safe. Callers borrow a Clock& that outlives them.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace profiled {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch.
  virtual int64_t NowMs() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  // A process-wide instance.
  static SystemClock& Instance() {
    static SystemClock clock;
    return clock;
  }
};

// The system clock moved by an offset that may change at run time: the server's clock, so
// that end-to-end tests can move time (config testing.clock_offset_ms and
// testing.clock_control). With offset 0 it is the system clock.
class OffsetClock final : public Clock {
 public:
  explicit OffsetClock(int64_t offset_ms) : offset_ms_(offset_ms) {}
  int64_t NowMs() const override {
    return SystemClock::Instance().NowMs() + offset_ms_.load(std::memory_order_relaxed);
  }
  int64_t offset_ms() const { return offset_ms_.load(std::memory_order_relaxed); }
  void SetOffset(int64_t offset_ms) { offset_ms_.store(offset_ms, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> offset_ms_;
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t now_ms) : now_ms_(now_ms) {}
  int64_t NowMs() const override { return now_ms_.load(std::memory_order_relaxed); }
  void Set(int64_t now_ms) { now_ms_.store(now_ms, std::memory_order_relaxed); }
  void Advance(int64_t delta_ms) { now_ms_.fetch_add(delta_ms, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace profiled
