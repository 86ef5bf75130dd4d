#include "compute/aggregate.h"

#include <algorithm>
#include <bit>
#include <boost/json.hpp>
#include <limits>
#include <utility>
#include <vector>

#include "compute/match.h"
#include "core/coding.h"
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

// A 64-bit hash of a value's JSON text. It is stored, so it must never change: FNV-1a, with a
// final mix so that texts differing in their last bytes still spread over every bit.
uint64_t StableHash(std::string_view text) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : text) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
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

}  // namespace

int64_t DayOf(int64_t time_ms) {
  int64_t q = time_ms / kDayMs;
  if (time_ms % kDayMs != 0 && time_ms < 0) --q;
  return q;
}

bool SpecMatches(const AggregateSpec& spec, const EventFields& event) {
  if (spec.event_type != "_active" && spec.event_type != event.event_type) return false;
  return std::all_of(spec.where.begin(), spec.where.end(),
                     [&](const Filter& f) { return Matches(f, FieldOf(event, f.prop)); });
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

void SpecState::Prune(const AggregateSpec& spec, int64_t now_ms) {
  if (spec.scope.kind == TimeScope::Kind::kRolling) {
    const int64_t start = WindowStart(spec.scope, DayOf(now_ms));
    days_.erase(days_.begin(),
                std::lower_bound(days_.begin(), days_.end(), start,
                                 [](const DayBucket& b, int64_t d) { return b.first < d; }));
    std::erase_if(distinct_, [start](const DistinctValue& v) { return v.second < start; });
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
    const int64_t today = DayOf(now_ms);
    // Too old: it can never be inside a later window either. Too far ahead (a client clock
    // that is wrong): it would sit in the state counting for nothing until its day came.
    if (day < WindowStart(scope, today) || day > today + 1) return;
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
  Prune(spec, now_ms);
}

Value SpecState::Evaluate(const AggregateSpec& spec, int64_t now_ms) const {
  const bool rolling = spec.scope.kind == TimeScope::Kind::kRolling;
  const int64_t today = DayOf(now_ms);
  const int64_t start = rolling ? WindowStart(spec.scope, today) : 0;
  // The buckets in scope: the window's days when rolling, else every one.
  auto before = [](const DayBucket& b, int64_t d) { return b.first < d; };
  auto after = [](int64_t d, const DayBucket& b) { return d < b.first; };
  auto first =
      rolling ? std::lower_bound(days_.begin(), days_.end(), start, before) : days_.begin();
  auto last = rolling ? std::upper_bound(days_.begin(), days_.end(), today, after) : days_.end();

  if (spec.metric == Metric::kDistinctDays) {
    return static_cast<int64_t>(std::distance(first, last));
  }
  if (spec.metric == Metric::kDistinctCount) {
    if (!rolling) return static_cast<int64_t>(distinct_.size());
    return static_cast<int64_t>(
        std::count_if(distinct_.begin(), distinct_.end(),
                      [&](const auto& e) { return e.second >= start && e.second <= today; }));
  }
  if (spec.metric == Metric::kFirst || spec.metric == Metric::kLast) {
    if (!rolling) {
      const std::string& text =
          spec.metric == Metric::kFirst ? total_.first_value : total_.last_value;
      if (text.empty()) return std::monostate{};
      return JsonText{text};
    }
    if (spec.metric == Metric::kFirst) {
      for (auto it = first; it != last; ++it) {
        if (!it->second.first_value.empty()) return JsonText{it->second.first_value};
      }
    } else {
      for (auto it = std::make_reverse_iterator(last); it != std::make_reverse_iterator(first);
           ++it) {
        if (!it->second.last_value.empty()) return JsonText{it->second.last_value};
      }
    }
    return std::monostate{};
  }

  // The numeric metrics: combine the buckets in scope (no strings are copied here).
  uint64_t count = 0;
  uint64_t numeric_count = 0;
  double sum = 0;
  double min = 0;
  double max = 0;
  auto fold = [&](const Accumulator& a) {
    count += a.count;
    sum += a.sum;
    if (a.numeric_count > 0) {
      min = numeric_count == 0 ? a.min : std::min(min, a.min);
      max = numeric_count == 0 ? a.max : std::max(max, a.max);
      numeric_count += a.numeric_count;
    }
  };
  if (rolling) {
    for (auto it = first; it != last; ++it) fold(it->second);
  } else {
    fold(total_);
  }
  switch (spec.metric) {
    case Metric::kCount:
      return static_cast<int64_t>(std::min<uint64_t>(count, std::numeric_limits<int64_t>::max()));
    case Metric::kSum: return sum;
    case Metric::kMin:
      if (numeric_count == 0) return std::monostate{};
      return min;
    case Metric::kMax:
      if (numeric_count == 0) return std::monostate{};
      return max;
    case Metric::kAvg:
      if (numeric_count == 0) return std::monostate{};
      return sum / static_cast<double>(numeric_count);
    default: return std::monostate{};
  }
}

bool SpecState::empty() const { return IsDefault(total_) && days_.empty() && distinct_.empty(); }

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

bool SpecState::DecodeAccumulator(std::string_view* in, Accumulator* a) {
  uint8_t flags = 0;
  if (!GetByte(in, &flags) || (flags & ~kAccAll) != 0) return false;
  if ((flags & kAccCount) != 0 && !GetVarint64(in, &a->count)) return false;
  if ((flags & kAccNumericCount) != 0 && !GetVarint64(in, &a->numeric_count)) return false;
  if ((flags & kAccSum) != 0 && !GetDouble(in, &a->sum)) return false;
  if ((flags & kAccMin) != 0 && !GetDouble(in, &a->min)) return false;
  if ((flags & kAccMax) != 0 && !GetDouble(in, &a->max)) return false;
  std::string_view text;
  if ((flags & kAccFirst) != 0) {
    if (!GetZigzag(in, &a->first_ms) || !GetLengthPrefixed(in, &text) || text.empty()) {
      return false;
    }
    a->first_value.assign(text);
  }
  if ((flags & kAccLast) != 0) {
    if (!GetZigzag(in, &a->last_ms) || !GetLengthPrefixed(in, &text) || text.empty()) {
      return false;
    }
    a->last_value.assign(text);
  }
  return true;
}

void SpecState::EncodeTo(std::string* out) const {
  uint8_t flags = 0;
  if (!IsDefault(total_)) flags |= kHasTotal;
  if (!days_.empty()) flags |= kHasDays;
  if (!distinct_.empty()) flags |= kHasDistinct;
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
}

Status SpecState::Decode(std::string_view bytes, SpecState* state) {
  state->Clear();
  Status status = state->DecodeFrom(bytes);
  if (!status.ok()) state->Clear();
  return status;
}

Status SpecState::DecodeFrom(std::string_view bytes) {
  SpecState& s = *this;
  std::string_view in = bytes;
  uint8_t flags = 0;
  if (!GetByte(&in, &flags) || (flags & ~(kHasTotal | kHasDays | kHasDistinct)) != 0) {
    return CorruptState();
  }
  if ((flags & kHasTotal) != 0 && !DecodeAccumulator(&in, &s.total_)) return CorruptState();
  if ((flags & kHasDays) != 0) {
    uint64_t n = 0;
    if (!GetVarint64(&in, &n) || n == 0) return CorruptState();
    int64_t day = 0;
    for (uint64_t i = 0; i < n; ++i) {
      if (i == 0) {
        if (!GetZigzag(&in, &day)) return CorruptState();
      } else {
        uint64_t delta = 0;
        // Unsigned arithmetic: the room above `day` fits a uint64_t even for negative days.
        const uint64_t room =
            static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) - static_cast<uint64_t>(day);
        if (!GetVarint64(&in, &delta) || delta == 0 || delta > room) return CorruptState();
        day = static_cast<int64_t>(static_cast<uint64_t>(day) + delta);
      }
      // Each entry takes at least one byte, so a forged count cannot make this loop long.
      if (!DecodeAccumulator(&in, &s.days_.emplace_back(day, Accumulator{}).second)) {
        return CorruptState();
      }
    }
  }
  if ((flags & kHasDistinct) != 0) {
    uint64_t n = 0;
    if (!GetVarint64(&in, &n) || n == 0 || n > kMaxDistinctValues) return CorruptState();
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t hash = 0;
      int64_t day = 0;
      if (!GetFixed64BE(&in, &hash) || !GetZigzag(&in, &day)) return CorruptState();
      if (!s.distinct_.empty() && hash <= s.distinct_.back().first) return CorruptState();
      s.distinct_.emplace_back(hash, day);
    }
  }
  if (!in.empty()) return CorruptState();
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
  std::string_view in = bytes;
  uint8_t version = 0;
  if (!GetByte(&in, &version) || version != kFormatVersion) return CorruptRecord();
  uint64_t n = 0;
  if (!GetVarint64(&in, &n)) return CorruptRecord();
  UserAggregates result;
  uint64_t id = 0;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t delta = 0;
    std::string_view state_bytes;
    if (!GetVarint64(&in, &delta) || (i > 0 && delta == 0) ||
        delta > std::numeric_limits<uint64_t>::max() - id ||
        !GetLengthPrefixed(&in, &state_bytes)) {
      return CorruptRecord();
    }
    id += delta;
    SpecState state;
    PROFILED_RETURN_IF_ERROR(SpecState::Decode(state_bytes, &state));
    result.states.emplace_hint(result.states.end(), id, std::move(state));
  }
  if (!in.empty()) return CorruptRecord();
  *out = std::move(result);
  return Status::Ok();
}

}  // namespace profiled::compute
