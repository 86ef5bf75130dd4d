#include "ingest/property_ops.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>

#include "core/value_text.h"

namespace profiled::ingest {

namespace json = boost::json;

namespace {

// Wide enough for the sum of any two JSON integers (int64 or uint64) without overflow.
__extension__ typedef __int128 WideInt;

// The values an array operation carries: an array's elements, or the single value. A view
// of the operation's value, valid while it lives: no copy, and nothing allocated from the
// storage of the event's values (ingest/event.h).
std::span<const json::value> AsValues(const json::value& v) {
  if (v.is_array()) return {v.get_array().data(), v.get_array().size()};
  return {&v, 1};
}

bool Contains(std::span<const json::value> values, const json::value& v) {
  return std::find(values.begin(), values.end(), v) != values.end();
}

// The existing value as an array (a scalar becomes a one-element array).
json::array AsArray(const json::value& existing) {
  if (existing.is_array()) return existing.get_array();
  json::array a;
  a.push_back(existing);
  return a;
}

double ToDouble(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  return v.get_double();
}

// a + b into *sum. Integers stay exact while the sum is an integer in
// [-2^63, 2^64 - 1] (JSON integers Boost.JSON holds as int64 or uint64); any other sum is
// a double. False, and *sum untouched, when the double sum would not be finite.
bool AddNumbers(const json::value& a, const json::value& b, json::value* sum) {
  if (!a.is_double() && !b.is_double()) {
    auto wide = [](const json::value& v) {
      return v.is_int64() ? static_cast<WideInt>(v.get_int64())
                          : static_cast<WideInt>(v.get_uint64());
    };
    WideInt r = wide(a) + wide(b);
    if (r >= INT64_MIN && r <= INT64_MAX) {
      *sum = static_cast<int64_t>(r);
      return true;
    }
    if (r > 0 && r <= static_cast<WideInt>(UINT64_MAX)) {
      *sum = static_cast<uint64_t>(r);
      return true;
    }
  }
  double d = ToDouble(a) + ToDouble(b);
  if (!std::isfinite(d)) return false;
  *sum = ReadBackNumber(d);
  return true;
}

// Keeps an array within kMaxArrayItems, dropping from the front or from the back.
void Cap(json::array* a, bool drop_front) {
  if (a->size() <= kMaxArrayItems) return;
  if (drop_front) {
    a->erase(a->begin(), a->begin() + static_cast<std::ptrdiff_t>(a->size() - kMaxArrayItems));
  } else {
    a->resize(kMaxArrayItems);
  }
}

void Apply(const PropertyOp& op, json::object* props) {
  // The value as its text reads back (2.0 as 2): the form the profile keeps its numbers in,
  // and so the one to compare with them. Copied only when it differs (rare).
  json::value read_back;
  const json::value* value = &op.value;
  if (HasNumberReadBackDifferently(op.value)) {
    read_back = op.value;  // assignment: copied into read_back's own storage
    ToReadBackNumbers(&read_back);
    value = &read_back;
  }
  bool creates = op.kind != PropertyOpKind::kClearAll && op.kind != PropertyOpKind::kUnset &&
                 op.kind != PropertyOpKind::kRemove;
  if (creates && props->size() >= kMaxProperties && !props->contains(op.key)) return;
  switch (op.kind) {
    case PropertyOpKind::kClearAll: props->clear(); return;
    case PropertyOpKind::kUnset: props->erase(op.key); return;
    case PropertyOpKind::kSet:
    case PropertyOpKind::kSetOnce: {
      if (op.kind == PropertyOpKind::kSetOnce && props->contains(op.key)) return;
      json::value& slot = (*props)[op.key];
      slot = *value;
      if (slot.is_array()) Cap(&slot.get_array(), /*drop_front=*/false);
      return;
    }
    case PropertyOpKind::kAdd: {
      json::value delta;
      if (!ReadNumber(*value, &delta)) return;
      auto it = props->find(op.key);
      if (it == props->end()) {
        (*props)[op.key] = delta;
        return;
      }
      json::value current;
      json::value sum;
      if (!ReadNumber(it->value(), &current) || !AddNumbers(current, delta, &sum)) return;
      it->value() = std::move(sum);
      return;
    }
    case PropertyOpKind::kAppend:
    case PropertyOpKind::kPostInsert: {
      bool unique = op.kind == PropertyOpKind::kPostInsert;
      auto it = props->find(op.key);
      json::array result = it == props->end() ? json::array() : AsArray(it->value());
      for (const auto& v : AsValues(*value)) {
        if (!unique || !Contains(result, v)) result.push_back(v);
      }
      Cap(&result, /*drop_front=*/true);
      (*props)[op.key] = std::move(result);
      return;
    }
    case PropertyOpKind::kPrepend:
    case PropertyOpKind::kPreInsert: {
      bool unique = op.kind == PropertyOpKind::kPreInsert;
      auto it = props->find(op.key);
      json::array existing = it == props->end() ? json::array() : AsArray(it->value());
      json::array front;
      for (const auto& v : AsValues(*value)) {
        if (unique && (Contains(existing, v) || Contains(front, v))) continue;
        front.push_back(v);
      }
      for (auto& v : existing) front.push_back(std::move(v));
      Cap(&front, /*drop_front=*/false);
      (*props)[op.key] = std::move(front);
      return;
    }
    case PropertyOpKind::kRemove: {
      auto it = props->find(op.key);
      if (it == props->end()) return;
      std::span<const json::value> values = AsValues(*value);
      // A scalar that matches nothing stays as it is.
      if (!it->value().is_array() && !Contains(values, it->value())) return;
      json::array kept;
      for (auto& v : AsArray(it->value())) {
        if (!Contains(values, v)) kept.push_back(std::move(v));
      }
      it->value() = std::move(kept);
      return;
    }
  }
}

}  // namespace

bool ReadNumber(const json::value& v, json::value* out) {
  if (v.is_double() && !std::isfinite(v.get_double())) return false;
  if (v.is_int64() || v.is_uint64()) {
    *out = v;
    return true;
  }
  if (v.is_double()) {
    *out = ReadBackNumber(v.get_double());
    return true;
  }
  if (!v.is_string()) return false;
  const json::string& s = v.get_string();
  const char* begin = s.data();
  const char* end = s.data() + s.size();
  int64_t i = 0;
  auto ri = std::from_chars(begin, end, i);
  if (ri.ec == std::errc() && ri.ptr == end) {
    *out = i;
    return true;
  }
  uint64_t u = 0;
  auto ru = std::from_chars(begin, end, u);
  if (ru.ec == std::errc() && ru.ptr == end) {
    *out = u;
    return true;
  }
  double d = 0;
  auto rd = std::from_chars(begin, end, d);
  if (rd.ec == std::errc() && rd.ptr == end && std::isfinite(d)) {
    *out = ReadBackNumber(d);
    return true;
  }
  return false;
}

size_t GrowthBound(const std::vector<PropertyOp>& ops) {
  // Per op: the key, the value, and room for quotes, colon, comma and the brackets a
  // scalar gains when it becomes an array. $add writes at most a number's longest text.
  constexpr size_t kOverhead = 8;
  constexpr size_t kLongestNumber = 24;  // "-1.7976931348623157e+308"
  size_t bound = 0;
  for (const auto& op : ops) {
    if (op.kind == PropertyOpKind::kClearAll || op.kind == PropertyOpKind::kUnset) continue;
    if (op.kind == PropertyOpKind::kRemove) {
      bound += 2;  // a matching scalar becomes [], the only way removing grows
      continue;
    }
    bound += StringTextSizeBound(op.key) + kOverhead +
             (op.kind == PropertyOpKind::kAdd ? kLongestNumber : TextSizeBound(op.value));
  }
  return bound;
}

void ApplyPropertyOps(const std::vector<PropertyOp>& ops, json::object* properties) {
  for (const auto& op : ops) Apply(op, properties);
}

void SortPropertyOps(std::vector<PropertyOp>* ops) {
  std::stable_sort(ops->begin(), ops->end(), [](const PropertyOp& a, const PropertyOp& b) {
    return static_cast<int>(a.kind) < static_cast<int>(b.kind);
  });
}

}  // namespace profiled::ingest
