#include "compute/aggregates_editor.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <random>
#include <string>
#include <vector>

namespace profiled::compute {
namespace {

namespace json = boost::json;

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kJan1 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr int64_t kNow = kJan1 + 9 * kDay + 12 * int64_t{3'600'000};

struct Ev {
  std::string type = "buy";
  int64_t time_ms = kNow;
  json::object props;
  json::object fields;
  EventFields View() const { return EventFields{type, time_ms, &props, &fields}; }
};

std::string Hex(std::string_view bytes) {
  constexpr std::string_view kDigits = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    out.push_back(kDigits[(static_cast<uint8_t>(c) >> 4) & 15]);
    out.push_back(kDigits[static_cast<uint8_t>(c) & 15]);
  }
  return out;
}

AggregateSpec Spec(Metric metric, std::string property, TimeScope scope = {}) {
  AggregateSpec s;
  s.event_type = "buy";
  s.metric = metric;
  s.property = std::move(property);
  s.scope = scope;
  return s;
}

TimeScope Rolling(int days) {
  TimeScope s;
  s.kind = TimeScope::Kind::kRolling;
  s.days = days;
  return s;
}

// One spec of every metric and scope, with ids 1, 2, ... (ids 3k+1 with a filter), then
// the recent items specs.
std::vector<SpecEntry> EverySpec() {
  std::vector<SpecEntry> specs;
  TimeScope range;
  range.kind = TimeScope::Kind::kRange;
  range.start_ms = kNow - 4 * kDay;
  range.end_ms = kNow;
  for (TimeScope scope : {TimeScope{}, Rolling(3), Rolling(30), range}) {
    for (Metric m :
         {Metric::kCount, Metric::kSum, Metric::kMin, Metric::kMax, Metric::kAvg, Metric::kFirst,
          Metric::kLast, Metric::kDistinctCount, Metric::kDistinctDays}) {
      bool reads = m != Metric::kCount && m != Metric::kDistinctDays;
      SpecEntry e;
      e.id = specs.size() + 1;
      e.spec = Spec(m, reads ? (m == Metric::kFirst || m == Metric::kLast ? "sku" : "price") : "",
                    scope);
      if (e.id % 3 == 1) e.spec.where.push_back(Filter{"sku", FilterOp::kIsNot, {"s0"}});
      e.ready = true;
      specs.push_back(std::move(e));
    }
  }
  // Recent items (rolling only), of strings and of numbers.
  for (auto [days, property] : {std::pair{3, "sku"}, std::pair{30, "price"}}) {
    SpecEntry e;
    e.id = specs.size() + 1;
    e.spec = Spec(Metric::kItems, property, Rolling(days));
    e.ready = true;
    specs.push_back(std::move(e));
  }
  return specs;
}

// The reference: decode, drop what the catalog lacks, Add, drop empty states, encode.
std::string Reference(const ProjectCatalog& catalog, const std::vector<const SpecEntry*>& matched,
                      const Ev& e, int64_t now, const std::string& record) {
  UserAggregates a;
  if (!record.empty()) {
    EXPECT_TRUE(UserAggregates::Decode(record, &a).ok());
  }
  std::erase_if(a.states, [&](const auto& kv) { return catalog.FindSpec(kv.first) == nullptr; });
  for (const SpecEntry* spec : matched) a.states[spec->id].Add(spec->spec, e.View(), now);
  std::erase_if(a.states, [](const auto& kv) { return kv.second.empty(); });
  return a.states.empty() ? std::string() : a.Encode();
}

std::vector<const SpecEntry*> Matched(const ProjectCatalog& catalog, const Ev& e) {
  std::vector<const SpecEntry*> specs;
  catalog.SpecsFor(e.type, &specs);
  std::erase_if(specs, [&](const SpecEntry* s) { return !SpecMatches(s->spec, e.View()); });
  return specs;
}

Ev RandomEvent(std::mt19937_64& rng) {
  Ev e;
  e.time_ms = kNow - static_cast<int64_t>(rng() % 40) * kDay + static_cast<int64_t>(rng() % 1000);
  if (rng() % 5 != 0) e.props["price"] = static_cast<int64_t>(rng() % 21) - 5;
  if (rng() % 6 != 0) e.props["sku"] = "s" + std::to_string(rng() % 8);
  return e;
}

TEST(AggregatesEditor, WritesWhatDecodingAddingAndEncodingWrites) {
  ProjectCatalog catalog(EverySpec(), {}, {});
  std::mt19937_64 rng(7);
  for (int user = 0; user < 40; ++user) {
    std::string record;
    std::string reference;
    int64_t now = kNow;
    AggregatesEditor editor;
    for (int i = 0; i < 60; ++i) {
      Ev e = RandomEvent(rng);
      if (rng() % 10 == 0) now += kDay;  // windows move on
      std::vector<const SpecEntry*> matched = Matched(catalog, e);
      // The specs arrive in any order.
      std::shuffle(matched.begin(), matched.end(), rng);
      reference = Reference(catalog, matched, e, now, reference);
      ASSERT_TRUE(editor.AddEvent(catalog, matched, e.View(), now, &record).ok());
      ASSERT_EQ(Hex(record), Hex(reference)) << "user " << user << " event " << i;
    }
  }
}

TEST(AggregatesEditor, DropsStatesOfSpecsTheCatalogNoLongerHas) {
  std::vector<SpecEntry> all = EverySpec();
  ProjectCatalog before(all, {}, {});
  Ev e;
  e.props = {{"price", 4}, {"sku", "s1"}};
  std::string record;
  AggregatesEditor editor;
  ASSERT_TRUE(editor.AddEvent(before, Matched(before, e), e.View(), kNow, &record).ok());
  // Every other spec goes, and spec 2 (a sum) changes: a new spec with a new id.
  std::vector<SpecEntry> kept;
  for (const SpecEntry& s : all) {
    if (s.id % 2 == 1) kept.push_back(s);
  }
  ProjectCatalog after(kept, {}, {});
  Ev e2;
  e2.props = {{"price", 6}};
  std::string expected = Reference(after, Matched(after, e2), e2, kNow, record);
  ASSERT_TRUE(editor.AddEvent(after, Matched(after, e2), e2.View(), kNow, &record).ok());
  EXPECT_EQ(Hex(record), Hex(expected));
  UserAggregates back;
  ASSERT_TRUE(UserAggregates::Decode(record, &back).ok());
  for (const auto& [id, state] : back.states) EXPECT_EQ(id % 2, 1u) << id;
  EXPECT_FALSE(back.states.empty());
}

TEST(AggregatesEditor, LeavesNoRecordWhenNothingCounts) {
  ProjectCatalog catalog(EverySpec(), {}, {});
  Ev old;
  old.time_ms = kNow - 400 * kDay;  // outside every window and range
  std::vector<const SpecEntry*> rolling;
  for (const SpecEntry& s : catalog.specs()) {
    if (s.spec.scope.kind == TimeScope::Kind::kRolling) rolling.push_back(&s);
  }
  std::string record;
  AggregatesEditor editor;
  ASSERT_TRUE(editor.AddEvent(catalog, rolling, old.View(), kNow, &record).ok());
  EXPECT_TRUE(record.empty());
  // A record whose last state leaves its window is deleted too.
  Ev now;
  const SpecEntry* three_days[] = {&catalog.specs()[9]};  // a rolling count of 3 days
  ASSERT_EQ(three_days[0]->spec.scope.days, 3);
  ASSERT_TRUE(editor.AddEvent(catalog, three_days, now.View(), kNow, &record).ok());
  ASSERT_FALSE(record.empty());
  ASSERT_TRUE(editor.AddEvent(catalog, three_days, old.View(), kNow + 10 * kDay, &record).ok());
  EXPECT_TRUE(record.empty());
}

TEST(AggregatesEditor, RefusesARecordThatDoesNotDecodeAndLeavesItAsItWas) {
  ProjectCatalog catalog(EverySpec(), {}, {});
  Ev e;
  e.props = {{"price", 4}, {"sku", "s1"}};
  AggregatesEditor editor;
  for (const std::string& bad :
       {std::string("\x02\x00", 2), std::string("\x01\x01", 2),
        std::string("\x01\x01\x01\x05\x00", 5),      // state length past the end
        std::string("\x01\x01\x02\x01\x00\x00", 6),  // trailing byte
        std::string("\x01\x01\x01\x01\x10", 5)}) {   // spec 1's state: bad flags
    std::string record = bad;
    EXPECT_EQ(editor.AddEvent(catalog, Matched(catalog, e), e.View(), kNow, &record).code(),
              ErrorCode::kCorruption)
        << Hex(bad);
    EXPECT_EQ(record, bad);
  }
}

// The stored encoding must never change (stores written by earlier builds must read): these
// bytes are what the std::map-based SpecState of commit b0de9a0 wrote.
TEST(AggregatesEncoding, IsPinnedByteForByte) {
  auto encode = [](const AggregateSpec& spec, const std::vector<Ev>& events) {
    SpecState s;
    for (const Ev& e : events) s.Add(spec, e.View(), kNow);
    std::string bytes;
    s.EncodeTo(&bytes);
    return Hex(bytes);
  };
  auto at = [](int64_t days_ago, json::object props) {
    Ev e;
    e.time_ms = kNow - days_ago * kDay;
    e.props = std::move(props);
    return e;
  };
  EXPECT_EQ(encode(Spec(Metric::kCount, "", Rolling(30)), {at(0, {}), at(0, {}), at(3, {})}),
            "0202d8bf020101030102");
  EXPECT_EQ(encode(Spec(Metric::kSum, "price"), {at(0, {{"price", 2.5}}), at(1, {{"price", 1}})}),
            "0104400c000000000000");
  EXPECT_EQ(encode(Spec(Metric::kAvg, "price", Rolling(7)), {at(2, {{"price", -1}})}),
            "0201dabf020601bff0000000000000");
  EXPECT_EQ(encode(Spec(Metric::kMin, "price"), {at(2, {{"price", 3}}), at(1, {{"price", "2"}})}),
            "010a024000000000000000");
  EXPECT_EQ(encode(Spec(Metric::kLast, "sku"), {at(1, {{"sku", "a"}}), at(0, {{"sku", 7}})}),
            "014080c8b8fcf4660137");
  EXPECT_EQ(encode(Spec(Metric::kFirst, "sku", Rolling(5)), {at(1, {{"sku", "x"}})}),
            "0201dcbf022080d885aaf46603227822");
  EXPECT_EQ(encode(Spec(Metric::kDistinctCount, "sku"),
                   {at(1, {{"sku", "a"}}), at(0, {{"sku", "b"}}), at(3, {{"sku", "a"}})}),
            "040245d158672f8a3918dcbf02c2d8c110dcfcc9b9debf02");
  EXPECT_EQ(encode(Spec(Metric::kDistinctDays, ""), {at(0, {}), at(4, {}), at(4, {})}),
            "0202d6bf020102040101");
  // Recent items (added by issue 7; pinned from then on).
  EXPECT_EQ(encode(Spec(Metric::kItems, "sku", Rolling(30)),
                   {at(1, {{"sku", "b"}}), at(0, {{"sku", 12}}), at(3, {{"sku", "b"}})}),
            "080280c8b8fcf46602313280d885aaf4660162");
  UserAggregates user;
  Ev e = at(0, {{"price", 1}});
  user.states[3].Add(Spec(Metric::kCount, ""), e.View(), kNow);
  user.states[300].Add(Spec(Metric::kSum, "price"), e.View(), kNow);
  EXPECT_EQ(Hex(user.Encode()), "01020303010101a9020a01043ff0000000000000");
}

}  // namespace
}  // namespace profiled::compute
