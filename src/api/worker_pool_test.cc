#include "api/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

namespace profiled::api {
namespace {

TEST(WorkerPoolTest, RunsTasksConcurrentlyOnItsThreads) {
  WorkerPool pool(4);
  // Four tasks that each wait for all four to have started: only concurrent threads finish
  // (fewer threads hang here, and the test's timeout fails it).
  std::atomic<int> started{0};
  std::promise<void> all_done;
  std::atomic<int> done{0};
  for (int i = 0; i < 4; ++i) {
    pool.Post([&] {
      ++started;
      while (started.load() < 4) std::this_thread::yield();
      if (++done == 4) all_done.set_value();
    });
  }
  all_done.get_future().wait();
  EXPECT_EQ(done.load(), 4);
}

TEST(WorkerPoolTest, StopRunsWhatWasPostedAndLaterPostsRunOnTheCaller) {
  std::atomic<int> ran{0};
  WorkerPool pool(1);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  pool.Post([gate] { gate.wait(); });  // holds the only thread
  for (int i = 0; i < 10; ++i) pool.Post([&] { ++ran; });
  std::thread stopper([&] { pool.Stop(); });
  release.set_value();
  stopper.join();
  EXPECT_EQ(ran.load(), 10);  // none dropped: every read posted gets its answer
  const std::thread::id caller = std::this_thread::get_id();
  std::thread::id where;
  pool.Post([&] { where = std::this_thread::get_id(); });
  EXPECT_EQ(where, caller);
}

}  // namespace
}  // namespace profiled::api
