#include "ingest/throttle.h"

#include <gtest/gtest.h>

namespace profiled::ingest {
namespace {

Event E(std::string user, std::string device) {
  Event e;
  e.user_id = std::move(user);
  e.device_id = std::move(device);
  return e;
}

TEST(Throttle, OffAtZero) {
  ManualClock clock(0);
  Throttle t(0, 30, clock);
  EXPECT_FALSE(t.enabled());
  EXPECT_FALSE(t.Admit("p", std::vector<Event>(100, E("u", "d"))).any());
}

TEST(Throttle, RefusesABatchOverTheRateAndTakesNothing) {
  ManualClock clock(0);
  Throttle t(5, 1, clock);
  std::vector<Event> batch(6, E("", "dev"));
  batch.push_back(E("other-user", ""));
  ThrottleReport r = t.Admit("p", batch);
  ASSERT_TRUE(r.any());
  EXPECT_EQ(r.throttled_events, (std::vector<int>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(r.throttled_devices.at("dev"), 6);
  EXPECT_TRUE(r.throttled_users.empty());
  EXPECT_EQ(r.eps_threshold, 5);
  // Nothing was taken, so five events still fit.
  EXPECT_FALSE(t.Admit("p", std::vector<Event>(5, E("", "dev"))).any());
}

TEST(Throttle, RefillsOverTime) {
  ManualClock clock(0);
  Throttle t(10, 1, clock);
  EXPECT_FALSE(t.Admit("p", std::vector<Event>(10, E("u", ""))).any());
  EXPECT_TRUE(t.Admit("p", {E("u", "")}).any());
  clock.Advance(500);  // half a second: five tokens
  EXPECT_FALSE(t.Admit("p", std::vector<Event>(5, E("u", ""))).any());
  EXPECT_TRUE(t.Admit("p", {E("u", "")}).any());
}

TEST(Throttle, UsersAndDevicesAndProjectsAreCountedApart) {
  ManualClock clock(0);
  Throttle t(2, 1, clock);
  EXPECT_FALSE(t.Admit("p", {E("same", ""), E("same", "")}).any());
  EXPECT_FALSE(t.Admit("p", {E("", "same"), E("", "same")}).any());
  EXPECT_FALSE(t.Admit("q", {E("same", ""), E("same", "")}).any());
  ThrottleReport r = t.Admit("p", {E("same", "")});
  EXPECT_EQ(r.throttled_users.at("same"), 3);  // 2 events already in the 1 s window, + 1
}

TEST(Throttle, ReportsEachIdsRateInEventsPerSecondOverTheWindow) {
  ManualClock clock(0);
  Throttle t(30, 30, clock);  // the window holds 900 events
  // Amplitude's example: threshold 30, device at 31 events/s (930 events in 30 s).
  ThrottleReport r = t.Admit("p", std::vector<Event>(930, E("", "dev")));
  EXPECT_EQ(r.eps_threshold, 30);
  EXPECT_EQ(r.throttled_devices.at("dev"), 31);
  // 1000 events are 33.3 events/s over 30 s: reported rounded up, not as 1000 events.
  r = t.Admit("p", std::vector<Event>(1000, E("u", "")));
  EXPECT_EQ(r.throttled_users.at("u"), 34);
  // Events already admitted count: 890 in the window, then 20 more are 910/30 = 30.3/s.
  EXPECT_FALSE(t.Admit("p", std::vector<Event>(890, E("", "busy"))).any());
  r = t.Admit("p", std::vector<Event>(20, E("", "busy")));
  EXPECT_EQ(r.throttled_devices.at("busy"), 31);
}

TEST(Throttle, TheRateIsAveragedOverTheWindow) {
  ManualClock clock(0);
  Throttle t(30, 30, clock);  // Amplitude's 30 events/s over 30 s
  // A burst of 900 fits; the 901st event does not until time passes.
  EXPECT_FALSE(t.Admit("p", std::vector<Event>(200, E("", "dev"))).any());
  EXPECT_FALSE(t.Admit("p", std::vector<Event>(700, E("", "dev"))).any());
  EXPECT_TRUE(t.Admit("p", {E("", "dev")}).any());
  clock.Advance(1000);
  EXPECT_FALSE(t.Admit("p", std::vector<Event>(30, E("", "dev"))).any());
}

TEST(Throttle, NewLimitsApplyToTheEventsAlreadyCounted) {
  ManualClock clock(0);
  Throttle t(10, 1, clock);
  EXPECT_FALSE(t.Admit("p", std::vector<Event>(4, E("u", ""))).any());  // 6 tokens left
  t.SetLimits(3, 1);  // the bucket holds at most 3 now
  EXPECT_EQ(t.Admit("p", std::vector<Event>(4, E("u", ""))).eps_threshold, 3);
  EXPECT_TRUE(t.Admit("p", std::vector<Event>(4, E("u", ""))).any());
  EXPECT_FALSE(t.Admit("p", std::vector<Event>(3, E("u", ""))).any());
  t.SetLimits(0, 1);
  EXPECT_FALSE(t.enabled());
  EXPECT_FALSE(t.Admit("p", std::vector<Event>(100, E("u", ""))).any());
  t.SetLimits(2, 1);  // on again: nothing counted while it was off
  EXPECT_FALSE(t.Admit("p", std::vector<Event>(2, E("u", ""))).any());
}

}  // namespace
}  // namespace profiled::ingest
