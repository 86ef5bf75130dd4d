#include "core/token_bucket.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "core/clock.h"

namespace profiled {
namespace {

constexpr int64_t kStart = 1'700'000'000'000;

int Taken(TokenBucket& bucket, const Clock& clock, int tries) {
  int taken = 0;
  for (int i = 0; i < tries; ++i) taken += bucket.Take(clock.NowMs()) == 0 ? 1 : 0;
  return taken;
}

TEST(TokenBucket, AFullBucketLetsAMinutesWorthThroughAtOnce) {
  ManualClock clock(kStart);
  TokenBucket bucket(600);
  EXPECT_EQ(Taken(bucket, clock, 600), 600);
  EXPECT_GT(bucket.Take(clock.NowMs()), 0);
}

TEST(TokenBucket, ARefusalSaysHowLongUntilTheNextTokenAndTakesNothing) {
  ManualClock clock(kStart);
  TokenBucket bucket(60);  // one token a second
  ASSERT_EQ(Taken(bucket, clock, 60), 60);
  EXPECT_EQ(bucket.Take(clock.NowMs()), 1000);
  EXPECT_EQ(bucket.Take(clock.NowMs()), 1000);  // the refusals took nothing
  clock.Advance(400);
  EXPECT_EQ(bucket.Take(clock.NowMs()), 600);
  clock.Advance(600);
  EXPECT_EQ(bucket.Take(clock.NowMs()), 0);
  EXPECT_EQ(bucket.Take(clock.NowMs()), 1000);
}

TEST(TokenBucket, RefillsAtTheRateUpToAMinutesWorth) {
  ManualClock clock(kStart);
  TokenBucket bucket(120);  // two tokens a second
  ASSERT_EQ(Taken(bucket, clock, 120), 120);
  clock.Advance(5000);
  EXPECT_EQ(Taken(bucket, clock, 100), 10);
  clock.Advance(int64_t{10} * 60 * 1000);  // a long quiet spell fills the bucket, no more
  EXPECT_EQ(Taken(bucket, clock, 1000), 120);
}

TEST(TokenBucket, ThreadsTakingAtOnceNeverGetMoreThanTheBucketHolds) {
  ManualClock clock(kStart);
  TokenBucket bucket(10000);
  std::atomic<int> taken{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) taken += bucket.Take(clock.NowMs()) == 0 ? 1 : 0;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(taken.load(), 10000);
}

TEST(TokenBucket, ANewRateContinuesWhatTheOldBucketCounted) {
  ManualClock clock(kStart);
  TokenBucket old_bucket(100);
  ASSERT_EQ(Taken(old_bucket, clock, 40), 40);
  TokenBucket larger(200);
  larger.ContinueFrom(old_bucket, clock.NowMs());
  EXPECT_EQ(Taken(larger, clock, 1000), 160);  // 40 of 200 were in use
  TokenBucket smaller(30);
  smaller.ContinueFrom(old_bucket, clock.NowMs());
  EXPECT_EQ(Taken(smaller, clock, 1000), 0);  // 40 in use is more than it holds
  clock.Advance(2000);                        // one token a 2 s
  EXPECT_EQ(Taken(smaller, clock, 1000), 1);
  TokenBucket fresh(30);
  fresh.ContinueFrom(TokenBucket(100), clock.NowMs());
  EXPECT_EQ(Taken(fresh, clock, 1000), 30);
}

}  // namespace
}  // namespace profiled
