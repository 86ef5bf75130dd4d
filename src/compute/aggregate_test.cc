#include "compute/aggregate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "compute/match.h"
#include "core/coding.h"
#include "core/value_text.h"

namespace profiled::compute {
namespace {

namespace json = boost::json;

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kJan1 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr int64_t kToday = 20454 + 9;         // 2026-01-10, the day of kNow
constexpr int64_t kHour = 3'600'000;
constexpr int64_t kNow = kJan1 + 9 * kDay + 12 * kHour;  // 2026-01-10T12:00:00Z

// An event that owns its properties; View() lends them as EventFields.
struct Ev {
  std::string type = "Purchase";
  int64_t time_ms = kNow;
  json::object props;
  json::object fields;
  EventFields View() const { return EventFields{type, time_ms, &props, &fields}; }
};

Ev At(int64_t time_ms, json::object props = {}) {
  Ev e;
  e.time_ms = time_ms;
  e.props = std::move(props);
  return e;
}

// Noon of the day `days_ago` days before kNow's day.
int64_t DaysAgo(int64_t days_ago) { return kNow - days_ago * kDay; }

TimeScope Rolling(int days) {
  TimeScope s;
  s.kind = TimeScope::Kind::kRolling;
  s.days = days;
  return s;
}

TimeScope Range(int64_t start_ms, int64_t end_ms) {
  TimeScope s;
  s.kind = TimeScope::Kind::kRange;
  s.start_ms = start_ms;
  s.end_ms = end_ms;
  return s;
}

AggregateSpec Spec(Metric metric, std::string property = "", TimeScope scope = {}) {
  AggregateSpec s;
  s.event_type = "Purchase";
  s.metric = metric;
  s.property = std::move(property);
  s.scope = scope;
  return s;
}

SpecState Feed(const AggregateSpec& spec, const std::vector<Ev>& events, int64_t now_ms = kNow) {
  SpecState state;
  for (const Ev& e : events) {
    if (SpecMatches(spec, e.View())) state.Add(spec, e.View(), now_ms);
  }
  return state;
}

Value Eval(const AggregateSpec& spec, const std::vector<Ev>& events, int64_t now_ms = kNow) {
  return Feed(spec, events, now_ms).Evaluate(spec, now_ms);
}

int64_t Int(const Value& v) {
  EXPECT_TRUE(std::holds_alternative<int64_t>(v));
  return std::holds_alternative<int64_t>(v) ? std::get<int64_t>(v) : -1;
}

double Num(const Value& v) {
  EXPECT_TRUE(std::holds_alternative<double>(v));
  return std::holds_alternative<double>(v) ? std::get<double>(v) : -1;
}

std::string Text(const Value& v) {
  EXPECT_TRUE(std::holds_alternative<JsonText>(v));
  return std::holds_alternative<JsonText>(v) ? std::get<JsonText>(v).text : "<none>";
}

bool None(const Value& v) { return std::holds_alternative<std::monostate>(v); }

json::object Price(json::value price) { return json::object{{"price", std::move(price)}}; }

// ---- DayOf ----------------------------------------------------------------------------------

TEST(DayOf, CountsUtcDaysSinceTheEpoch) {
  EXPECT_EQ(DayOf(0), 0);
  EXPECT_EQ(DayOf(kJan1), 20454);
  EXPECT_EQ(DayOf(kNow), kToday);
}

TEST(DayOf, ChangesExactlyAtUtcMidnight) {
  EXPECT_EQ(DayOf(kJan1 - 1), 20453);  // 2025-12-31T23:59:59.999Z
  EXPECT_EQ(DayOf(kJan1), 20454);      // 2026-01-01T00:00:00.000Z
  EXPECT_EQ(DayOf(kJan1 + kDay - 1), 20454);
}

TEST(DayOf, FloorsNegativeTimes) {
  EXPECT_EQ(DayOf(-1), -1);
  EXPECT_EQ(DayOf(-kDay), -1);
  EXPECT_EQ(DayOf(-kDay - 1), -2);
  EXPECT_EQ(DayOf(std::numeric_limits<int64_t>::min()),
            std::numeric_limits<int64_t>::min() / kDay - 1);
}

TEST(DayOf, CountsLeapDays) {
  constexpr int64_t kFeb28of2028 = 1'835'308'800'000;  // 2028-02-28T00:00:00Z
  EXPECT_EQ(DayOf(kFeb28of2028), 21242);
  EXPECT_EQ(DayOf(kFeb28of2028 + kDay), 21243);      // Feb 29
  EXPECT_EQ(DayOf(kFeb28of2028 + 2 * kDay), 21244);  // Mar 1
}

// ---- SpecMatches ----------------------------------------------------------------------------

TEST(SpecMatches, NeedsTheEventType) {
  AggregateSpec spec = Spec(Metric::kCount);
  Ev e = At(kNow);
  EXPECT_TRUE(SpecMatches(spec, e.View()));
  e.type = "Purchases";
  EXPECT_FALSE(SpecMatches(spec, e.View()));
}

TEST(SpecMatches, ActiveMatchesEveryEventType) {
  AggregateSpec spec = Spec(Metric::kCount);
  spec.event_type = "_active";
  Ev e = At(kNow);
  e.type = "Anything";
  EXPECT_TRUE(SpecMatches(spec, e.View()));
}

TEST(SpecMatches, NeedsEveryWhereFilter) {
  AggregateSpec spec = Spec(Metric::kCount);
  spec.where = {Filter{"category", FilterOp::kIs, {"books"}},
                Filter{"price", FilterOp::kGreater, {"10"}}};
  EXPECT_TRUE(SpecMatches(spec, At(kNow, {{"category", "books"}, {"price", "12.5"}}).View()));
  EXPECT_FALSE(SpecMatches(spec, At(kNow, {{"category", "books"}, {"price", 9}}).View()));
  EXPECT_FALSE(SpecMatches(spec, At(kNow, {{"category", "music"}, {"price", 12}}).View()));
  EXPECT_FALSE(SpecMatches(spec, At(kNow, {{"price", 12}}).View()));
}

TEST(SpecMatches, ReadsTopLevelFieldsWithADollarPrefix) {
  AggregateSpec spec = Spec(Metric::kCount);
  spec.where = {Filter{"$platform", FilterOp::kIs, {"iOS"}}};
  Ev e = At(kNow, {{"platform", "Web"}});
  e.fields = {{"platform", "iOS"}};
  EXPECT_TRUE(SpecMatches(spec, e.View()));
  e.fields = {{"platform", "Web"}};
  e.props = {{"platform", "iOS"}};
  EXPECT_FALSE(SpecMatches(spec, e.View()));
}

TEST(SpecMatches, TreatsAbsentPropertyObjectsAsMissingValues) {
  AggregateSpec spec = Spec(Metric::kCount);
  spec.where = {Filter{"a", FilterOp::kNotSet, {}}, Filter{"$b", FilterOp::kIsNot, {"x"}}};
  EventFields e{"Purchase", kNow, nullptr, nullptr};
  EXPECT_TRUE(SpecMatches(spec, e));
  spec.where = {Filter{"a", FilterOp::kSet, {}}};
  EXPECT_FALSE(SpecMatches(spec, e));
}

// ---- Metrics --------------------------------------------------------------------------------

TEST(Aggregate, CountCountsMatchingEvents) {
  AggregateSpec spec = Spec(Metric::kCount);
  EXPECT_EQ(Int(Eval(spec, {At(kNow), At(kNow - 5), At(1000)})), 3);
}

TEST(Aggregate, CountIsZeroWithoutEvents) {
  EXPECT_EQ(Int(SpecState().Evaluate(Spec(Metric::kCount), kNow)), 0);
  EXPECT_EQ(Int(SpecState().Evaluate(Spec(Metric::kCount, "", Rolling(7)), kNow)), 0);
}

TEST(Aggregate, CountCountsEventsWhateverTheirProperties) {
  AggregateSpec spec = Spec(Metric::kCount);
  EXPECT_EQ(Int(Eval(spec, {At(kNow), At(kNow, Price(nullptr)), At(kNow, Price("x"))})), 3);
}

TEST(Aggregate, SumAddsNumericValuesIncludingNumericStrings) {
  AggregateSpec spec = Spec(Metric::kSum, "price");
  EXPECT_DOUBLE_EQ(Num(Eval(spec, {At(kNow, Price(10)), At(kNow, Price("12.5")),
                                   At(kNow, Price(0.25)), At(kNow, Price(-2))})),
                   20.75);
}

TEST(Aggregate, SumSkipsNonNumericMissingAndNullValues) {
  AggregateSpec spec = Spec(Metric::kSum, "price");
  EXPECT_DOUBLE_EQ(
      Num(Eval(spec, {At(kNow, Price(4)), At(kNow, Price("abc")), At(kNow, Price(nullptr)),
                      At(kNow), At(kNow, Price(true)), At(kNow, Price(json::array{1, 2}))})),
      4);
}

TEST(Aggregate, SumIsZeroWithoutEvents) {
  Value v = SpecState().Evaluate(Spec(Metric::kSum, "price"), kNow);
  EXPECT_EQ(Num(v), 0.0);
}

TEST(Aggregate, MinMaxAndAvgReadNumericValues) {
  std::vector<Ev> events = {At(kNow, Price(3)), At(kNow, Price("-1.5")), At(kNow, Price(10)),
                            At(kNow, Price("n/a")), At(kNow)};
  EXPECT_DOUBLE_EQ(Num(Eval(Spec(Metric::kMin, "price"), events)), -1.5);
  EXPECT_DOUBLE_EQ(Num(Eval(Spec(Metric::kMax, "price"), events)), 10);
  EXPECT_DOUBLE_EQ(Num(Eval(Spec(Metric::kAvg, "price"), events)), 11.5 / 3);
}

TEST(Aggregate, MinMaxAndAvgHaveNoValueWithoutANumericValue) {
  std::vector<Ev> events = {At(kNow, Price("n/a")), At(kNow), At(kNow, Price(nullptr))};
  for (Metric m : {Metric::kMin, Metric::kMax, Metric::kAvg}) {
    EXPECT_TRUE(None(Eval(Spec(m, "price"), events)));
    EXPECT_TRUE(None(Eval(Spec(m, "price", Rolling(3)), events)));
    EXPECT_TRUE(SpecState().Evaluate(Spec(m, "price"), kNow).index() == 0);
  }
}

TEST(Aggregate, MinAndMaxOfZeroAndNegativeValuesAreExact) {
  std::vector<Ev> events = {At(kNow, Price(0)), At(kNow, Price(-3))};
  EXPECT_EQ(Num(Eval(Spec(Metric::kMin, "price"), events)), -3);
  EXPECT_EQ(Num(Eval(Spec(Metric::kMax, "price"), events)), 0);
  EXPECT_EQ(Num(Eval(Spec(Metric::kMax, "price"), {At(kNow, Price(-3))})), -3);
}

TEST(Aggregate, FirstAndLastFollowEventTimeNotArrivalOrder) {
  std::vector<Ev> events = {At(kNow - 10, Price("b")), At(kNow - 30, Price("a")),
                            At(kNow, Price("c")), At(kNow - 20, Price("x"))};
  EXPECT_EQ(Text(Eval(Spec(Metric::kFirst, "price"), events)), "\"a\"");
  EXPECT_EQ(Text(Eval(Spec(Metric::kLast, "price"), events)), "\"c\"");
}

TEST(Aggregate, FirstKeepsTheEarlierAddedAndLastTakesTheLaterAddedOnTies) {
  std::vector<Ev> events = {At(kNow, Price(1)), At(kNow, Price(2))};
  EXPECT_EQ(Text(Eval(Spec(Metric::kFirst, "price"), events)), "1");
  EXPECT_EQ(Text(Eval(Spec(Metric::kLast, "price"), events)), "2");
  EXPECT_EQ(Text(Eval(Spec(Metric::kFirst, "price", Rolling(2)), events)), "1");
  EXPECT_EQ(Text(Eval(Spec(Metric::kLast, "price", Rolling(2)), events)), "2");
}

TEST(Aggregate, FirstAndLastKeepTheValueAsJsonText) {
  auto last = [](json::value v) {
    return Text(Eval(Spec(Metric::kLast, "price"), {At(kNow, Price(std::move(v)))}));
  };
  EXPECT_EQ(last("12.5"), "\"12.5\"");
  EXPECT_EQ(last(12.5), "12.5");
  EXPECT_EQ(last(7), "7");
  EXPECT_EQ(last(true), "true");
  EXPECT_EQ(last(json::array{1, "a"}), "[1,\"a\"]");
  EXPECT_EQ(last(json::object{{"k", "v\"q"}}), "{\"k\":\"v\\\"q\"}");
}

TEST(Aggregate, FirstAndLastSkipMissingAndNullValues) {
  std::vector<Ev> events = {At(kNow - 30), At(kNow - 20, Price(nullptr)), At(kNow - 10, Price(5)),
                            At(kNow - 5, Price(nullptr)), At(kNow)};
  EXPECT_EQ(Text(Eval(Spec(Metric::kFirst, "price"), events)), "5");
  EXPECT_EQ(Text(Eval(Spec(Metric::kLast, "price"), events)), "5");
  EXPECT_TRUE(None(Eval(Spec(Metric::kLast, "price"), {At(kNow)})));
  EXPECT_TRUE(None(SpecState().Evaluate(Spec(Metric::kFirst, "price"), kNow)));
}

TEST(Aggregate, ValueMetricsReadTopLevelFieldsWithADollarPrefix) {
  Ev e = At(kNow, {{"revenue", 1}});
  e.fields = {{"revenue", 9.5}, {"platform", "iOS"}};
  EXPECT_DOUBLE_EQ(Num(Eval(Spec(Metric::kSum, "$revenue"), {e, e})), 19);
  EXPECT_EQ(Text(Eval(Spec(Metric::kLast, "$platform"), {e})), "\"iOS\"");
  EXPECT_TRUE(None(Eval(Spec(Metric::kLast, "$missing"), {e})));
}

TEST(Aggregate, DistinctCountCountsDistinctValues) {
  AggregateSpec spec = Spec(Metric::kDistinctCount, "sku");
  std::vector<Ev> events = {At(kNow, {{"sku", "a"}}),
                            At(kNow, {{"sku", "b"}}),
                            At(kNow, {{"sku", "a"}}),
                            At(kNow, {{"sku", 1}}),
                            At(kNow, {{"sku", "1"}}),  // a string is not the number
                            At(kNow, {{"sku", json::array{"a"}}}),
                            At(kNow, {{"sku", nullptr}}),
                            At(kNow)};
  EXPECT_EQ(Int(Eval(spec, events)), 5);
}

TEST(Aggregate, DistinctCountIsZeroWithoutEvents) {
  EXPECT_EQ(Int(SpecState().Evaluate(Spec(Metric::kDistinctCount, "sku"), kNow)), 0);
}

TEST(Aggregate, DistinctCountInARollingWindowCountsValuesSeenInTheWindow) {
  AggregateSpec spec = Spec(Metric::kDistinctCount, "sku", Rolling(7));
  std::vector<Ev> events = {At(DaysAgo(6), {{"sku", "a"}}), At(DaysAgo(3), {{"sku", "b"}}),
                            At(DaysAgo(1), {{"sku", "a"}}), At(DaysAgo(7), {{"sku", "c"}})};
  SpecState s = Feed(spec, events);
  EXPECT_EQ(Int(s.Evaluate(spec, kNow)), 2);
  EXPECT_EQ(Int(s.Evaluate(spec, kNow + 3 * kDay)), 2);  // a seen again 1 day ago
  EXPECT_EQ(Int(s.Evaluate(spec, kNow + 4 * kDay)), 1);  // b left
  EXPECT_EQ(Int(s.Evaluate(spec, kNow + 5 * kDay)), 1);
  EXPECT_EQ(Int(s.Evaluate(spec, kNow + 6 * kDay)), 0);
}

TEST(Aggregate, DistinctCountSaturatesAtTheCap) {
  AggregateSpec spec = Spec(Metric::kDistinctCount, "sku");
  SpecState s;
  for (size_t i = 0; i < kMaxDistinctValues + 50; ++i) {
    Ev e = At(kNow, {{"sku", static_cast<int64_t>(i)}});
    s.Add(spec, e.View(), kNow);
  }
  EXPECT_EQ(Int(s.Evaluate(spec, kNow)), static_cast<int64_t>(kMaxDistinctValues));
}

TEST(Aggregate, DistinctCountPastTheCapForgetsTheOldestValue) {
  AggregateSpec spec = Spec(Metric::kDistinctCount, "sku", Rolling(10));
  SpecState s;
  for (size_t i = 0; i < kMaxDistinctValues; ++i) {
    Ev e = At(DaysAgo(9), {{"sku", static_cast<int64_t>(i)}});
    s.Add(spec, e.View(), kNow);
  }
  Ev fresh = At(kNow, {{"sku", "fresh"}});
  s.Add(spec, fresh.View(), kNow);
  EXPECT_EQ(Int(s.Evaluate(spec, kNow)), static_cast<int64_t>(kMaxDistinctValues));
  // The next day the old values leave the window; the fresh one was kept.
  EXPECT_EQ(Int(s.Evaluate(spec, kNow + kDay)), 1);
}

TEST(Aggregate, DistinctDaysCountsDaysWithAMatchingEvent) {
  AggregateSpec spec = Spec(Metric::kDistinctDays);
  std::vector<Ev> events = {At(DaysAgo(0)),  At(DaysAgo(0) + 1), At(DaysAgo(2)),
                            At(DaysAgo(40)), At(kJan1 - 1),      At(kJan1)};
  EXPECT_EQ(Int(Eval(spec, events)), 5);
  EXPECT_EQ(Int(SpecState().Evaluate(spec, kNow)), 0);
}

TEST(Aggregate, DistinctDaysInARollingWindowCountsOnlyTheWindow) {
  AggregateSpec spec = Spec(Metric::kDistinctDays, "", Rolling(3));
  std::vector<Ev> events = {At(DaysAgo(0)), At(DaysAgo(1)), At(DaysAgo(1)), At(DaysAgo(2)),
                            At(DaysAgo(3))};
  SpecState s = Feed(spec, events);
  EXPECT_EQ(Int(s.Evaluate(spec, kNow)), 3);
  EXPECT_EQ(Int(s.Evaluate(spec, kNow + kDay)), 2);
  EXPECT_EQ(Int(s.Evaluate(spec, kNow + 3 * kDay)), 0);
}

TEST(Aggregate, DistinctDaysOfAllTimeKeepsTheNewestDaysPastTheCap) {
  AggregateSpec spec = Spec(Metric::kDistinctDays);
  SpecState s;
  for (size_t i = 0; i < kMaxDistinctDays + 10; ++i) {
    Ev e = At(kNow - static_cast<int64_t>(i) * kDay);
    s.Add(spec, e.View(), kNow);
  }
  EXPECT_EQ(Int(s.Evaluate(spec, kNow)), static_cast<int64_t>(kMaxDistinctDays));
  // An event on a day older than every kept one is forgotten at once.
  Ev old = At(kNow - 5000 * kDay);
  s.Add(spec, old.View(), kNow);
  EXPECT_EQ(Int(s.Evaluate(spec, kNow)), static_cast<int64_t>(kMaxDistinctDays));
}

// ---- Rolling windows ------------------------------------------------------------------------

TEST(RollingWindow, CoversExactlyNDaysEndingToday) {
  AggregateSpec spec = Spec(Metric::kCount, "", Rolling(30));
  EXPECT_EQ(Int(Eval(spec, {At(DaysAgo(29))})), 1);  // today-N+1 counts
  EXPECT_EQ(Int(Eval(spec, {At(DaysAgo(30))})), 0);  // today-N does not
  EXPECT_EQ(Int(Eval(spec, {At(DaysAgo(0))})), 1);
}

TEST(RollingWindow, StartsAtUtcMidnight) {
  AggregateSpec spec = Spec(Metric::kCount, "", Rolling(1));
  const int64_t midnight = kJan1 + 9 * kDay;  // 2026-01-10T00:00:00.000Z
  EXPECT_EQ(Int(Eval(spec, {At(midnight)})), 1);
  EXPECT_EQ(Int(Eval(spec, {At(midnight - 1)})), 0);  // 2026-01-09T23:59:59.999Z
  // A read at the last millisecond of the day still sees the whole day.
  EXPECT_EQ(Int(Eval(spec, {At(midnight)}, midnight + kDay - 1)), 1);
  EXPECT_EQ(Int(Eval(spec, {At(midnight)}, midnight + kDay)), 0);
}

TEST(RollingWindow, SpansALeapDay) {
  constexpr int64_t kFeb28of2028 = 1'835'308'800'000;
  constexpr int64_t kFeb29 = kFeb28of2028 + kDay;
  constexpr int64_t kMar1 = kFeb29 + kDay;
  AggregateSpec spec = Spec(Metric::kCount, "", Rolling(2));
  std::vector<Ev> events = {At(kFeb28of2028 + 1000), At(kFeb29 + kDay - 1), At(kMar1)};
  EXPECT_EQ(Int(Eval(spec, events, kMar1 + 5)), 2);  // Feb 29 and Mar 1
  EXPECT_EQ(Int(Eval(spec, events, kFeb29)), 2);     // Feb 28 and Feb 29
  EXPECT_EQ(Int(Eval(Spec(Metric::kCount, "", Rolling(1)), events, kFeb29 + 1)), 1);
}

TEST(RollingWindow, UsersDropOutAsTimeMovesWithoutNewEvents) {
  AggregateSpec spec = Spec(Metric::kCount, "", Rolling(30));
  SpecState s = Feed(spec, {At(DaysAgo(29)), At(DaysAgo(10))});
  EXPECT_EQ(Int(s.Evaluate(spec, kNow)), 2);
  EXPECT_EQ(Int(s.Evaluate(spec, kNow + kDay)), 1);
  EXPECT_EQ(Int(s.Evaluate(spec, kNow + 19 * kDay)), 1);
  EXPECT_EQ(Int(s.Evaluate(spec, kNow + 20 * kDay)), 0);
}

TEST(RollingWindow, EveryMetricDropsOutWithItsDays) {
  std::vector<Ev> events = {At(DaysAgo(4), {{"price", 10}, {"sku", "a"}}),
                            At(DaysAgo(1), {{"price", 2}, {"sku", "b"}})};
  auto at = [&](Metric m, const char* prop, int64_t now) {
    AggregateSpec spec = Spec(m, prop, Rolling(5));
    return Feed(spec, events).Evaluate(spec, now);
  };
  const int64_t later = kNow + kDay;  // the day-4 event has left
  EXPECT_EQ(Num(at(Metric::kSum, "price", kNow)), 12);
  EXPECT_EQ(Num(at(Metric::kSum, "price", later)), 2);
  EXPECT_EQ(Num(at(Metric::kMax, "price", kNow)), 10);
  EXPECT_EQ(Num(at(Metric::kMax, "price", later)), 2);
  EXPECT_EQ(Num(at(Metric::kMin, "price", kNow)), 2);
  EXPECT_EQ(Num(at(Metric::kAvg, "price", kNow)), 6);
  EXPECT_EQ(Num(at(Metric::kAvg, "price", later)), 2);
  EXPECT_EQ(Text(at(Metric::kFirst, "sku", kNow)), "\"a\"");
  EXPECT_EQ(Text(at(Metric::kFirst, "sku", later)), "\"b\"");
  EXPECT_EQ(Text(at(Metric::kLast, "sku", later)), "\"b\"");
  EXPECT_TRUE(None(at(Metric::kLast, "sku", later + 4 * kDay)));
  EXPECT_TRUE(None(at(Metric::kMin, "price", later + 4 * kDay)));
  EXPECT_EQ(Num(at(Metric::kSum, "price", later + 4 * kDay)), 0);
}

TEST(RollingWindow, IgnoresLateEventsOlderThanTheWindow) {
  AggregateSpec spec = Spec(Metric::kCount, "", Rolling(7));
  SpecState s = Feed(spec, {At(DaysAgo(7)), At(DaysAgo(100))});
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(Int(s.Evaluate(spec, kNow)), 0);
}

TEST(RollingWindow, CountsLateEventsInTheirOwnDay) {
  AggregateSpec spec = Spec(Metric::kCount, "", Rolling(7));
  SpecState s = Feed(spec, {At(kNow), At(DaysAgo(6))});  // the second arrives late
  EXPECT_EQ(Int(s.Evaluate(spec, kNow)), 2);
  EXPECT_EQ(Int(s.Evaluate(spec, kNow + kDay)), 1);  // the late one drops out first
}

TEST(RollingWindow, KeepsAnEventOfTomorrowForTomorrow) {
  AggregateSpec spec = Spec(Metric::kCount, "", Rolling(7));
  SpecState s = Feed(spec, {At(kNow + kDay)});
  EXPECT_EQ(Int(s.Evaluate(spec, kNow)), 0);
  EXPECT_EQ(Int(s.Evaluate(spec, kNow + kDay)), 1);
}

TEST(RollingWindow, IgnoresEventsMoreThanADayAhead) {
  AggregateSpec spec = Spec(Metric::kCount, "", Rolling(7));
  SpecState s = Feed(spec, {At(kNow + 2 * kDay), At(kNow + 400 * kDay)});
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(Int(s.Evaluate(spec, kNow + 2 * kDay)), 0);
}

TEST(RollingWindow, DropsBucketsThatLeftTheWindowOnAdd) {
  AggregateSpec spec = Spec(Metric::kCount, "", Rolling(2));
  SpecState s = Feed(spec, {At(kNow)});
  Ev later = At(kNow + 5 * kDay);
  s.Add(spec, later.View(), kNow + 5 * kDay);
  EXPECT_EQ(s, Feed(spec, {later}, kNow + 5 * kDay));
}

TEST(Aggregate, OutOfOrderEventsGiveTheSameStateAsOrderedOnes) {
  std::vector<Ev> events;
  events.reserve(40);
  for (int i = 0; i < 40; ++i) {
    events.push_back(At(kNow - (i * 7919 % 20) * kDay / 2 - i,
                        {{"price", i % 7}, {"sku", i % 5}, {"cat", i % 2 == 0 ? "x" : "y"}}));
  }
  std::vector<Ev> shuffled = events;
  std::mt19937 rng(7);
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  std::sort(events.begin(), events.end(),
            [](const Ev& a, const Ev& b) { return a.time_ms < b.time_ms; });
  for (Metric m : {Metric::kCount, Metric::kSum, Metric::kMin, Metric::kMax, Metric::kAvg,
                   Metric::kDistinctCount, Metric::kDistinctDays}) {
    for (TimeScope scope : {TimeScope{}, Rolling(5)}) {
      AggregateSpec spec = Spec(m, m == Metric::kDistinctCount ? "sku" : "price", scope);
      EXPECT_EQ(Feed(spec, events), Feed(spec, shuffled)) << static_cast<int>(m);
    }
  }
  // first/last differ only in which of two equal-time events wins, and no times tie here.
  for (Metric m : {Metric::kFirst, Metric::kLast}) {
    AggregateSpec spec = Spec(m, "cat");
    EXPECT_EQ(Feed(spec, events).Evaluate(spec, kNow), Feed(spec, shuffled).Evaluate(spec, kNow));
  }
}

// ---- Absolute ranges ------------------------------------------------------------------------

TEST(RangeScope, TakesOnlyEventsInsideTheInclusiveRange) {
  AggregateSpec spec = Spec(Metric::kCount, "", Range(kJan1, kJan1 + kDay));
  std::vector<Ev> events = {At(kJan1 - 1), At(kJan1), At(kJan1 + kDay), At(kJan1 + kDay + 1)};
  EXPECT_EQ(Int(Eval(spec, events)), 2);
}

TEST(RangeScope, DoesNotDependOnNow) {
  AggregateSpec spec = Spec(Metric::kSum, "price", Range(kJan1, kJan1 + 10 * kDay));
  SpecState s = Feed(spec, {At(kJan1 + 5, Price(3)), At(kJan1 + 9 * kDay, Price(4))});
  EXPECT_EQ(Num(s.Evaluate(spec, kNow)), 7);
  EXPECT_EQ(Num(s.Evaluate(spec, kNow + 1000 * kDay)), 7);
}

TEST(RangeScope, SinceAStartHasNoEnd) {
  TimeScope since;
  since.kind = TimeScope::Kind::kRange;
  since.start_ms = kJan1;
  AggregateSpec spec = Spec(Metric::kCount, "", since);
  EXPECT_EQ(Int(Eval(spec, {At(kJan1 - 1), At(kJan1), At(kNow + 1000 * kDay)})), 2);
}

// ---- Merge, encoding ------------------------------------------------------------------------

std::vector<AggregateSpec> EverySpec() {
  std::vector<AggregateSpec> specs;
  for (TimeScope scope : {TimeScope{}, Rolling(5), Range(kNow - 3 * kDay, kNow)}) {
    specs.push_back(Spec(Metric::kCount, "", scope));
    specs.push_back(Spec(Metric::kSum, "price", scope));
    specs.push_back(Spec(Metric::kMin, "price", scope));
    specs.push_back(Spec(Metric::kMax, "price", scope));
    specs.push_back(Spec(Metric::kAvg, "price", scope));
    specs.push_back(Spec(Metric::kFirst, "sku", scope));
    specs.push_back(Spec(Metric::kLast, "sku", scope));
    specs.push_back(Spec(Metric::kDistinctCount, "sku", scope));
    specs.push_back(Spec(Metric::kDistinctDays, "", scope));
  }
  specs.push_back(Spec(Metric::kItems, "sku", Rolling(5)));
  return specs;
}

std::vector<Ev> SomeEvents() {
  std::vector<Ev> events;
  for (int i = 0; i < 30; ++i) {
    json::object props{{"price", (i * 37) % 11 - 3}, {"sku", "s" + std::to_string(i % 6)}};
    if (i % 4 == 0) props.erase("price");
    events.push_back(At(kNow - (i % 9) * kDay + i * int64_t{1000} - 8 * kHour, std::move(props)));
  }
  return events;
}

TEST(Merge, EqualsAddingEveryEventToOneState) {
  std::vector<Ev> events = SomeEvents();
  for (const AggregateSpec& spec : EverySpec()) {
    std::vector<Ev> mine;
    std::vector<Ev> theirs;
    for (size_t i = 0; i < events.size(); ++i)
      (i < events.size() / 2 ? mine : theirs).push_back(events[i]);
    SpecState merged = Feed(spec, mine);
    merged.Merge(spec, Feed(spec, theirs), kNow);
    SpecState all = Feed(spec, events);
    EXPECT_EQ(merged, all) << spec.Canonical();
    EXPECT_EQ(merged.Evaluate(spec, kNow), all.Evaluate(spec, kNow)) << spec.Canonical();
  }
}

TEST(Merge, DropsBucketsThatLeftTheWindow) {
  AggregateSpec spec = Spec(Metric::kCount, "", Rolling(3));
  SpecState old = Feed(spec, {At(kNow)});
  SpecState s;
  s.Merge(spec, old, kNow + 5 * kDay);
  EXPECT_TRUE(s.empty());
}

TEST(Merge, OfAnEmptyStateChangesNothing) {
  for (const AggregateSpec& spec : EverySpec()) {
    SpecState s = Feed(spec, SomeEvents());
    SpecState before = s;
    s.Merge(spec, SpecState(), kNow);
    EXPECT_EQ(s, before) << spec.Canonical();
  }
}

TEST(Merge, KeepsTheCapOnDistinctValues) {
  AggregateSpec spec = Spec(Metric::kDistinctCount, "sku");
  SpecState a;
  SpecState b;
  for (size_t i = 0; i < kMaxDistinctValues; ++i) {
    Ev ea = At(kNow - kDay, {{"sku", "a" + std::to_string(i)}});
    Ev eb = At(kNow, {{"sku", "b" + std::to_string(i)}});
    a.Add(spec, ea.View(), kNow);
    b.Add(spec, eb.View(), kNow);
  }
  a.Merge(spec, b, kNow);
  EXPECT_EQ(Int(a.Evaluate(spec, kNow)), static_cast<int64_t>(kMaxDistinctValues));
  EXPECT_EQ(a, b);  // the newer values were kept
}

TEST(Encoding, RoundTripsEveryMetricAndScope) {
  for (const AggregateSpec& spec : EverySpec()) {
    SpecState s = Feed(spec, SomeEvents());
    EXPECT_FALSE(s.empty()) << spec.Canonical();
    std::string bytes;
    s.EncodeTo(&bytes);
    SpecState back;
    ASSERT_TRUE(SpecState::Decode(bytes, &back).ok()) << spec.Canonical();
    EXPECT_EQ(back, s) << spec.Canonical();
    EXPECT_EQ(back.Evaluate(spec, kNow), s.Evaluate(spec, kNow));
  }
}

TEST(Encoding, RoundTripsAnEmptyState) {
  std::string bytes;
  SpecState().EncodeTo(&bytes);
  EXPECT_EQ(bytes.size(), 1u);
  SpecState back;
  ASSERT_TRUE(SpecState::Decode(bytes, &back).ok());
  EXPECT_TRUE(back.empty());
}

TEST(Encoding, KeepsAStateSmall) {
  AggregateSpec count = Spec(Metric::kCount, "", Rolling(30));
  SpecState s = Feed(count, {At(kNow), At(kNow), At(DaysAgo(3))});
  std::string bytes;
  s.EncodeTo(&bytes);
  // flags, n, day, bucket(flags, count), delta, bucket(flags, count)
  EXPECT_LE(bytes.size(), 10u);
  AggregateSpec sum = Spec(Metric::kSum, "price");
  bytes.clear();
  Feed(sum, {At(kNow, Price(3))}).EncodeTo(&bytes);
  EXPECT_EQ(bytes.size(), 1u + 1u + 8u);  // flags, accumulator flags, the sum
}

TEST(Encoding, RoundTripsExtremeValues) {
  AggregateSpec spec = Spec(Metric::kLast, "sku");
  std::vector<Ev> events = {At(std::numeric_limits<int64_t>::min(), {{"sku", "lo"}}),
                            At(std::numeric_limits<int64_t>::max(), {{"sku", "hi"}})};
  for (TimeScope scope : {TimeScope{}, Rolling(365)}) {
    spec.scope = scope;
    SpecState s = Feed(spec, events, std::numeric_limits<int64_t>::max());
    std::string bytes;
    s.EncodeTo(&bytes);
    SpecState back;
    ASSERT_TRUE(SpecState::Decode(bytes, &back).ok());
    EXPECT_EQ(back, s);
  }
  AggregateSpec days = Spec(Metric::kDistinctDays);
  SpecState s = Feed(days, events);
  std::string bytes;
  s.EncodeTo(&bytes);
  SpecState back;
  ASSERT_TRUE(SpecState::Decode(bytes, &back).ok());
  EXPECT_EQ(back, s);
  EXPECT_EQ(Int(back.Evaluate(days, kNow)), 2);
}

UserAggregates SomeUser() {
  UserAggregates user;
  uint64_t id = 1;
  for (const AggregateSpec& spec : EverySpec()) {
    user.states[id] = Feed(spec, SomeEvents());
    id = id * 3 + 1;
  }
  user.states[std::numeric_limits<uint64_t>::max()] = SpecState();
  return user;
}

TEST(UserAggregatesEncoding, RoundTrips) {
  UserAggregates user = SomeUser();
  std::string bytes = user.Encode();
  UserAggregates back;
  ASSERT_TRUE(UserAggregates::Decode(bytes, &back).ok());
  EXPECT_EQ(back, user);
  ASSERT_TRUE(UserAggregates::Decode(UserAggregates().Encode(), &back).ok());
  EXPECT_TRUE(back.states.empty());
}

TEST(UserAggregatesEncoding, StartsWithAFormatVersion) {
  std::string bytes = SomeUser().Encode();
  EXPECT_EQ(bytes[0], 1);
  bytes[0] = 2;
  UserAggregates back;
  EXPECT_EQ(UserAggregates::Decode(bytes, &back).code(), ErrorCode::kCorruption);
}

TEST(UserAggregatesEncoding, RefusesEveryTruncation) {
  std::string bytes = SomeUser().Encode();
  for (size_t n = 0; n < bytes.size(); ++n) {
    UserAggregates back;
    Status s = UserAggregates::Decode(std::string_view(bytes).substr(0, n), &back);
    EXPECT_EQ(s.code(), ErrorCode::kCorruption) << n;
  }
}

TEST(UserAggregatesEncoding, RefusesTrailingBytes) {
  std::string bytes = SomeUser().Encode() + "x";
  UserAggregates back;
  EXPECT_EQ(UserAggregates::Decode(bytes, &back).code(), ErrorCode::kCorruption);
}

TEST(SpecStateEncoding, RefusesEveryTruncation) {
  for (const AggregateSpec& spec : EverySpec()) {
    std::string bytes;
    Feed(spec, SomeEvents()).EncodeTo(&bytes);
    for (size_t n = 0; n < bytes.size(); ++n) {
      SpecState back;
      EXPECT_EQ(SpecState::Decode(std::string_view(bytes).substr(0, n), &back).code(),
                ErrorCode::kCorruption)
          << spec.Canonical() << " " << n;
    }
  }
}

TEST(SpecStateEncoding, SurvivesRandomBytesAndBitFlips) {
  std::mt19937_64 rng(42);
  std::string valid = SomeUser().Encode();
  int decoded = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string bytes;
    if (round % 2 == 0) {
      bytes.resize(rng() % 64);
      for (char& c : bytes) c = static_cast<char>(rng());
      if (round % 4 == 0 && !bytes.empty()) bytes[0] = 1;  // get past the version byte
    } else {
      bytes = valid;
      for (int flips = 0; flips < 3; ++flips) {
        char& byte = bytes[rng() % bytes.size()];
        byte = static_cast<char>(byte ^ (1 << (rng() % 8)));
      }
    }
    UserAggregates back;
    Status s = UserAggregates::Decode(bytes, &back);
    if (s.ok()) {
      ++decoded;
      for (const auto& [id, state] : back.states) {
        for (const AggregateSpec& spec : EverySpec()) (void)state.Evaluate(spec, kNow);
      }
    } else {
      EXPECT_EQ(s.code(), ErrorCode::kCorruption);
    }
    SpecState state;
    Status t = SpecState::Decode(bytes, &state);
    if (!t.ok()) {
      EXPECT_EQ(t.code(), ErrorCode::kCorruption);
    }
  }
  EXPECT_LT(decoded, 20000);
}

TEST(SpecStateEncoding, RefusesDistinctValuesOutOfOrderAndTooMany) {
  // flags=distinct, n=2, hash 2 then hash 1
  std::string bytes("\x04\x02", 2);
  for (uint64_t hash : {2, 1}) {
    for (int i = 7; i >= 0; --i) bytes.push_back(static_cast<char>((hash >> (i * 8)) & 0xff));
    bytes.push_back(0);
  }
  SpecState back;
  EXPECT_EQ(SpecState::Decode(bytes, &back).code(), ErrorCode::kCorruption);
  std::string too_many("\x04\xe9\x07", 3);  // n = 1001
  EXPECT_EQ(SpecState::Decode(too_many, &back).code(), ErrorCode::kCorruption);
}

TEST(SpecStateEncoding, RefusesUnknownFlags) {
  SpecState back;
  EXPECT_EQ(SpecState::Decode(std::string("\x10", 1), &back).code(), ErrorCode::kCorruption);
  EXPECT_EQ(SpecState::Decode(std::string("\x01\x80", 2), &back).code(), ErrorCode::kCorruption);
  EXPECT_EQ(SpecState::Decode(std::string("\x01\x20\x00\x00", 4), &back).code(),
            ErrorCode::kCorruption);  // a first value that is empty
}

TEST(SpecState, IsEmptyUntilSomethingCounts) {
  AggregateSpec spec = Spec(Metric::kSum, "price");
  SpecState s;
  EXPECT_TRUE(s.empty());
  Ev none = At(kNow, Price("x"));
  s.Add(spec, none.View(), kNow);
  EXPECT_TRUE(s.empty());
  Ev one = At(kNow, Price(1));
  s.Add(spec, one.View(), kNow);
  EXPECT_FALSE(s.empty());
}

TEST(DistinctCount, AValueDatedTomorrowDoesNotHideItsDayInsideTheWindow) {
  AggregateSpec spec;
  spec.event_type = "e";
  spec.metric = Metric::kDistinctCount;
  spec.property = "v";
  spec.scope.kind = TimeScope::Kind::kRolling;
  spec.scope.days = 7;
  boost::json::object props{{"v", "a"}};
  SpecState state;
  state.Add(spec, EventFields{"e", kNow, &props, nullptr}, kNow);
  state.Add(spec, EventFields{"e", kNow + 86400000, &props, nullptr}, kNow);  // tomorrow
  EXPECT_EQ(std::get<int64_t>(state.Evaluate(spec, kNow)), 1);
}

// ---- Items (recent items, kItems) ------------------------------------------------------------

std::string Key(const json::value& v) {
  std::string key = "<untouched>";
  return ItemKey(v, &key) ? key : "<none>";
}

TEST(ItemKey, IsAStringItselfAndAScalarsText) {
  EXPECT_EQ(Key("movie 7"), "movie 7");  // raw, not quoted
  EXPECT_EQ(Key("\"q\""), "\"q\"");
  EXPECT_EQ(Key(7), "7");
  EXPECT_EQ(Key(-3), "-3");
  EXPECT_EQ(Key(json::value(std::numeric_limits<uint64_t>::max())), "18446744073709551615");
  EXPECT_EQ(Key(2.5), "2.5");
  EXPECT_EQ(Key(7.0), "7");  // the same item as the integer 7
  EXPECT_EQ(Key(true), "true");
  EXPECT_EQ(Key(false), "false");
}

TEST(ItemKey, RefusesValuesThatAreNotItems) {
  EXPECT_EQ(Key(nullptr), "<none>");
  EXPECT_EQ(Key(""), "<none>");
  EXPECT_EQ(Key(json::object{{"a", 1}}), "<none>");
  EXPECT_EQ(Key(json::array{1}), "<none>");
  EXPECT_EQ(Key(json::string(kMaxItemKeyBytes, 'k')), std::string(kMaxItemKeyBytes, 'k'));
  EXPECT_EQ(Key(json::string(kMaxItemKeyBytes + 1, 'k')), "<none>");
}

AggregateSpec ItemsSpec(int days = 30) { return Spec(Metric::kItems, "item", Rolling(days)); }

Ev Item(int64_t time_ms, json::value item) { return At(time_ms, {{"item", std::move(item)}}); }
Ev Item(int64_t time_ms, const char* item) { return Item(time_ms, json::value(item)); }
Ev Item(int64_t time_ms, const std::string& item) { return Item(time_ms, json::string(item)); }

// ItemsOf the state's encoding at now_ms, as strings.
std::vector<std::string> Items(const AggregateSpec& spec, const SpecState& state,
                               int64_t now_ms = kNow) {
  std::string bytes;
  state.EncodeTo(&bytes);
  std::vector<std::string_view> views;
  EXPECT_TRUE(ItemsOf(spec, state.empty() ? std::string_view() : bytes, now_ms, &views).ok());
  return {views.begin(), views.end()};
}

using Strings = std::vector<std::string>;

TEST(Items, ListsTheItemsNewestFirstEachOnceAtItsLatestTime) {
  AggregateSpec spec = ItemsSpec();
  SpecState s = Feed(spec, {Item(DaysAgo(5), "a"), Item(DaysAgo(3), "b"), Item(DaysAgo(1), "a"),
                            Item(DaysAgo(2), 7), Item(DaysAgo(4), 7.0)});
  EXPECT_EQ(Items(spec, s), (Strings{"a", "7", "b"}));
  EXPECT_EQ(Int(s.Evaluate(spec, kNow)), 3);
}

TEST(Items, OrdersItemsOfTheSameTimeByKey) {
  AggregateSpec spec = ItemsSpec();
  SpecState s =
      Feed(spec, {Item(kNow, "c"), Item(kNow, "a"), Item(DaysAgo(1), "d"), Item(kNow, "b")});
  EXPECT_EQ(Items(spec, s), (Strings{"a", "b", "c", "d"}));
}

TEST(Items, SkipsValuesThatAreNotItems) {
  AggregateSpec spec = ItemsSpec();
  SpecState s = Feed(spec, {Item(kNow, json::value(nullptr)), Item(kNow, ""),
                            Item(kNow, json::array{1}), At(kNow, {{"other", "x"}}), At(kNow)});
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(Int(s.Evaluate(spec, kNow)), 0);
  EXPECT_TRUE(Items(spec, s).empty());
}

TEST(Items, DropOutOfTheWindowAtTheReadWithoutAnUpdate) {
  AggregateSpec spec = ItemsSpec(3);
  SpecState s = Feed(spec, {Item(DaysAgo(2), "old"), Item(kNow, "new")});
  EXPECT_EQ(Items(spec, s, kNow), (Strings{"new", "old"}));
  EXPECT_EQ(Items(spec, s, kNow + kDay), (Strings{"new"}));
  EXPECT_EQ(Int(s.Evaluate(spec, kNow + kDay)), 1);
  EXPECT_TRUE(Items(spec, s, kNow + 3 * kDay).empty());
  EXPECT_EQ(Int(s.Evaluate(spec, kNow + 3 * kDay)), 0);
}

TEST(Items, AreDroppedFromTheStateOnceOutOfTheWindow) {
  AggregateSpec spec = ItemsSpec(3);
  SpecState s = Feed(spec, {Item(DaysAgo(2), "old")});
  Ev later = Item(kNow + kDay, "new");
  s.Add(spec, later.View(), kNow + kDay);
  EXPECT_EQ(s, Feed(spec, {later}, kNow + kDay));
}

TEST(Items, IgnoreEventsOutsideTheWindowOrMoreThanADayAhead) {
  AggregateSpec spec = ItemsSpec(3);
  EXPECT_TRUE(Feed(spec, {Item(DaysAgo(3), "old"), Item(kNow + 2 * kDay, "ahead")}).empty());
  // One dated tomorrow is kept, and read from now on.
  SpecState s = Feed(spec, {Item(kNow, "a"), Item(kNow + kDay, "b")});
  EXPECT_EQ(Items(spec, s), (Strings{"b", "a"}));
}

std::string ItemOf(const AggregateSpec& spec, const Ev& e) {
  std::string key = "<untouched>";
  return ItemOfEvent(spec, e.View(), &key) ? key : "<none>";
}

TEST(ItemOfEvent, IsTheItemKeyOfThePropertyOfAMatchingEvent) {
  AggregateSpec spec = ItemsSpec();
  EXPECT_EQ(ItemOf(spec, Item(kNow, 7)), "7");
  Ev other = Item(kNow, "a");
  other.type = "Refund";
  EXPECT_EQ(ItemOf(spec, other), "<none>");  // not the spec's event type
  EXPECT_EQ(ItemOf(spec, Item(kNow, json::array{1})), "<none>");
  EXPECT_EQ(ItemOf(spec, At(kNow)), "<none>");
}

TEST(ItemOfEvent, ReadsEveryEventForActiveAndATopLevelFieldForADollarProperty) {
  AggregateSpec spec = Spec(Metric::kItems, "$platform", Rolling(30));
  spec.event_type = kAnyEvent;
  Ev e = Item(kNow, "not this");
  e.type = "Anything";
  e.fields["platform"] = "iOS";
  EXPECT_EQ(ItemOf(spec, e), "iOS");
  // The state the writer keeps holds the same item.
  SpecState s = Feed(spec, {e});
  EXPECT_EQ(Items(spec, s), (Strings{"iOS"}));
}

TEST(InRollingWindow, HoldsTheWindowsWholeUtcDaysAndTheDayAfter) {
  const TimeScope scope = Rolling(30);
  const int64_t today = kJan1 + 9 * kDay;  // midnight starting kNow's day
  const int64_t start = today - 29 * kDay;
  EXPECT_TRUE(InRollingWindow(scope, start, kNow));
  EXPECT_FALSE(InRollingWindow(scope, start - 1, kNow));
  EXPECT_TRUE(InRollingWindow(scope, today + 2 * kDay - 1, kNow));  // the end of tomorrow
  EXPECT_FALSE(InRollingWindow(scope, today + 2 * kDay, kNow));
  // The window moves at midnight, not 24 hours after now.
  EXPECT_TRUE(InRollingWindow(scope, start, today + kDay - 1));
  EXPECT_FALSE(InRollingWindow(scope, start, today + kDay));
}

TEST(Items, KeepTheMostRecentItemsPastTheCap) {
  AggregateSpec spec = ItemsSpec();
  std::vector<Ev> events;
  for (size_t i = 0; i < kMaxItems + 5; ++i) {
    events.push_back(Item(kNow - static_cast<int64_t>(i) * 1000, "i" + std::to_string(i)));
  }
  SpecState s = Feed(spec, events);
  EXPECT_EQ(Int(s.Evaluate(spec, kNow)), static_cast<int64_t>(kMaxItems));
  Strings items = Items(spec, s);
  ASSERT_EQ(items.size(), kMaxItems);
  EXPECT_EQ(items.front(), "i0");
  EXPECT_EQ(items.back(), "i" + std::to_string(kMaxItems - 1));
  // Seeing a forgotten item again brings it back as the newest; the least recent goes.
  Ev again = Item(kNow + 1, "i" + std::to_string(kMaxItems + 2));
  s.Add(spec, again.View(), kNow);
  items = Items(spec, s);
  ASSERT_EQ(items.size(), kMaxItems);
  EXPECT_EQ(items.front(), "i" + std::to_string(kMaxItems + 2));
  EXPECT_EQ(items.back(), "i" + std::to_string(kMaxItems - 2));
}

TEST(Items, ForgetTheGreaterKeyAmongTheLeastRecentPastTheCap) {
  AggregateSpec spec = ItemsSpec();
  std::vector<Ev> events;
  for (size_t i = 0; i < kMaxItems + 1; ++i) {
    events.push_back(Item(kNow, "k" + std::to_string(1000 + i)));  // all at one time
  }
  Strings items = Items(spec, Feed(spec, events));
  ASSERT_EQ(items.size(), kMaxItems);
  EXPECT_EQ(items.front(), "k1000");
  EXPECT_EQ(items.back(), "k" + std::to_string(1000 + kMaxItems - 1));
}

TEST(Items, MergeKeepsTheLatestTimeOfEachItem) {
  AggregateSpec spec = ItemsSpec();
  SpecState a = Feed(spec, {Item(DaysAgo(1), "x"), Item(DaysAgo(4), "y")});
  SpecState b = Feed(spec, {Item(DaysAgo(5), "x"), Item(DaysAgo(2), "y"), Item(DaysAgo(3), "z")});
  a.Merge(spec, b, kNow);
  EXPECT_EQ(Items(spec, a), (Strings{"x", "y", "z"}));
  EXPECT_EQ(a, Feed(spec, {Item(DaysAgo(1), "x"), Item(DaysAgo(2), "y"), Item(DaysAgo(3), "z")}));
}

TEST(Items, MergeKeepsTheCap) {
  AggregateSpec spec = ItemsSpec();
  SpecState a;
  SpecState b;
  for (size_t i = 0; i < kMaxItems; ++i) {
    Ev ea = Item(DaysAgo(1), "a" + std::to_string(i));
    Ev eb = Item(kNow, "b" + std::to_string(i));
    a.Add(spec, ea.View(), kNow);
    b.Add(spec, eb.View(), kNow);
  }
  a.Merge(spec, b, kNow);
  EXPECT_EQ(Int(a.Evaluate(spec, kNow)), static_cast<int64_t>(kMaxItems));
  EXPECT_EQ(a, b);  // the more recent items were kept
}

TEST(Items, ViewsPointIntoTheState) {
  AggregateSpec spec = ItemsSpec();
  std::string bytes;
  Feed(spec, {Item(kNow, "abc")}).EncodeTo(&bytes);
  std::vector<std::string_view> out = {"stale"};
  ASSERT_TRUE(ItemsOf(spec, bytes, kNow, &out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], "abc");
  EXPECT_GE(out[0].data(), bytes.data());
  EXPECT_LE(out[0].data() + out[0].size(), bytes.data() + bytes.size());
  ASSERT_TRUE(ItemsOf(spec, {}, kNow, &out).ok());
  EXPECT_TRUE(out.empty());
}

// flags=items, then `n`, then each (time 0, key).
std::string ItemsState(uint64_t n, const std::vector<std::string>& keys) {
  std::string bytes(1, '\x08');
  bytes.push_back(static_cast<char>(n));
  for (const std::string& key : keys) {
    bytes.push_back(0);  // time 0, zigzag
    bytes.push_back(static_cast<char>(key.size()));
    bytes.append(key);
  }
  return bytes;
}

TEST(Items, RefuseStatesThatDoNotDecode) {
  AggregateSpec spec = ItemsSpec(kMaxWindowDays);
  std::vector<std::string> bad = {
      ItemsState(2, {"b", "a"}),  // keys out of order
      ItemsState(2, {"a", "a"}),  // a key twice
      ItemsState(1, {""}),        // an empty key
      ItemsState(0, {}),          // no item
      ItemsState(2, {"a"}),       // fewer items than counted
      ItemsState(1, {"a", "b"}),  // trailing bytes
  };
  std::string too_long = ItemsState(1, {});
  too_long.push_back(0);
  PutVarint64(&too_long, kMaxItemKeyBytes + 1);
  too_long.append(kMaxItemKeyBytes + 1, 'k');
  bad.push_back(too_long);
  std::string too_many("\x08", 1);
  PutVarint64(&too_many, kMaxItems + 1);
  for (size_t i = 0; i <= kMaxItems; ++i) {
    too_many.push_back(0);
    too_many.push_back(3);
    too_many.append(std::to_string(100 + i));
  }
  bad.push_back(too_many);
  ASSERT_TRUE([&] {
    SpecState ok;
    return SpecState::Decode(ItemsState(2, {"a", "b"}), &ok).ok();
  }());
  for (const std::string& bytes : bad) {
    SpecState state;
    EXPECT_EQ(SpecState::Decode(bytes, &state).code(), ErrorCode::kCorruption) << bytes;
    Value value;
    EXPECT_EQ(EvaluateEncoded(spec, bytes, kNow, &value).code(), ErrorCode::kCorruption) << bytes;
    std::vector<std::string_view> out = {"stale"};
    EXPECT_EQ(ItemsOf(spec, bytes, kNow, &out).code(), ErrorCode::kCorruption) << bytes;
    EXPECT_TRUE(out.empty());
  }
}

TEST(Items, RefuseEveryTruncation) {
  AggregateSpec spec = ItemsSpec();
  std::string bytes;
  Feed(spec, {Item(kNow, "a"), Item(DaysAgo(1), 42)}).EncodeTo(&bytes);
  for (size_t n = 1; n < bytes.size(); ++n) {
    std::vector<std::string_view> out;
    EXPECT_EQ(ItemsOf(spec, std::string_view(bytes).substr(0, n), kNow, &out).code(),
              ErrorCode::kCorruption)
        << n;
  }
}

// ---- EvaluateEncoded and AggregatesView ------------------------------------------------------
//
// SpecState::Evaluate evaluates its own encoding, so every test above covers EvaluateEncoded.
// Below, an independent model computed from the events themselves checks it on random
// states, and corrupt bytes check that it refuses what the decoder refuses.

namespace model {

// The value of `spec` over `events` (each added at `added_ms`, in order), read at now_ms,
// computed from the events directly. Values are chosen so sums are exact in any order.
Value Expected(const AggregateSpec& spec, const std::vector<Ev>& events, int64_t added_ms,
               int64_t now_ms) {
  const bool rolling = spec.scope.kind == TimeScope::Kind::kRolling;
  const int64_t added_day = DayOf(added_ms);
  const int64_t today = DayOf(now_ms);
  auto kept = [&](const Ev& e) {  // what Add keeps
    if (!SpecMatches(spec, e.View())) return false;
    if (spec.scope.kind == TimeScope::Kind::kRange) {
      return e.time_ms >= spec.scope.start_ms && e.time_ms <= spec.scope.end_ms;
    }
    if (!rolling) return true;
    const int64_t day = DayOf(e.time_ms);
    return day >= added_day - spec.scope.days + 1 && day <= added_day + 1;
  };
  auto in_window = [&](int64_t day) {
    return !rolling || (day >= today - spec.scope.days + 1 && day <= today);
  };
  const json::value* v = nullptr;
  auto prop = [&](const Ev& e) {
    v = e.props.if_contains(spec.property);
    return v;
  };
  if (spec.metric == Metric::kDistinctDays) {
    std::set<int64_t> days;
    for (const Ev& e : events) {
      if (kept(e) && in_window(DayOf(e.time_ms))) days.insert(DayOf(e.time_ms));
    }
    return static_cast<int64_t>(days.size());
  }
  if (spec.metric == Metric::kItems) {
    std::map<std::string, int64_t> latest;  // key -> latest time seen
    std::string key;
    for (const Ev& e : events) {
      if (!kept(e) || prop(e) == nullptr || !ItemKey(*v, &key)) continue;
      auto [it, inserted] = latest.try_emplace(key, e.time_ms);
      if (!inserted) it->second = std::max(it->second, e.time_ms);
    }
    const int64_t start = today - spec.scope.days + 1;
    return static_cast<int64_t>(std::count_if(
        latest.begin(), latest.end(), [&](const auto& e) { return DayOf(e.second) >= start; }));
  }
  if (spec.metric == Metric::kDistinctCount) {
    std::map<std::string, int64_t> latest;  // text -> latest day seen
    for (const Ev& e : events) {
      if (!kept(e) || prop(e) == nullptr || v->is_null()) continue;
      int64_t seen = std::min(DayOf(e.time_ms), added_day);
      std::string text = ValueText(*v);
      auto [it, inserted] = latest.try_emplace(text, seen);
      if (!inserted) it->second = std::max(it->second, seen);
    }
    return static_cast<int64_t>(std::count_if(latest.begin(), latest.end(),
                                              [&](const auto& e) { return in_window(e.second); }));
  }
  int64_t count = 0;
  int64_t numeric = 0;
  double sum = 0;
  double min = 0;
  double max = 0;
  std::optional<std::pair<int64_t, std::string>> first;
  std::optional<std::pair<int64_t, std::string>> last;
  for (const Ev& e : events) {
    if (!kept(e) || !in_window(DayOf(e.time_ms))) continue;
    ++count;
    if (prop(e) == nullptr) continue;
    if (!v->is_null()) {
      std::string text = ValueText(*v);
      if (!first || e.time_ms < first->first) first.emplace(e.time_ms, text);
      if (!last || e.time_ms >= last->first) last.emplace(e.time_ms, text);
    }
    if (std::optional<double> n = AsNumber(*v)) {
      min = numeric == 0 ? *n : std::min(min, *n);
      max = numeric == 0 ? *n : std::max(max, *n);
      ++numeric;
      sum += *n;
    }
  }
  switch (spec.metric) {
    case Metric::kCount: return count;
    case Metric::kSum: return sum;
    case Metric::kMin: return numeric == 0 ? Value{} : Value{min};
    case Metric::kMax: return numeric == 0 ? Value{} : Value{max};
    case Metric::kAvg: return numeric == 0 ? Value{} : Value{sum / static_cast<double>(numeric)};
    case Metric::kFirst: return first ? Value{JsonText{first->second}} : Value{};
    case Metric::kLast: return last ? Value{JsonText{last->second}} : Value{};
    default: return Value{};
  }
}

}  // namespace model

std::vector<AggregateSpec> EveryMetricAndScope() {
  std::vector<AggregateSpec> specs;
  for (Metric metric :
       {Metric::kCount, Metric::kSum, Metric::kMin, Metric::kMax, Metric::kAvg, Metric::kFirst,
        Metric::kLast, Metric::kDistinctCount, Metric::kDistinctDays}) {
    const bool reads = metric != Metric::kCount && metric != Metric::kDistinctDays;
    for (TimeScope scope :
         {TimeScope{}, Rolling(1), Rolling(3), Rolling(30), Range(DaysAgo(4), DaysAgo(1))}) {
      specs.push_back(Spec(metric, reads ? "v" : "", scope));
    }
  }
  for (int days : {1, 3, 30}) specs.push_back(Spec(Metric::kItems, "v", Rolling(days)));
  return specs;
}

TEST(EvaluateEncoded, AgreesWithAModelOfTheEventsOnRandomStates) {
  std::mt19937_64 rng(7);
  // Values whose sums are exact whatever the order; strings, numeric strings, other types.
  const std::vector<json::value> values = {1, 2.5, -4, "3", "x", "y", nullptr, true, 0};
  int compared = 0;
  for (int round = 0; round < 300; ++round) {
    std::vector<Ev> events;
    const size_t n = rng() % 12;
    for (size_t i = 0; i < n; ++i) {
      // Within 40 days before now to 2 days after, on a few distinct times per day.
      const int64_t t = kNow + (static_cast<int64_t>(rng() % 42) - 40) * kDay +
                        static_cast<int64_t>(rng() % 4) * kHour;
      json::object props;
      if (rng() % 5 != 0) props["v"] = values[rng() % values.size()];
      events.push_back(At(t, std::move(props)));
    }
    for (const AggregateSpec& spec : EveryMetricAndScope()) {
      const SpecState state = Feed(spec, events);
      std::string bytes;
      state.EncodeTo(&bytes);
      for (int64_t later : {0, 1, 2, 5, 29, 31}) {
        const int64_t now = kNow + later * kDay;
        Value value;
        ASSERT_TRUE(EvaluateEncoded(spec, bytes, now, &value).ok()) << spec.Canonical();
        EXPECT_EQ(value, model::Expected(spec, events, kNow, now))
            << spec.Canonical() << " round " << round << " +" << later << "d";
        EXPECT_EQ(state.Evaluate(spec, now), value);
        ++compared;
      }
    }
  }
  EXPECT_GT(compared, 10000);
}

TEST(EvaluateEncoded, GivesANoStateValueForEmptyBytes) {
  for (const AggregateSpec& spec : EveryMetricAndScope()) {
    Value value = JsonText{"untouched"};
    ASSERT_TRUE(EvaluateEncoded(spec, {}, kNow, &value).ok());
    EXPECT_EQ(value, SpecState().Evaluate(spec, kNow)) << spec.Canonical();
  }
}

TEST(EvaluateEncoded, RefusesEveryTruncation) {
  for (const AggregateSpec& spec : EverySpec()) {
    std::string bytes;
    Feed(spec, SomeEvents()).EncodeTo(&bytes);
    for (size_t n = 1; n < bytes.size(); ++n) {
      Value value;
      EXPECT_EQ(EvaluateEncoded(spec, std::string_view(bytes).substr(0, n), kNow, &value).code(),
                ErrorCode::kCorruption)
          << spec.Canonical() << " " << n;
    }
  }
}

TEST(EvaluateEncoded, RefusesWhatTheDecoderRefusesAndNeverCrashes) {
  std::mt19937_64 rng(43);
  std::vector<std::string> valid;
  for (const AggregateSpec& spec : EverySpec()) {
    valid.emplace_back();
    Feed(spec, SomeEvents()).EncodeTo(&valid.back());
  }
  const std::vector<AggregateSpec> specs = EveryMetricAndScope();
  int refused = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string bytes;
    if (round % 2 == 0) {
      bytes.resize(1 + rng() % 48);
      for (char& c : bytes) c = static_cast<char>(rng());
      bytes[0] = static_cast<char>(rng() % 16);  // known flags, to reach the parts
    } else {
      bytes = valid[rng() % valid.size()];
      for (int flips = 0; flips < 2; ++flips) {
        char& byte = bytes[rng() % bytes.size()];
        byte = static_cast<char>(byte ^ (1 << (rng() % 8)));
      }
    }
    // A heap copy of exactly the bytes, so ASan catches any read past them.
    const std::unique_ptr<char[]> copy(new char[bytes.size()]);
    std::copy(bytes.begin(), bytes.end(), copy.get());
    const std::string_view exact(copy.get(), bytes.size());
    SpecState decoded;
    const bool decodes = SpecState::Decode(exact, &decoded).ok();
    const AggregateSpec& spec = specs[rng() % specs.size()];
    Value value;
    Status s = EvaluateEncoded(spec, exact, kNow, &value);
    EXPECT_EQ(s.ok(), decodes) << spec.Canonical();
    if (s.ok()) {
      EXPECT_EQ(value, decoded.Evaluate(spec, kNow));
    } else {
      EXPECT_EQ(s.code(), ErrorCode::kCorruption);
      ++refused;
    }
  }
  EXPECT_GT(refused, 0);
}

TEST(AggregatesView, FindsEachStateByIdWithoutDecodingIt) {
  UserAggregates user = SomeUser();
  std::string record = user.Encode();
  AggregatesView view;
  ASSERT_TRUE(view.Parse(record).ok());
  ASSERT_EQ(view.entries().size(), user.states.size());
  for (const auto& [id, state] : user.states) {
    std::string bytes;
    state.EncodeTo(&bytes);
    EXPECT_EQ(view.Find(id), bytes) << id;
  }
  EXPECT_TRUE(view.Find(2).empty());
  EXPECT_TRUE(view.Find(0).empty());
}

TEST(AggregatesView, ReadsAnEmptyRecordAsNoStates) {
  AggregatesView view;
  ASSERT_TRUE(view.Parse(SomeUser().Encode()).ok());
  ASSERT_TRUE(view.Parse({}).ok());
  EXPECT_TRUE(view.entries().empty());
  EXPECT_TRUE(view.Find(1).empty());
}

TEST(AggregatesView, RefusesWhatTheDecoderRefuses) {
  std::string record = SomeUser().Encode();
  AggregatesView view;
  for (size_t n = 1; n < record.size(); ++n) {
    std::string truncated = record.substr(0, n);
    UserAggregates decoded;
    // The view reads the header only: a truncation inside a state's bytes shortens its
    // length prefix's reach, which the view sees too, so both refuse every truncation.
    EXPECT_EQ(view.Parse(truncated).code(), ErrorCode::kCorruption) << n;
    EXPECT_TRUE(view.entries().empty());
    EXPECT_FALSE(UserAggregates::Decode(truncated, &decoded).ok());
  }
  EXPECT_EQ(view.Parse(record + "x").code(), ErrorCode::kCorruption);
  EXPECT_EQ(view.Parse(std::string("\x02\x00", 2)).code(), ErrorCode::kCorruption);  // version
  // One state with a zero-length encoding: not a state (it would read as none).
  EXPECT_EQ(view.Parse(std::string("\x01\x01\x05\x00", 4)).code(), ErrorCode::kCorruption);
}

TEST(AggregatesView, SurvivesRandomBytes) {
  std::mt19937_64 rng(44);
  AggregatesView view;
  for (int round = 0; round < 20000; ++round) {
    std::string bytes(rng() % 64, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    if (!bytes.empty() && round % 2 == 0) bytes[0] = 1;
    const std::unique_ptr<char[]> copy(new char[bytes.size()]);
    std::copy(bytes.begin(), bytes.end(), copy.get());
    Status s = view.Parse(std::string_view(copy.get(), bytes.size()));
    if (!s.ok()) {
      EXPECT_EQ(s.code(), ErrorCode::kCorruption);
      continue;
    }
    for (const AggregatesView::Entry& e : view.entries()) {
      Value value;
      const Status t = EvaluateEncoded(Spec(Metric::kCount), e.state, kNow, &value);
      EXPECT_TRUE(t.ok() || t.code() == ErrorCode::kCorruption);
    }
  }
}

}  // namespace
}  // namespace profiled::compute
