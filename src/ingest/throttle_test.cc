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

TEST(ProjectThrottle, OffForProjectsWithoutARate) {
  ManualClock clock(0);
  ProjectThrottle t(clock);
  EXPECT_FALSE(t.enabled());
  EXPECT_FALSE(t.Check("p", 1000000).any());
  t.SetLimits({{"p", 0}}, 30);
  EXPECT_FALSE(t.enabled());
  t.SetLimits({{"p", 1}}, 30);
  EXPECT_TRUE(t.enabled());
  EXPECT_FALSE(t.Check("other", 1000000).any());
}

TEST(ProjectThrottle, RefusesABatchOverTheProjectsRateWholeNamingEveryEvent) {
  ManualClock clock(0);
  ProjectThrottle t(clock);
  t.SetLimits({{"p", 2}}, 10);  // the window holds 20 events, all ids together
  ASSERT_FALSE(t.Check("p", 18).any());
  t.Take("p", 18);
  ThrottleReport r = t.Check("p", 3);
  EXPECT_TRUE(r.project);
  EXPECT_EQ(r.eps_threshold, 2);
  EXPECT_EQ(r.throttled_events, (std::vector<int>{0, 1, 2}));
  EXPECT_TRUE(r.throttled_devices.empty());
  EXPECT_TRUE(r.throttled_users.empty());
  EXPECT_FALSE(t.Check("p", 2).any());  // a refusal took nothing: 2 still fit
}

TEST(ProjectThrottle, ARequestLargerThanTheWindowWaitsForAFullBucketInsteadOfFailingForGood) {
  ManualClock clock(0);
  ProjectThrottle t(clock);
  t.SetLimits({{"p", 1}}, 30);  // 30 events in the window; an SDK flush may hold more
  t.Take("p", 1);
  EXPECT_TRUE(t.Check("p", 100).any());  // not full: refused, takes nothing
  clock.Advance(1000);                   // full again
  ASSERT_FALSE(t.Check("p", 100).any());
  t.Take("p", 100);  // 70 below empty: the next event fits 71 s later
  clock.Advance(int64_t{70} * 1000);
  EXPECT_TRUE(t.Check("p", 1).any());
  clock.Advance(1000);
  EXPECT_FALSE(t.Check("p", 1).any());
}

TEST(ProjectThrottle, WhatARequestNotAppliedTookIsGivenBack) {
  ManualClock clock(0);
  ProjectThrottle t(clock);
  t.SetLimits({{"p", 1}}, 10);
  ASSERT_FALSE(t.Check("p", 8).any());
  t.Take("p", 8);
  EXPECT_TRUE(t.Check("p", 8).any());
  t.GiveBack("p", 8);  // the store refused it (503): its retry fits at once
  EXPECT_FALSE(t.Check("p", 8).any());
  t.GiveBack("p", 8);  // never beyond what the window holds: 10, not 18
  t.Take("p", 10);
  EXPECT_TRUE(t.Check("p", 1).any());
}

TEST(ProjectThrottle, RefillsAtTheRateAveragedOverTheWindow) {
  ManualClock clock(0);
  ProjectThrottle t(clock);
  t.SetLimits({{"p", 1000}}, 30);  // Amplitude Starter: 1000 events/s per project, over 30 s
  ASSERT_FALSE(t.Check("p", 30000).any());
  t.Take("p", 30000);
  EXPECT_TRUE(t.Check("p", 1).any());
  clock.Advance(500);
  EXPECT_FALSE(t.Check("p", 500).any());
  EXPECT_TRUE(t.Check("p", 501).any());
}

TEST(ProjectThrottle, ProjectsAreCountedApart) {
  ManualClock clock(0);
  ProjectThrottle t(clock);
  t.SetLimits({{"a", 1}, {"b", 1}}, 5);
  t.Take("a", 5);
  EXPECT_TRUE(t.Check("a", 1).any());
  EXPECT_FALSE(t.Check("b", 5).any());
}

TEST(ProjectThrottle, NewLimitsKeepTheEventsTheWindowHolds) {
  ManualClock clock(0);
  ProjectThrottle t(clock);
  t.SetLimits({{"p", 10}}, 1);
  t.Take("p", 4);
  t.SetLimits({{"p", 20}}, 1);  // 4 of 20 in the window
  EXPECT_FALSE(t.Check("p", 16).any());
  EXPECT_TRUE(t.Check("p", 17).any());
  t.SetLimits({{"p", 3}}, 1);  // 4 already: more than the window holds now
  EXPECT_TRUE(t.Check("p", 1).any());
  t.SetLimits({}, 1);  // off, and forgotten
  EXPECT_FALSE(t.enabled());
  t.SetLimits({{"p", 3}}, 1);
  EXPECT_FALSE(t.Check("p", 3).any());
}

}  // namespace
}  // namespace profiled::ingest
