// Property test of ApplyPropertyOps: thousands of random sequences of events, each a random
// mix of the ten operations on a few keys, applied by the writer's step and by a small
// reference model written here from docs/API.md's rules; the two profiles must read the
// same. The model states each rule the plainest way: a value is what its JSON text reads
// back as (ParseJson of ValueText), two values are equal when their texts are (object keys
// sorted), and a sum is exact on integers and otherwise the double sum read back.
//
// Not covered here: the bounds (1,000 array items, 1,000 properties), which
// tests/e2e/properties.test.js exercises through the server.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/json_writer.h"
#include "core/value_text.h"
#include "ingest/property_ops.h"

namespace profiled::ingest {
namespace {

namespace json = boost::json;

// ---- the reference model ----

// The text of v with object keys sorted: equal texts, equal values.
std::string Canonical(const json::value& v) {
  if (v.is_object()) {
    std::map<std::string, std::string> sorted;
    for (const auto& kv : v.get_object()) sorted[std::string(kv.key())] = Canonical(kv.value());
    std::string out = "{";
    for (const auto& [k, text] : sorted) {
      if (out.size() > 1) out += ",";
      AppendJsonString(&out, k);
      out += ":" + text;
    }
    return out + "}";
  }
  if (v.is_array()) {
    std::string out = "[";
    for (const auto& e : v.get_array()) {
      if (out.size() > 1) out += ",";
      out += Canonical(e);
    }
    return out + "]";
  }
  return ValueText(v);
}

// What v's JSON text reads back as.
json::value ReadBack(const json::value& v) {
  boost::system::error_code ec;
  json::value out = ParseJson(ValueText(v), kMaxJsonDepth, &ec);
  EXPECT_FALSE(ec);
  return out;
}

bool Same(const json::value& a, const json::value& b) { return Canonical(a) == Canonical(b); }

// A number $add reads, as read back; false for anything else. A string must be exactly a
// decimal number: optional '-', digits with an optional point, an optional exponent.
bool ModelNumber(const json::value& v, json::value* out) {
  if (v.is_number()) {
    *out = ReadBack(v);
    return true;
  }
  if (!v.is_string()) return false;
  std::string s(v.get_string());
  size_t i = s.starts_with("-") ? 1 : 0;
  size_t digits = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t exp_digits = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  if (i != s.size()) return false;
  boost::system::error_code ec;
  // Leading zeros are not JSON; strip them so the text parses ("007" is 7).
  std::string sign = s.starts_with("-") ? "-" : "";
  std::string body = s.substr(sign.size());
  while (body.size() > 1 && body[0] == '0' && std::isdigit(static_cast<unsigned char>(body[1]))) {
    body.erase(0, 1);
  }
  if (body.starts_with(".")) body = "0" + body;
  if (body.ends_with(".")) body += "0";
  if (size_t dot = body.find(".e"); dot != std::string::npos) body.insert(dot + 1, "0");
  if (size_t dot = body.find(".E"); dot != std::string::npos) body.insert(dot + 1, "0");
  json::value n = ParseJson(sign + body, 2, &ec);
  if (ec || !n.is_number() || (n.is_double() && !std::isfinite(n.get_double()))) return false;
  *out = ReadBack(n);
  return true;
}

// a + b: exact while both are integers and the sum is one from -2^63 to 2^64 - 1; else the
// double sum, read back. False when the double sum is not finite.
bool ModelAdd(const json::value& a, const json::value& b, json::value* sum) {
  // Read back, an integer in the exact range is an int64 or a uint64, anything else a double.
  if (!a.is_double() && !b.is_double()) {
    __extension__ using Wide = __int128;
    auto wide = [](const json::value& v) {
      return v.is_int64() ? static_cast<Wide>(v.get_int64()) : static_cast<Wide>(v.get_uint64());
    };
    Wide r = wide(a) + wide(b);
    if (r >= INT64_MIN && r <= INT64_MAX) {
      *sum = static_cast<int64_t>(r);
      return true;
    }
    if (r > 0 && r <= static_cast<Wide>(UINT64_MAX)) {
      *sum = static_cast<uint64_t>(r);
      return true;
    }
  }
  double d = a.to_number<double>() + b.to_number<double>();
  if (!std::isfinite(d)) return false;
  *sum = ReadBack(json::value(d));
  return true;
}

std::vector<json::value> ValuesOf(const json::value& v) {
  if (v.is_array()) return {v.get_array().begin(), v.get_array().end()};
  return {v};
}

bool In(const std::vector<json::value>& list, const json::value& v) {
  return std::any_of(list.begin(), list.end(), [&](const json::value& x) { return Same(x, v); });
}

using Model = std::map<std::string, json::value>;

// docs/API.md: within one event, $clearAll, $unset, $set, $setOnce, $add, $append, $prepend,
// $preInsert, $postInsert, $remove; within one operation, in the order given.
int DocumentedRank(PropertyOpKind kind) {
  static const PropertyOpKind order[] = {PropertyOpKind::kClearAll,   PropertyOpKind::kUnset,
                                         PropertyOpKind::kSet,        PropertyOpKind::kSetOnce,
                                         PropertyOpKind::kAdd,        PropertyOpKind::kAppend,
                                         PropertyOpKind::kPrepend,    PropertyOpKind::kPreInsert,
                                         PropertyOpKind::kPostInsert, PropertyOpKind::kRemove};
  return static_cast<int>(std::find(std::begin(order), std::end(order), kind) - order);
}

void ModelApply(PropertyOpKind kind, const std::string& key, const json::value& raw, Model* m) {
  json::value value = ReadBack(raw);
  bool has = m->count(key) > 0;
  std::vector<json::value> old = has ? ValuesOf((*m)[key]) : std::vector<json::value>{};
  auto store = [&](const std::vector<json::value>& list) {
    (*m)[key] = json::array(list.begin(), list.end());
  };
  switch (kind) {
    case PropertyOpKind::kClearAll: m->clear(); return;
    case PropertyOpKind::kUnset: m->erase(key); return;
    case PropertyOpKind::kSetOnce:
      if (!has) (*m)[key] = value;
      return;
    case PropertyOpKind::kSet: (*m)[key] = value; return;
    case PropertyOpKind::kAdd: {
      json::value delta;
      json::value current;
      json::value sum;
      ASSERT_TRUE(ModelNumber(value, &delta));
      if (!has) {
        (*m)[key] = delta;
      } else if (ModelNumber((*m)[key], &current) && ModelAdd(current, delta, &sum)) {
        (*m)[key] = sum;
      }
      return;
    }
    case PropertyOpKind::kAppend:
    case PropertyOpKind::kPostInsert:
      for (const auto& v : ValuesOf(value)) {
        if (kind == PropertyOpKind::kAppend || !In(old, v)) old.push_back(v);
      }
      store(old);
      return;
    case PropertyOpKind::kPrepend:
    case PropertyOpKind::kPreInsert: {
      std::vector<json::value> front;
      for (const auto& v : ValuesOf(value)) {
        if (kind == PropertyOpKind::kPreInsert && (In(old, v) || In(front, v))) continue;
        front.push_back(v);
      }
      front.insert(front.end(), old.begin(), old.end());
      store(front);
      return;
    }
    case PropertyOpKind::kRemove: {
      if (!has) return;
      std::vector<json::value> values = ValuesOf(value);
      if (!(*m)[key].is_array() && !In(values, (*m)[key])) return;
      std::vector<json::value> kept;
      for (const auto& v : old) {
        if (!In(values, v)) kept.push_back(v);
      }
      store(kept);
      return;
    }
  }
}

std::string ModelText(const Model& m) {
  json::object o;
  for (const auto& [k, v] : m) o[k] = v;
  return Canonical(o);
}

// ---- the generator ----

class Generator {
 public:
  explicit Generator(uint64_t seed) : random_(seed) {}

  int Int(int n) { return std::uniform_int_distribution<int>(0, n - 1)(random_); }
  template <typename T>
  T Pick(const std::vector<T>& list) {
    return list[static_cast<size_t>(Int(static_cast<int>(list.size())))];
  }

  json::value Number() {
    static const std::vector<std::string> texts = {"0",
                                                   "-0",
                                                   "1",
                                                   "-1",
                                                   "2",
                                                   "7",
                                                   "2.0",
                                                   "0.5",
                                                   "-0.25",
                                                   "1e2",
                                                   "1e16",
                                                   "9.2e18",
                                                   "4.6e18",
                                                   "1e21",
                                                   "1.5e-7",
                                                   "0.1",
                                                   "9007199254740993",
                                                   "9223372036854775807",
                                                   "9223372036854775808",
                                                   "18446744073709551615",
                                                   "18446744073709551616",
                                                   "-9223372036854775809",
                                                   "1.7976931348623157e308",
                                                   "-1.7976931348623157e308",
                                                   "5e-324",
                                                   "-0.0",
                                                   "3.0e0"};
    boost::system::error_code ec;
    return ParseJson(Pick(texts), 2, &ec);
  }

  json::value NumericString() {
    static const std::vector<std::string> texts = {
        "12", "-0.5", "1e3", "007", ".5", "5.", "2.0", "18446744073709551615", "-1E+2"};
    return json::value(Pick(texts));
  }

  json::value Scalar() {
    switch (Int(7)) {
      case 0:
      case 1: return Number();
      case 2: return NumericString();
      case 3: return json::value(Pick(std::vector<std::string>{"", "x", "ключ", " 5", "nan"}));
      case 4: return json::value(Int(2) == 0);
      case 5: return nullptr;
      default: return atoms_[static_cast<size_t>(Int(static_cast<int>(atoms_.size())))];
    }
  }

  json::value Value(int depth = 0) {
    int r = Int(10);
    if (depth >= 2 || r < 6) return Scalar();
    if (r < 8) {
      json::array a;
      for (int i = Int(4); i > 0; --i) a.push_back(Value(depth + 1));
      return a;
    }
    json::object o;
    for (int i = Int(3); i > 0; --i) o[Pick(keys_)] = Value(depth + 1);
    return o;
  }

  std::vector<PropertyOp> Event() {
    std::vector<PropertyOp> ops;
    for (int i = 1 + Int(4); i > 0; --i) {
      auto kind = static_cast<PropertyOpKind>(Int(10));
      if (kind == PropertyOpKind::kClearAll && Int(3) != 0) kind = PropertyOpKind::kSet;
      std::string key = kind == PropertyOpKind::kClearAll ? "" : Pick(keys_);
      json::value value;
      if (kind == PropertyOpKind::kAdd) {
        value = Int(3) == 0 ? NumericString() : Number();
      } else if (kind != PropertyOpKind::kClearAll) {
        value = Value();
      }
      ops.push_back({kind, key, value});
    }
    return ops;
  }

  void NewCase() {
    atoms_.clear();
    for (int i = 0; i < 3; ++i) atoms_.push_back(Int(2) == 0 ? Number() : NumericString());
  }

 private:
  std::mt19937_64 random_;
  std::vector<std::string> keys_ = {"a", "b", "c"};
  std::vector<json::value> atoms_ = {json::value(1)};
};

std::string Describe(const std::vector<std::vector<PropertyOp>>& events) {
  static const char* names[] = {"$clearAll", "$unset",   "$set",       "$setOnce",    "$add",
                                "$append",   "$prepend", "$preInsert", "$postInsert", "$remove"};
  std::string out;
  for (size_t i = 0; i < events.size(); ++i) {
    out += "  event " + std::to_string(i) + ":";
    for (const auto& op : events[i]) {
      out += std::string(" ") + names[static_cast<int>(op.kind)] + "(" + op.key + ", " +
             ValueText(op.value) + ")";
    }
    out += "\n";
  }
  return out;
}

TEST(PropertyOpsProperty, RandomSequencesReadAsTheReferenceModelSays) {
  constexpr uint64_t kSeed = 20260409;
  constexpr int kCases = 10000;
  Generator gen(kSeed);
  for (int c = 0; c < kCases; ++c) {
    gen.NewCase();
    std::vector<std::vector<PropertyOp>> events;
    json::object props;
    Model model;
    for (int e = 1 + gen.Int(6); e > 0; --e) {
      events.push_back(gen.Event());
      std::vector<PropertyOp> ops = events.back();
      SortPropertyOps(&ops);
      ApplyPropertyOps(ops, &props);
      // The model sorts by the documented order itself.
      std::vector<PropertyOp> model_ops = events.back();
      std::stable_sort(model_ops.begin(), model_ops.end(),
                       [](const PropertyOp& a, const PropertyOp& b) {
                         return DocumentedRank(a.kind) < DocumentedRank(b.kind);
                       });
      for (const auto& op : model_ops) ModelApply(op.kind, op.key, op.value, &model);
      // The writer keeps the profile as its text reads back, so keeping it in memory and
      // reading it again from its stored text are the same.
      json::object stored;
      ASSERT_TRUE(ParseStoredObject(ObjectText(props), &stored).ok());
      ASSERT_EQ(json::value(stored), json::value(props))
          << "case " << c << " of seed " << kSeed << ":\n"
          << Describe(events) << ObjectText(props);
      ASSERT_EQ(Canonical(props), ModelText(model)) << "case " << c << " of seed " << kSeed << ":\n"
                                                    << Describe(events);
    }
  }
}

}  // namespace
}  // namespace profiled::ingest
