// WorkerPool: a fixed set of threads that run posted tasks in the order posted. The profile
// endpoint runs reads on one when the store is across a network (Store::Shared()), so that an
// I/O thread keeps many reads in flight instead of waiting for each round trip.
//
// Thread-safe. Stop (or the destructor) runs every task already posted, then joins; a task
// posted after Stop runs on the caller's thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace profiled::api {

class WorkerPool {
 public:
  // REQUIRES: threads >= 1.
  explicit WorkerPool(int threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void Post(std::function<void()> task);
  void Stop();

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace profiled::api
