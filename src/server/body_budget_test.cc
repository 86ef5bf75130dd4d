#include "server/body_budget.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace profiled::server {
namespace {

TEST(BodyBudget, SharesTakeUpToTheLimitAndNoFurther) {
  BodyBudget budget(100);
  BodyBudget::Share a(budget);
  BodyBudget::Share b(budget);
  EXPECT_TRUE(a.TryTake(60));
  EXPECT_FALSE(b.TryTake(41));
  EXPECT_EQ(b.bytes(), 0u);
  EXPECT_TRUE(b.TryTake(40));
  EXPECT_FALSE(a.TryTake(1));
  EXPECT_EQ(budget.used(), 100u);
}

TEST(BodyBudget, AShareGivesItsBytesBackWhenItGoes) {
  BodyBudget budget(100);
  {
    BodyBudget::Share a(budget);
    ASSERT_TRUE(a.TryTake(70));
    ASSERT_TRUE(a.TryTake(30));
    EXPECT_EQ(a.bytes(), 100u);
  }
  EXPECT_EQ(budget.used(), 0u);
  BodyBudget::Share b(budget);
  EXPECT_TRUE(b.TryTake(100));
}

TEST(BodyBudget, ARequestLargerThanTheWholeBudgetIsRefused) {
  BodyBudget budget(100);
  BodyBudget::Share a(budget);
  EXPECT_FALSE(a.TryTake(101));
  EXPECT_EQ(budget.used(), 0u);
}

TEST(BodyBudget, ConcurrentSharesNeverPassTheLimit) {
  BodyBudget budget(1000);
  std::atomic<size_t> peak{0};
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        BodyBudget::Share s(budget);
        if (s.TryTake(300)) {
          size_t used = budget.used();
          size_t seen = peak.load();
          while (used > seen && !peak.compare_exchange_weak(seen, used)) {
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(peak.load(), 1000u);
  EXPECT_EQ(budget.used(), 0u);
}

}  // namespace
}  // namespace profiled::server
