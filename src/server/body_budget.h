// BodyBudget: the bytes of request bodies the server holds in memory at once, across all
// connections (server.max_body_memory_mb). Without it, memory would be bounded only by
// max_connections times the largest body (20 MiB on /batch), whatever the clients do with it.
//
// A request takes its share before its body is read and gives it back once answered
// (BodyBudget::Share); a request that would pass the budget is refused instead (503).
// Thread-safe: one budget is shared by every I/O thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>

namespace profiled::server {

class BodyBudget {
 public:
  explicit BodyBudget(size_t limit_bytes) : limit_(limit_bytes) {}
  BodyBudget(const BodyBudget&) = delete;
  BodyBudget& operator=(const BodyBudget&) = delete;

  // The bytes taken from one budget by one request, given back when it goes.
  class Share {
   public:
    explicit Share(BodyBudget& budget) : budget_(budget) {}
    ~Share() { budget_.used_.fetch_sub(bytes_, std::memory_order_relaxed); }
    Share(const Share&) = delete;
    Share& operator=(const Share&) = delete;

    // Takes n more bytes. False, taking nothing, when the budget has fewer than n left.
    bool TryTake(size_t n) {
      size_t used = budget_.used_.load(std::memory_order_relaxed);
      do {
        if (n > budget_.limit_ - std::min(used, budget_.limit_)) return false;
      } while (!budget_.used_.compare_exchange_weak(used, used + n, std::memory_order_relaxed));
      bytes_ += n;
      return true;
    }
    size_t bytes() const { return bytes_; }

   private:
    BodyBudget& budget_;
    size_t bytes_ = 0;
  };

  size_t used() const { return used_.load(std::memory_order_relaxed); }

 private:
  const size_t limit_;
  std::atomic<size_t> used_{0};
};

}  // namespace profiled::server
