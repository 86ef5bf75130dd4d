#include "compute/aggregate.h"

#include <algorithm>
#include <bit>
#include <boost/json.hpp>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "compute/match.h"
#include "core/coding.h"
#include "core/hash.h"
#include "core/json_writer.h"
#include "core/value_text.h"

namespace profiled::compute {
namespace json = boost::json;

namespace {

constexpr int64_t kDayMs = 86'400'000;
// The first byte of UserAggregates::Encode; a decoder refuses any other.
constexpr uint8_t kFormatVersion = 1;

// Which optional parts a SpecState encoding holds.
constexpr uint8_t kHasTotal = 1;
constexpr uint8_t kHasDays = 2;
constexpr uint8_t kHasDistinct = 4;
constexpr uint8_t kHasItems = 8;
constexpr uint8_t kHasAll = kHasTotal | kHasDays | kHasDistinct | kHasItems;

// Which fields of an accumulator are present (non-default) in its encoding: an accumulator
// only fills the fields its metric needs, so this keeps every state to what its metric uses
// without the decoder having to know the metric.
constexpr uint8_t kAccCount = 1;
constexpr uint8_t kAccNumericCount = 2;
constexpr uint8_t kAccSum = 4;
constexpr uint8_t kAccMin = 8;
constexpr uint8_t kAccMax = 16;
constexpr uint8_t kAccFirst = 32;
constexpr uint8_t kAccLast = 64;
constexpr uint8_t kAccAll = 127;

void PutZigzag(std::string* out, int64_t v) {
  PutVarint64(out, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}

bool GetZigzag(std::string_view* in, int64_t* v) {
  uint64_t u = 0;
  if (!GetVarint64(in, &u)) return false;
  *v = static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
  return true;
}

void PutDouble(std::string* out, double v) { PutFixed64BE(out, std::bit_cast<uint64_t>(v)); }

bool GetDouble(std::string_view* in, double* v) {
  uint64_t bits = 0;
  if (!GetFixed64BE(in, &bits)) return false;
  *v = std::bit_cast<double>(bits);
  return true;
}

Status CorruptState() { return Status::Corruption("aggregate state does not decode"); }
Status CorruptRecord() { return Status::Corruption("aggregate record does not decode"); }

bool GetByte(std::string_view* in, uint8_t* v) {
  if (in->empty()) return false;
  *v = static_cast<uint8_t>(in->front());
  in->remove_prefix(1);
  return true;
}

// The value a spec's `property` (or a `where` filter) names: '$name' is a top-level field.
const json::value* FieldOf(const EventFields& event, std::string_view prop) {
  if (prop.starts_with('$')) {
    if (event.fields == nullptr) return nullptr;
    return event.fields->if_contains(prop.substr(1));
  }
  if (event.properties == nullptr) return nullptr;
  return event.properties->if_contains(prop);
}

// The first day of the rolling window ending on `today`.
int64_t WindowStart(const TimeScope& scope, int64_t today) { return today - scope.days + 1; }

// An encoded accumulator's fields, first/last as views into the encoding.
struct AccumulatorView {
  uint64_t count = 0;
  uint64_t numeric_count = 0;
  double sum = 0;
  double min = 0;
  double max = 0;
  int64_t first_ms = 0;
  int64_t last_ms = 0;
  std::string_view first_value;  // JSON text; empty = none
  std::string_view last_value;
};

// Reads one accumulator (the only reader of the format); false when the bytes are not one.
bool ReadAccumulator(std::string_view* in, AccumulatorView* a) {
  uint8_t flags = 0;
  if (!GetByte(in, &flags) || (flags & ~kAccAll) != 0) return false;
  if ((flags & kAccCount) != 0 && !GetVarint64(in, &a->count)) return false;
  if ((flags & kAccNumericCount) != 0 && !GetVarint64(in, &a->numeric_count)) return false;
  if ((flags & kAccSum) != 0 && !GetDouble(in, &a->sum)) return false;
  if ((flags & kAccMin) != 0 && !GetDouble(in, &a->min)) return false;
  if ((flags & kAccMax) != 0 && !GetDouble(in, &a->max)) return false;
  if ((flags & kAccFirst) != 0 &&
      (!GetZigzag(in, &a->first_ms) || !GetLengthPrefixed(in, &a->first_value) ||
       a->first_value.empty())) {
    return false;
  }
  if ((flags & kAccLast) != 0 &&
      (!GetZigzag(in, &a->last_ms) || !GetLengthPrefixed(in, &a->last_value) ||
       a->last_value.empty())) {
    return false;
  }
  return true;
}

// Reads the day after `*day` from its (positive) distance; false when it is not one.
bool ReadNextDay(std::string_view* in, int64_t* day) {
  uint64_t delta = 0;
  // Unsigned arithmetic: the room above `day` fits a uint64_t even for negative days.
  const uint64_t room =
      static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) - static_cast<uint64_t>(*day);
  if (!GetVarint64(in, &delta) || delta == 0 || delta > room) return false;
  *day = static_cast<int64_t>(static_cast<uint64_t>(*day) + delta);
  return true;
}

// Reads an encoded SpecState, checking every byte, and hands its parts to `visitor` in the
// order of the encoding: Total(const AccumulatorView&), Day(int64_t day, const
// AccumulatorView&), Distinct(uint64_t hash, int64_t day), Item(std::string_view key, int64_t
// time_ms). The only reader of the format; false when the bytes are not a state this code
// wrote (the visitor may then have seen part of it).
template <typename Visitor>
bool ReadState(std::string_view in, Visitor& visitor) {
  uint8_t flags = 0;
  if (!GetByte(&in, &flags) || (flags & ~kHasAll) != 0) return false;
  if ((flags & kHasTotal) != 0) {
    AccumulatorView total;
    if (!ReadAccumulator(&in, &total)) return false;
    visitor.Total(total);
  }
  if ((flags & kHasDays) != 0) {
    uint64_t n = 0;
    if (!GetVarint64(&in, &n) || n == 0) return false;
    int64_t day = 0;
    // Each day takes at least two bytes, so a forged count cannot make this loop long.
    for (uint64_t i = 0; i < n; ++i) {
      if (i == 0 ? !GetZigzag(&in, &day) : !ReadNextDay(&in, &day)) return false;
      AccumulatorView bucket;
      if (!ReadAccumulator(&in, &bucket)) return false;
      visitor.Day(day, bucket);
    }
  }
  if ((flags & kHasDistinct) != 0) {
    uint64_t n = 0;
    if (!GetVarint64(&in, &n) || n == 0 || n > kMaxDistinctValues) return false;
    uint64_t previous = 0;
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t hash = 0;
      int64_t day = 0;
      if (!GetFixed64BE(&in, &hash) || !GetZigzag(&in, &day)) return false;
      if (i > 0 && hash <= previous) return false;
      previous = hash;
      visitor.Distinct(hash, day);
    }
  }
  if ((flags & kHasItems) != 0) {
    uint64_t n = 0;
    if (!GetVarint64(&in, &n) || n == 0 || n > kMaxItems) return false;
    std::string_view previous;
    for (uint64_t i = 0; i < n; ++i) {
      int64_t time_ms = 0;
      std::string_view key;
      if (!GetZigzag(&in, &time_ms) || !GetLengthPrefixed(&in, &key) || key.empty() ||
          key.size() > kMaxItemKeyBytes || (i > 0 && key <= previous)) {
        return false;
      }
      previous = key;
      visitor.Item(key, time_ms);
    }
  }
  return in.empty();
}

// Whether an item last seen at `time_ms` is in the rolling window whose first day is `start`
// (the writer never keeps one dated after tomorrow).
bool ItemInWindow(int64_t time_ms, int64_t start) { return DayOf(time_ms) >= start; }

// Items by recency: the later time first, ties the smaller key first (ItemsOf's order, and
// what the cap keeps).
template <typename Key>
bool MoreRecent(int64_t a_ms, const Key& a_key, int64_t b_ms, const Key& b_key) {
  return a_ms != b_ms ? a_ms > b_ms : a_key < b_key;
}

// What a spec's value is made of, folded from the buckets in scope in ascending day order.
class ValueFold {
 public:
  explicit ValueFold(Metric metric) : metric_(metric) {}

  void Add(const AccumulatorView& a) {
    count_ += a.count;
    sum_ += a.sum;
    if (a.numeric_count > 0) {
      min_ = numeric_count_ == 0 ? a.min : std::min(min_, a.min);
      max_ = numeric_count_ == 0 ? a.max : std::max(max_, a.max);
      numeric_count_ += a.numeric_count;
    }
    // The earliest bucket's first value, the latest bucket's last value.
    if (first_.empty()) first_ = a.first_value;
    if (!a.last_value.empty()) last_ = a.last_value;
  }
  void AddDay() { ++days_; }
  void AddDistinct() { ++distinct_; }
  void AddItem() { ++items_; }

  void Result(Value* out) const {
    switch (metric_) {
      case Metric::kCount:
        *out =
            static_cast<int64_t>(std::min<uint64_t>(count_, std::numeric_limits<int64_t>::max()));
        return;
      case Metric::kSum: *out = sum_; return;
      case Metric::kDistinctCount: *out = distinct_; return;
      case Metric::kDistinctDays: *out = days_; return;
      default: *out = Result(); return;
    }
  }

  Value Result() const {
    switch (metric_) {
      case Metric::kCount:
        return static_cast<int64_t>(
            std::min<uint64_t>(count_, std::numeric_limits<int64_t>::max()));
      case Metric::kSum: return sum_;
      case Metric::kMin:
        if (numeric_count_ == 0) return std::monostate{};
        return min_;
      case Metric::kMax:
        if (numeric_count_ == 0) return std::monostate{};
        return max_;
      case Metric::kAvg:
        if (numeric_count_ == 0) return std::monostate{};
        return sum_ / static_cast<double>(numeric_count_);
      case Metric::kFirst:
        if (first_.empty()) return std::monostate{};
        return JsonText{std::string(first_)};
      case Metric::kLast:
        if (last_.empty()) return std::monostate{};
        return JsonText{std::string(last_)};
      case Metric::kDistinctCount: return distinct_;
      case Metric::kDistinctDays: return days_;
      case Metric::kItems: return items_;
    }
    return std::monostate{};
  }

 private:
  Metric metric_;
  uint64_t count_ = 0;
  uint64_t numeric_count_ = 0;
  double sum_ = 0;
  double min_ = 0;
  double max_ = 0;
  std::string_view first_;
  std::string_view last_;
  int64_t days_ = 0;
  int64_t distinct_ = 0;
  int64_t items_ = 0;
};

// EvaluateEncoded's visitor of a state (ReadState): folds what is in the spec's scope.
class ScopeFold {
 public:
  ScopeFold(const AggregateSpec& spec, int64_t now_ms)
      : fold_(spec.metric),
        metric_(spec.metric),
        rolling_(spec.scope.kind == TimeScope::Kind::kRolling),
        today_(DayOf(now_ms)),
        start_(rolling_ ? WindowStart(spec.scope, today_) : 0) {}

  // Rolling specs read the buckets of the window's days; the others read the total, except
  // distinct days, which counts every day kept.
  void Total(const AccumulatorView& total) {
    if (!rolling_) fold_.Add(total);
  }
  void Day(int64_t day, const AccumulatorView& bucket) {
    if (!InScope(day)) return;
    if (metric_ == Metric::kDistinctDays) fold_.AddDay();
    if (rolling_) fold_.Add(bucket);
  }
  void Distinct(uint64_t /*hash*/, int64_t day) {
    if (InScope(day)) fold_.AddDistinct();
  }
  void Item(std::string_view /*key*/, int64_t time_ms) {
    if (!rolling_ || ItemInWindow(time_ms, start_)) fold_.AddItem();
  }
  const ValueFold& fold() const { return fold_; }

 private:
  bool InScope(int64_t day) const { return !rolling_ || (day >= start_ && day <= today_); }

  ValueFold fold_;
  Metric metric_;
  bool rolling_;
  int64_t today_;
  int64_t start_;
};

}  // namespace

bool ItemKey(const json::value& value, std::string* out) {
  out->clear();
  switch (value.kind()) {
    case json::kind::string: out->assign(value.get_string()); break;
    case json::kind::int64: AppendJsonInt(out, value.get_int64()); break;
    case json::kind::uint64: AppendJsonUint(out, value.get_uint64()); break;
    case json::kind::double_:
      if (!std::isfinite(value.get_double())) return false;  // never ingested; no text for it
      AppendJsonDouble(out, value.get_double());
      break;
    case json::kind::bool_: out->assign(value.get_bool() ? "true" : "false"); break;
    case json::kind::null:
    case json::kind::object:
    case json::kind::array: return false;
  }
  return !out->empty() && out->size() <= kMaxItemKeyBytes;
}

int64_t DayOf(int64_t time_ms) {
  int64_t q = time_ms / kDayMs;
  if (time_ms % kDayMs != 0 && time_ms < 0) --q;
  return q;
}

bool MatchesEventType(const AggregateSpec& spec, std::string_view event_type) {
  // A recommendation exposure is not activity (definition.h, kExposureEventType).
  if (spec.event_type == kAnyEvent) return event_type != kExposureEventType;
  return spec.event_type == event_type;
}

bool SpecMatches(const AggregateSpec& spec, const EventFields& event) {
  if (!MatchesEventType(spec, event.event_type)) return false;
  return std::all_of(spec.where.begin(), spec.where.end(),
                     [&](const Filter& f) { return Matches(f, FieldOf(event, f.prop)); });
}

bool InRollingWindow(const TimeScope& scope, int64_t time_ms, int64_t now_ms) {
  const int64_t day = DayOf(time_ms);
  const int64_t today = DayOf(now_ms);
  return day >= WindowStart(scope, today) && day <= today + 1;
}

bool ItemOfEvent(const AggregateSpec& spec, const EventFields& event, std::string* key) {
  if (!SpecMatches(spec, event)) return false;
  const json::value* v = FieldOf(event, spec.property);
  return v != nullptr && ItemKey(*v, key);
}

// Folds b into a as if b's events had been added after a's. Each field only ever holds what
// the metric fills, so one rule serves every metric.
void SpecState::MergeAccumulator(Accumulator* a, const Accumulator& b) {
  a->count += b.count;
  if (b.numeric_count > 0) {
    if (a->numeric_count == 0) {
      a->min = b.min;
      a->max = b.max;
    } else {
      a->min = std::min(a->min, b.min);
      a->max = std::max(a->max, b.max);
    }
    a->numeric_count += b.numeric_count;
  }
  a->sum += b.sum;
  // Ties: the first value keeps the one added earlier, the last takes the one added later.
  if (!b.first_value.empty() && (a->first_value.empty() || b.first_ms < a->first_ms)) {
    a->first_ms = b.first_ms;
    a->first_value = b.first_value;
  }
  if (!b.last_value.empty() && (a->last_value.empty() || b.last_ms >= a->last_ms)) {
    a->last_ms = b.last_ms;
    a->last_value = b.last_value;
  }
}

// `a == Accumulator{}` without making one (this runs for every state encoded).
bool SpecState::IsDefault(const Accumulator& a) {
  return a.count == 0 && a.numeric_count == 0 && a.sum == 0 && a.min == 0 && a.max == 0 &&
         a.first_ms == 0 && a.last_ms == 0 && a.first_value.empty() && a.last_value.empty();
}

SpecState::Accumulator& SpecState::BucketOf(int64_t day) {
  // Events mostly land on the newest day: look there first.
  if (days_.empty() || days_.back().first < day) {
    return days_.emplace_back(day, Accumulator{}).second;
  }
  auto it = std::lower_bound(days_.begin(), days_.end(), day,
                             [](const DayBucket& b, int64_t d) { return b.first < d; });
  if (it == days_.end() || it->first != day) it = days_.emplace(it, day, Accumulator{});
  return it->second;
}

void SpecState::SeeValue(uint64_t hash, int64_t day) {
  auto it = std::lower_bound(distinct_.begin(), distinct_.end(), hash,
                             [](const DistinctValue& v, uint64_t h) { return v.first < h; });
  if (it != distinct_.end() && it->first == hash) {
    it->second = std::max(it->second, day);
  } else {
    distinct_.emplace(it, hash, day);
  }
}

void SpecState::SeeItem(std::string_view key, int64_t time_ms) {
  auto it = std::lower_bound(items_.begin(), items_.end(), key,
                             [](const Item& item, std::string_view k) { return item.first < k; });
  if (it != items_.end() && it->first == key) {
    it->second = std::max(it->second, time_ms);
  } else {
    items_.emplace(it, std::string(key), time_ms);
  }
}

void SpecState::Prune(const AggregateSpec& spec, int64_t now_ms) {
  if (spec.scope.kind == TimeScope::Kind::kRolling) {
    const int64_t start = WindowStart(spec.scope, DayOf(now_ms));
    days_.erase(days_.begin(),
                std::lower_bound(days_.begin(), days_.end(), start,
                                 [](const DayBucket& b, int64_t d) { return b.first < d; }));
    std::erase_if(distinct_, [start](const DistinctValue& v) { return v.second < start; });
    std::erase_if(items_, [start](const Item& item) { return !ItemInWindow(item.second, start); });
  } else if (days_.size() > kMaxDistinctDays) {
    days_.erase(days_.begin(), days_.end() - static_cast<ptrdiff_t>(kMaxDistinctDays));
  }
  if (distinct_.size() == kMaxDistinctValues + 1) {
    // One value over the cap, the usual case after Add: forget the oldest in one pass.
    auto oldest =
        std::min_element(distinct_.begin(), distinct_.end(),
                         [](const auto& x, const auto& y) { return x.second < y.second; });
    distinct_.erase(oldest);
  } else if (distinct_.size() > kMaxDistinctValues) {
    // Forget the values with the oldest days (ties: the smaller hash first).
    std::vector<std::pair<int64_t, uint64_t>> by_day;  // (day, hash)
    by_day.reserve(distinct_.size());
    for (const auto& [hash, day] : distinct_) by_day.emplace_back(day, hash);
    std::sort(by_day.begin(), by_day.end());
    std::vector<uint64_t> forget;
    forget.reserve(by_day.size() - kMaxDistinctValues);
    for (size_t i = 0; i < by_day.size() - kMaxDistinctValues; ++i) {
      forget.push_back(by_day[i].second);
    }
    std::sort(forget.begin(), forget.end());
    std::erase_if(distinct_, [&](const DistinctValue& v) {
      return std::binary_search(forget.begin(), forget.end(), v.first);
    });
  }
  auto more_recent = [](const Item& a, const Item& b) {
    return MoreRecent(a.second, a.first, b.second, b.first);
  };
  // Past the cap, forget the least recent item: one after Add, at most kMaxItems after a Merge
  // (rare, and a few hundred items: simple passes beat sorting strings).
  while (items_.size() > kMaxItems) {
    items_.erase(std::max_element(items_.begin(), items_.end(), more_recent));
  }
}

void SpecState::Add(const AggregateSpec& spec, const EventFields& event, int64_t now_ms) {
  const TimeScope& scope = spec.scope;
  const bool rolling = scope.kind == TimeScope::Kind::kRolling;
  const int64_t day = DayOf(event.time_ms);
  if (scope.kind == TimeScope::Kind::kRange &&
      (event.time_ms < scope.start_ms || event.time_ms > scope.end_ms)) {
    return;
  }
  if (rolling) {
    Prune(spec, now_ms);
    // Too old: it can never be inside a later window either. Too far ahead (a client clock
    // that is wrong): it would sit in the state counting for nothing until its day came.
    if (!InRollingWindow(scope, event.time_ms, now_ms)) return;
  }

  Accumulator one;
  switch (spec.metric) {
    case Metric::kCount:
    case Metric::kDistinctDays: one.count = 1; break;
    case Metric::kDistinctCount: {
      const json::value* v = FieldOf(event, spec.property);
      if (v == nullptr || v->is_null()) return;
      std::string text;
      AppendValueText(*v, &text);  // numbers as people write them
      // A value dated tomorrow (a client clock ahead) counts from today: keeping only its
      // latest day, a future day would hide the day it was also seen inside the window.
      SeeValue(StableHash(text), std::min(day, DayOf(now_ms)));
      Prune(spec, now_ms);
      return;
    }
    case Metric::kItems: {
      std::string key;
      if (!ItemOfEvent(spec, event, &key)) return;
      SeeItem(key, event.time_ms);
      Prune(spec, now_ms);  // the cap
      return;
    }
    case Metric::kSum:
    case Metric::kMin:
    case Metric::kMax:
    case Metric::kAvg: {
      const json::value* v = FieldOf(event, spec.property);
      if (v == nullptr) return;
      std::optional<double> number = AsNumber(*v);
      if (!number.has_value()) return;
      if (spec.metric == Metric::kSum) {
        if (*number == 0) return;  // changes nothing; no bucket for it
        one.sum = *number;
      } else {
        one.numeric_count = 1;
        if (spec.metric == Metric::kAvg) one.sum = *number;
        if (spec.metric == Metric::kMin) one.min = *number;
        if (spec.metric == Metric::kMax) one.max = *number;
      }
      break;
    }
    case Metric::kFirst:
    case Metric::kLast: {
      const json::value* v = FieldOf(event, spec.property);
      if (v == nullptr || v->is_null()) return;
      std::string text;
      AppendValueText(*v, &text);  // numbers as people write them
      if (spec.metric == Metric::kFirst) {
        one.first_ms = event.time_ms;
        one.first_value = std::move(text);
      } else {
        one.last_ms = event.time_ms;
        one.last_value = std::move(text);
      }
      break;
    }
  }
  if (rolling || spec.metric == Metric::kDistinctDays) {
    MergeAccumulator(&BucketOf(day), one);
    if (!rolling) Prune(spec, now_ms);  // the cap on distinct days
  } else {
    MergeAccumulator(&total_, one);
  }
}

void SpecState::Merge(const AggregateSpec& spec, const SpecState& other, int64_t now_ms) {
  MergeAccumulator(&total_, other.total_);
  if (!other.days_.empty()) {
    // Both sorted by day: one pass.
    std::vector<DayBucket> merged;
    merged.reserve(days_.size() + other.days_.size());
    auto a = days_.begin();
    auto b = other.days_.begin();
    while (a != days_.end() || b != other.days_.end()) {
      if (b == other.days_.end() || (a != days_.end() && a->first < b->first)) {
        merged.push_back(std::move(*a++));
      } else if (a == days_.end() || b->first < a->first) {
        // Folded into an empty bucket, as Add would: exactly what `days_[day]` gave.
        merged.emplace_back(b->first, Accumulator{});
        MergeAccumulator(&merged.back().second, (b++)->second);
      } else {
        merged.push_back(std::move(*a++));
        MergeAccumulator(&merged.back().second, (b++)->second);
      }
    }
    days_ = std::move(merged);
  }
  if (!other.distinct_.empty()) {
    std::vector<DistinctValue> merged;
    merged.reserve(distinct_.size() + other.distinct_.size());
    auto a = distinct_.begin();
    auto b = other.distinct_.begin();
    while (a != distinct_.end() || b != other.distinct_.end()) {
      if (b == other.distinct_.end() || (a != distinct_.end() && a->first < b->first)) {
        merged.push_back(*a++);
      } else if (a == distinct_.end() || b->first < a->first) {
        merged.push_back(*b++);
      } else {
        merged.emplace_back(a->first, std::max(a->second, b->second));
        ++a;
        ++b;
      }
    }
    distinct_ = std::move(merged);
  }
  for (const auto& [key, time_ms] : other.items_) SeeItem(key, time_ms);
  Prune(spec, now_ms);
}

Value SpecState::Evaluate(const AggregateSpec& spec, int64_t now_ms) const {
  std::string bytes;
  EncodeTo(&bytes);
  Value value;
  // This code's own encoding always evaluates; a failure would leave the value none.
  if (!EvaluateEncoded(spec, bytes, now_ms, &value).ok()) return std::monostate{};
  return value;
}

// flatten (here, in DecodeFrom and in EncodeTo, the per-state work of reads and of the writer):
// this file is past GCC's inline-unit-growth budget, which left the varint readers and writers
// out of line in these loops; inlining everything they call measured 25% fewer instructions
// per EvaluateEncoded and 10% per decode-add-encode than before kItems (callgrind).
[[gnu::flatten]] Status EvaluateEncoded(const AggregateSpec& spec, std::string_view state,
                                        int64_t now_ms, Value* value) {
  ScopeFold fold(spec, now_ms);
  if (!state.empty() && !ReadState(state, fold)) return CorruptState();
  fold.fold().Result(value);
  return Status::Ok();
}

Status ItemsOf(const AggregateSpec& spec, std::string_view state, int64_t now_ms,
               std::vector<std::string_view>* out) {
  out->clear();
  if (state.empty()) return Status::Ok();
  struct Collect {
    int64_t start;
    std::vector<std::pair<int64_t, std::string_view>> items;  // (time_ms, key) in the window
    void Total(const AccumulatorView& /*total*/) {}
    void Day(int64_t /*day*/, const AccumulatorView& /*bucket*/) {}
    void Distinct(uint64_t /*hash*/, int64_t /*day*/) {}
    void Item(std::string_view key, int64_t time_ms) {
      if (ItemInWindow(time_ms, start)) items.emplace_back(time_ms, key);
    }
  };
  const bool rolling = spec.scope.kind == TimeScope::Kind::kRolling;
  Collect collect{
      rolling ? WindowStart(spec.scope, DayOf(now_ms)) : std::numeric_limits<int64_t>::min(), {}};
  if (!ReadState(state, collect)) return CorruptState();
  std::sort(collect.items.begin(), collect.items.end(), [](const auto& a, const auto& b) {
    return MoreRecent(a.first, a.second, b.first, b.second);
  });
  out->reserve(collect.items.size());
  for (const auto& item : collect.items) out->push_back(item.second);
  return Status::Ok();
}

bool SpecState::empty() const {
  return IsDefault(total_) && days_.empty() && distinct_.empty() && items_.empty();
}

void SpecState::Clear() {
  total_.count = 0;
  total_.numeric_count = 0;
  total_.sum = 0;
  total_.min = 0;
  total_.max = 0;
  total_.first_ms = 0;
  total_.last_ms = 0;
  total_.first_value.clear();
  total_.last_value.clear();
  days_.clear();
  distinct_.clear();
  items_.clear();
}

void SpecState::EncodeAccumulator(const Accumulator& a, std::string* out) {
  uint8_t flags = 0;
  if (a.count != 0) flags |= kAccCount;
  if (a.numeric_count != 0) flags |= kAccNumericCount;
  if (std::bit_cast<uint64_t>(a.sum) != 0) flags |= kAccSum;
  if (std::bit_cast<uint64_t>(a.min) != 0) flags |= kAccMin;
  if (std::bit_cast<uint64_t>(a.max) != 0) flags |= kAccMax;
  if (!a.first_value.empty()) flags |= kAccFirst;
  if (!a.last_value.empty()) flags |= kAccLast;
  out->push_back(static_cast<char>(flags));
  if ((flags & kAccCount) != 0) PutVarint64(out, a.count);
  if ((flags & kAccNumericCount) != 0) PutVarint64(out, a.numeric_count);
  if ((flags & kAccSum) != 0) PutDouble(out, a.sum);
  if ((flags & kAccMin) != 0) PutDouble(out, a.min);
  if ((flags & kAccMax) != 0) PutDouble(out, a.max);
  if ((flags & kAccFirst) != 0) {
    PutZigzag(out, a.first_ms);
    PutLengthPrefixed(out, a.first_value);
  }
  if ((flags & kAccLast) != 0) {
    PutZigzag(out, a.last_ms);
    PutLengthPrefixed(out, a.last_value);
  }
}

[[gnu::flatten]] void SpecState::EncodeTo(std::string* out) const {
  uint8_t flags = 0;
  if (!IsDefault(total_)) flags |= kHasTotal;
  if (!days_.empty()) flags |= kHasDays;
  if (!distinct_.empty()) flags |= kHasDistinct;
  if (!items_.empty()) flags |= kHasItems;
  out->push_back(static_cast<char>(flags));
  if ((flags & kHasTotal) != 0) EncodeAccumulator(total_, out);
  if ((flags & kHasDays) != 0) {
    // Days ascending, each after the first as the (positive) distance from the previous.
    PutVarint64(out, days_.size());
    int64_t previous = 0;
    bool first = true;
    for (const auto& [day, bucket] : days_) {
      if (first) {
        PutZigzag(out, day);
      } else {
        PutVarint64(out, static_cast<uint64_t>(day) - static_cast<uint64_t>(previous));
      }
      first = false;
      previous = day;
      EncodeAccumulator(bucket, out);
    }
  }
  if ((flags & kHasDistinct) != 0) {
    PutVarint64(out, distinct_.size());
    for (const auto& [hash, day] : distinct_) {
      PutFixed64BE(out, hash);
      PutZigzag(out, day);
    }
  }
  if ((flags & kHasItems) != 0) {
    PutVarint64(out, items_.size());
    for (const auto& [key, time_ms] : items_) {
      PutZigzag(out, time_ms);
      PutLengthPrefixed(out, key);
    }
  }
}

Status SpecState::Decode(std::string_view bytes, SpecState* state) {
  state->Clear();
  Status status = state->DecodeFrom(bytes);
  if (!status.ok()) state->Clear();
  return status;
}

[[gnu::flatten]] Status SpecState::DecodeFrom(std::string_view bytes) {
  // A local class: it may fill the private parts.
  struct Fill {
    SpecState* s;
    static void Copy(const AccumulatorView& v, Accumulator* a) {
      a->count = v.count;
      a->numeric_count = v.numeric_count;
      a->sum = v.sum;
      a->min = v.min;
      a->max = v.max;
      if (!v.first_value.empty()) {
        a->first_ms = v.first_ms;
        a->first_value.assign(v.first_value);
      }
      if (!v.last_value.empty()) {
        a->last_ms = v.last_ms;
        a->last_value.assign(v.last_value);
      }
    }
    void Total(const AccumulatorView& total) { Copy(total, &s->total_); }
    void Day(int64_t day, const AccumulatorView& bucket) {
      Copy(bucket, &s->days_.emplace_back(day, Accumulator{}).second);
    }
    void Distinct(uint64_t hash, int64_t day) { s->distinct_.emplace_back(hash, day); }
    void Item(std::string_view key, int64_t time_ms) {
      s->items_.emplace_back(std::string(key), time_ms);
    }
  };
  Fill fill{this};
  if (!ReadState(bytes, fill)) return CorruptState();
  return Status::Ok();
}

std::string UserAggregates::Encode() const {
  std::string out;
  out.push_back(static_cast<char>(kFormatVersion));
  PutVarint64(&out, states.size());
  uint64_t previous = 0;
  std::string bytes;
  for (const auto& [id, state] : states) {
    // Ids ascending, each as the distance from the previous (the first from 0).
    PutVarint64(&out, id - previous);
    previous = id;
    bytes.clear();
    state.EncodeTo(&bytes);
    PutLengthPrefixed(&out, bytes);
  }
  return out;
}

Status UserAggregates::Decode(std::string_view bytes, UserAggregates* out) {
  if (bytes.empty()) return CorruptRecord();  // a record is at least its version
  AggregatesView view;
  PROFILED_RETURN_IF_ERROR(view.Parse(bytes));
  UserAggregates result;
  for (const AggregatesView::Entry& entry : view.entries()) {
    SpecState state;
    PROFILED_RETURN_IF_ERROR(SpecState::Decode(entry.state, &state));
    result.states.emplace_hint(result.states.end(), entry.id, std::move(state));
  }
  *out = std::move(result);
  return Status::Ok();
}

Status AggregatesView::Parse(std::string_view record) {
  entries_.clear();
  if (record.empty()) return Status::Ok();
  std::string_view in = record;
  uint8_t version = 0;
  if (!GetByte(&in, &version) || version != kFormatVersion) return CorruptRecord();
  uint64_t n = 0;
  if (!GetVarint64(&in, &n)) return CorruptRecord();
  // Each state takes at least two bytes (id delta, length), so a forged count cannot
  // reserve or loop more than the record allows.
  entries_.reserve(std::min<uint64_t>(n, in.size() / 2));
  uint64_t id = 0;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t delta = 0;
    std::string_view state;
    // A state is at least its flags byte: an empty one is corrupt (and would read as none).
    if (!GetVarint64(&in, &delta) || (i > 0 && delta == 0) ||
        delta > std::numeric_limits<uint64_t>::max() - id || !GetLengthPrefixed(&in, &state) ||
        state.empty()) {
      entries_.clear();
      return CorruptRecord();
    }
    id += delta;
    entries_.push_back(Entry{id, state});
  }
  if (!in.empty()) {
    entries_.clear();
    return CorruptRecord();
  }
  return Status::Ok();
}

std::string_view AggregatesView::Find(uint64_t id) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), id,
                             [](const Entry& e, uint64_t want) { return e.id < want; });
  if (it == entries_.end() || it->id != id) return {};
  return it->state;
}

}  // namespace profiled::compute
