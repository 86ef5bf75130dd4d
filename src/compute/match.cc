#include "compute/match.h"

#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <system_error>

#include "core/json_writer.h"
#include "core/value_text.h"

namespace profiled::compute {
namespace json = boost::json;

namespace {

// The text a scalar is compared as: a string's own characters, true/false, a number as JSON
// writes it. `buffer` holds the characters when they are not in the value itself.
std::string_view ScalarText(const json::value& v, std::string* buffer) {
  switch (v.kind()) {
    case json::kind::string: return v.get_string();
    case json::kind::bool_: return v.get_bool() ? "true" : "false";
    case json::kind::int64:
      buffer->clear();
      AppendJsonInt(buffer, v.get_int64());
      return *buffer;
    case json::kind::uint64:
      buffer->clear();
      AppendJsonUint(buffer, v.get_uint64());
      return *buffer;
    case json::kind::double_:
      buffer->clear();
      AppendJsonDouble(buffer, v.get_double());
      return *buffer;
    default: return {};
  }
}

bool ScalarIs(const Filter& filter, const json::value& v) {
  std::optional<double> number = AsNumber(v);
  std::string buffer;
  std::string_view text = ScalarText(v, &buffer);
  for (const std::string& want : filter.values) {
    if (number.has_value()) {
      if (std::optional<double> want_number = AsNumber(want); want_number.has_value()) {
        if (*number == *want_number) return true;
        continue;
      }
    }
    if (text == want) return true;
  }
  return false;
}

bool ScalarContains(const Filter& filter, const json::value& v) {
  std::string buffer;
  std::string_view text = ScalarText(v, &buffer);
  for (const std::string& want : filter.values) {
    if (text.find(want) != std::string_view::npos) return true;
  }
  return false;
}

bool ScalarOrdered(const Filter& filter, const json::value& v) {
  if (filter.values.empty()) return false;
  std::optional<double> number = AsNumber(v);
  std::optional<double> bound = AsNumber(filter.values.front());
  if (!number.has_value() || !bound.has_value()) return false;
  switch (filter.op) {
    case FilterOp::kGreater: return *number > *bound;
    case FilterOp::kGreaterOrEqual: return *number >= *bound;
    case FilterOp::kLess: return *number < *bound;
    case FilterOp::kLessOrEqual: return *number <= *bound;
    default: return false;
  }
}

// `op` is one of the positive ops (kIs, kContains, the ordered ones): whether the value, or
// any element of it when it is an array, passes.
bool Positive(const Filter& filter, FilterOp op, const json::value& v) {
  if (v.is_null() || v.is_object()) return false;
  if (v.is_array()) {
    for (const json::value& element : v.get_array()) {
      if (Positive(filter, op, element)) return true;
    }
    return false;
  }
  switch (op) {
    case FilterOp::kIs: return ScalarIs(filter, v);
    case FilterOp::kContains: return ScalarContains(filter, v);
    default: return ScalarOrdered(filter, v);
  }
}

}  // namespace

bool Matches(const Filter& filter, const json::value* value) {
  const bool missing = value == nullptr || value->is_null();
  switch (filter.op) {
    case FilterOp::kSet: return !missing;
    case FilterOp::kNotSet: return missing;
    case FilterOp::kIsNot:
      if (missing) return true;
      if (value->is_object()) return false;
      return !Positive(filter, FilterOp::kIs, *value);
    case FilterOp::kDoesNotContain:
      if (missing) return true;
      if (value->is_object()) return false;
      return !Positive(filter, FilterOp::kContains, *value);
    case FilterOp::kIs:
    case FilterOp::kContains:
    case FilterOp::kGreater:
    case FilterOp::kGreaterOrEqual:
    case FilterOp::kLess:
    case FilterOp::kLessOrEqual:
      if (missing) return false;
      return Positive(filter, filter.op, *value);
  }
  return false;
}

std::optional<double> AsNumber(std::string_view text) {
  if (text.empty()) return std::nullopt;
  // Up to 15 digits are an integer every double holds exactly: read without the general
  // parser (which gives the same double).
  const bool negative = text.front() == '-';
  const std::string_view digits = negative ? text.substr(1) : text;
  int64_t n = 0;
  if (digits.size() <= 15 && ParseDecimalDigits(digits, &n)) {
    return negative ? -static_cast<double>(n) : static_cast<double>(n);
  }
  double v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v, std::chars_format::general);
  if (ec != std::errc() || ptr != end || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<double> AsNumber(const json::value& value) {
  switch (value.kind()) {
    case json::kind::int64: return static_cast<double>(value.get_int64());
    case json::kind::uint64: return static_cast<double>(value.get_uint64());
    case json::kind::double_:
      if (!std::isfinite(value.get_double())) return std::nullopt;
      return value.get_double();
    case json::kind::string: return AsNumber(std::string_view(value.get_string()));
    default: return std::nullopt;
  }
}

}  // namespace profiled::compute
