#include "api/definition_wire.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "compute/aggregate.h"
#include "compute/match.h"
#include "core/json_writer.h"
#include "core/value_text.h"
#include "recs/model.h"
#include "recs/serving.h"

namespace profiled::api {
namespace json = boost::json;
using compute::AggregateSpec;
using compute::Cohort;
using compute::CohortClause;
using compute::CohortCondition;
using compute::Comparison;
using compute::Computation;
using compute::Filter;
using compute::FilterOp;
using compute::Metric;
using compute::Recommendation;
using compute::TimeScope;

namespace {

constexpr int64_t kMaxUnixSeconds = 253'402'300'799;  // 9999-12-31T23:59:59Z
constexpr size_t kMaxQuotedLength = 64;               // of user text echoed in a message

// ---- Messages -------------------------------------------------------------------------------

// User text as it appears in an error message: JSON-quoted, cut to a readable length.
std::string Quoted(std::string_view s) {
  std::string out;
  std::string_view prefix = Utf8Prefix(s, kMaxQuotedLength);
  AppendJsonString(&out, prefix);
  if (prefix.size() < s.size()) out.append("...");
  return out;
}

Status Invalid(std::string_view path, std::string_view problem) {
  std::string message(path);
  message.append(": ");
  message.append(problem);
  return Status::InvalidArgument(std::move(message));
}

std::string Field(std::string_view path, std::string_view key) {
  std::string out(path);
  if (!out.empty()) out.push_back('.');
  out.append(Utf8Prefix(key, kMaxQuotedLength));
  return out;
}

std::string Index(std::string_view path, size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

// ---- Values ---------------------------------------------------------------------------------

bool IsNullOrAbsent(const json::value* v) { return v == nullptr || v->is_null(); }

// Characters (code points) of UTF-8 text; Boost.JSON has checked that it is UTF-8.
size_t Utf8Length(std::string_view s) {
  return static_cast<size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// An integer, written as one (7) or as a number with no fraction (7.0).
std::optional<int64_t> AsInteger(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) {
    if (v.get_uint64() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return std::nullopt;
    }
    return static_cast<int64_t>(v.get_uint64());
  }
  if (v.is_double()) {
    const double d = v.get_double();
    // 2^63 is exactly representable; below it every integral double fits an int64_t.
    if (std::isfinite(d) && std::floor(d) == d && d >= -9.2e18 && d <= 9.2e18) {
      return static_cast<int64_t>(d);
    }
  }
  return std::nullopt;
}

std::optional<double> AsFiniteNumber(const json::value& v) {
  if (!v.is_number()) return std::nullopt;
  return compute::AsNumber(v);
}

// Refuses any key of `o` outside `known`, naming it.
Status CheckKeys(const json::object& o, std::string_view path,
                 std::initializer_list<std::string_view> known) {
  for (const json::key_value_pair& kv : o) {
    if (std::find(known.begin(), known.end(), std::string_view(kv.key())) == known.end()) {
      return Invalid(Field(path, kv.key()), "unsupported field");
    }
  }
  return Status::Ok();
}

// o[key]: a non-empty string of at most max_length characters.
Status RequiredString(const json::object& o, std::string_view path, std::string_view key,
                      size_t max_length, std::string* out) {
  const json::value* v = o.if_contains(key);
  if (IsNullOrAbsent(v)) return Invalid(Field(path, key), "required");
  if (!v->is_string()) return Invalid(Field(path, key), "must be a string");
  std::string_view s = v->get_string();
  if (s.empty()) return Invalid(Field(path, key), "must not be empty");
  if (Utf8Length(s) > max_length) {
    return Invalid(Field(path, key),
                   "must be at most " + std::to_string(max_length) + " characters long");
  }
  out->assign(s);
  return Status::Ok();
}

// o[key]: absent, null, or a string of at most max_length characters (possibly empty). *out
// is left alone when absent.
Status OptionalString(const json::object& o, std::string_view key, size_t max_length,
                      std::string* out) {
  const json::value* v = o.if_contains(key);
  if (IsNullOrAbsent(v)) return Status::Ok();
  if (!v->is_string()) return Invalid(key, "must be a string");
  if (Utf8Length(v->get_string()) > max_length) {
    return Invalid(key, "must be at most " + std::to_string(max_length) + " characters long");
  }
  out->assign(v->get_string());
  return Status::Ok();
}

// A body's "id", when given, must be the string id of the path.
Status CheckBodyStringId(const json::object& root, std::string_view path_id) {
  const json::value* body_id = root.if_contains("id");
  if (IsNullOrAbsent(body_id)) return Status::Ok();
  if (!body_id->is_string() || body_id->get_string() != path_id) {
    return Invalid("id", "must equal the id in the path, " + Quoted(path_id));
  }
  return Status::Ok();
}

// o[key]: absent, null, or an integer in [min, max]. *out is left alone when absent.
Status OptionalInteger(const json::object& o, std::string_view path, std::string_view key,
                       int64_t min, int64_t max, std::optional<int64_t>* out) {
  const json::value* v = o.if_contains(key);
  if (IsNullOrAbsent(v)) return Status::Ok();
  std::optional<int64_t> i = AsInteger(*v);
  if (!i.has_value() || *i < min || *i > max) {
    return Invalid(Field(path, key),
                   "must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
  }
  *out = i;
  return Status::Ok();
}

Status MustBeAbsent(const json::object& o, std::string_view path, std::string_view key,
                    std::string_view why) {
  if (!IsNullOrAbsent(o.if_contains(key))) return Invalid(Field(path, key), why);
  return Status::Ok();
}

Status ParseBody(std::string_view body, json::object* out) {
  boost::system::error_code ec;
  bool non_finite = false;
  json::value root = ParseJson(body, kMaxJsonDepth, &ec, &non_finite);
  if (ec) return Invalid("body", "not valid JSON: " + ec.message());
  if (!root.is_object()) return Invalid("body", "must be a JSON object");
  // Only a number beyond the range of a double reads as non-finite; refuse it anywhere,
  // ignored fields included, rather than carry an infinity.
  if (non_finite && HasNonFiniteNumber(root)) {
    return Invalid("body", "holds a number too large for a double");
  }
  *out = std::move(root.get_object());
  return Status::Ok();
}

// ---- Ids ------------------------------------------------------------------------------------

// A positive decimal integer up to 2^63-1, written without sign or leading zeros, so that
// each id has one spelling.
std::optional<uint64_t> ComputationId(std::string_view text) {
  if (text.empty() || text.front() == '0') return std::nullopt;
  uint64_t id = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, id);
  if (ec != std::errc() || ptr != end ||
      id > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return std::nullopt;
  }
  return id;
}

bool IsCohortId(std::string_view id) {
  return !id.empty() && id.size() <= kMaxCohortIdLength &&
         std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
         });
}

// The id in the path of a cohort or a recommendation (IsCohortId).
Status CheckPathStringId(std::string_view path_id) {
  if (IsCohortId(path_id)) return Status::Ok();
  return Invalid("id", "the id in the path must be 1 to " + std::to_string(kMaxCohortIdLength) +
                           " characters of A-Z, a-z, 0-9, '_', '.' and '-', not " +
                           Quoted(path_id));
}

// ---- Filters --------------------------------------------------------------------------------

std::optional<FilterOp> OpNamed(std::string_view name) {
  // Amplitude's own exports spell the multi-word operators with spaces.
  static constexpr std::pair<std::string_view, FilterOp> kOps[] = {
      {"is", FilterOp::kIs},
      {"is_not", FilterOp::kIsNot},
      {"is not", FilterOp::kIsNot},
      {"contains", FilterOp::kContains},
      {"does_not_contain", FilterOp::kDoesNotContain},
      {"does not contain", FilterOp::kDoesNotContain},
      {"greater", FilterOp::kGreater},
      {"greater_or_equal", FilterOp::kGreaterOrEqual},
      {"greater or equal", FilterOp::kGreaterOrEqual},
      {"less", FilterOp::kLess},
      {"less_or_equal", FilterOp::kLessOrEqual},
      {"less or equal", FilterOp::kLessOrEqual},
      {"set", FilterOp::kSet},
      {"not_set", FilterOp::kNotSet},
  };
  for (const auto& [n, op] : kOps) {
    if (n == name) return op;
  }
  return std::nullopt;
}

// The `op` and `values` of a filter-like object (where filters, user and computed property
// conditions); the caller has read `prop`.
Status ParseOpAndValues(const json::object& o, std::string_view path, Filter* f) {
  const std::string op_path = Field(path, "op");
  const json::value* op = o.if_contains("op");
  if (IsNullOrAbsent(op)) return Invalid(op_path, "required");
  if (!op->is_string()) return Invalid(op_path, "must be a string");
  std::optional<FilterOp> parsed = OpNamed(op->get_string());
  if (!parsed.has_value()) {
    return Invalid(op_path, "unknown operator " + Quoted(op->get_string()) +
                                "; one of is, is_not, contains, does_not_contain, greater, "
                                "greater_or_equal, less, less_or_equal, set, not_set");
  }
  f->op = *parsed;

  const std::string values_path = Field(path, "values");
  f->values.clear();
  if (const json::value* values = o.if_contains("values"); !IsNullOrAbsent(values)) {
    if (!values->is_array()) return Invalid(values_path, "must be an array");
    const json::array& array = values->get_array();
    if (array.size() > kMaxFilterValues) {
      return Invalid(values_path, "at most " + std::to_string(kMaxFilterValues) + " values");
    }
    for (size_t i = 0; i < array.size(); ++i) {
      const json::value& v = array[i];
      std::string text;
      if (v.is_string()) {
        if (Utf8Length(v.get_string()) > kMaxDefinitionStringLength) {
          return Invalid(
              Index(values_path, i),
              "must be at most " + std::to_string(kMaxDefinitionStringLength) + " characters long");
        }
        text.assign(v.get_string());
      } else if (v.is_int64()) {
        AppendJsonInt(&text, v.get_int64());
      } else if (v.is_uint64()) {
        AppendJsonUint(&text, v.get_uint64());
      } else if (v.is_double()) {
        AppendJsonDouble(&text, v.get_double());  // finite: ParseBody refused the rest
      } else {
        return Invalid(Index(values_path, i), "must be a string or a number");
      }
      f->values.push_back(std::move(text));
    }
  }

  const std::string op_name(op->get_string());
  switch (f->op) {
    case FilterOp::kIs:
    case FilterOp::kIsNot:
    case FilterOp::kContains:
    case FilterOp::kDoesNotContain:
      if (f->values.empty()) {
        return Invalid(values_path, "operator " + Quoted(op_name) + " needs at least one value");
      }
      break;
    case FilterOp::kGreater:
    case FilterOp::kGreaterOrEqual:
    case FilterOp::kLess:
    case FilterOp::kLessOrEqual:
      if (f->values.size() != 1 || !compute::AsNumber(f->values.front()).has_value()) {
        return Invalid(values_path,
                       "operator " + Quoted(op_name) + " needs exactly one numeric value");
      }
      break;
    case FilterOp::kSet:
    case FilterOp::kNotSet:
      if (!f->values.empty()) {
        return Invalid(values_path, "operator " + Quoted(op_name) + " takes no values");
      }
      break;
  }
  return Status::Ok();
}

Status ParseFilter(const json::value& v, std::string_view path, Filter* f) {
  if (!v.is_object()) return Invalid(path, "must be an object with prop, op and values");
  const json::object& o = v.get_object();
  PROFILED_RETURN_IF_ERROR(CheckKeys(o, path, {"prop", "op", "values"}));
  PROFILED_RETURN_IF_ERROR(RequiredString(o, path, "prop", kMaxDefinitionStringLength, &f->prop));
  if (f->prop == "$") return Invalid(Field(path, "prop"), "\"$\" must be followed by a field name");
  return ParseOpAndValues(o, path, f);
}

// o[key]: absent, null or an array of at most kMaxFilters filters.
Status ParseFilters(const json::object& o, std::string_view path, std::string_view key,
                    std::vector<Filter>* out) {
  out->clear();
  const json::value* v = o.if_contains(key);
  if (IsNullOrAbsent(v)) return Status::Ok();
  const std::string filters_path = Field(path, key);
  if (!v->is_array()) return Invalid(filters_path, "must be an array of filters");
  const json::array& array = v->get_array();
  if (array.size() > kMaxFilters) {
    return Invalid(filters_path, "at most " + std::to_string(kMaxFilters) + " filters");
  }
  out->resize(array.size());
  for (size_t i = 0; i < array.size(); ++i) {
    PROFILED_RETURN_IF_ERROR(ParseFilter(array[i], Index(filters_path, i), &(*out)[i]));
  }
  return Status::Ok();
}

// ---- Computations ---------------------------------------------------------------------------

std::optional<Metric> ComputationType(std::string_view name) {
  static constexpr std::pair<std::string_view, Metric> kTypes[] = {
      {"count", Metric::kCount}, {"sum", Metric::kSum},
      {"min", Metric::kMin},     {"max", Metric::kMax},
      {"avg", Metric::kAvg},     {"first", Metric::kFirst},
      {"last", Metric::kLast},   {"distinct_count", Metric::kDistinctCount},
  };
  for (const auto& [n, metric] : kTypes) {
    if (n == name) return metric;
  }
  return std::nullopt;
}

// A property read by a metric: an event property, or `$name` for a top-level field.
Status ParseMetricProperty(const json::object& o, std::string_view path, std::string* out) {
  PROFILED_RETURN_IF_ERROR(RequiredString(o, path, "prop", kMaxDefinitionStringLength, out));
  if (*out == "$") return Invalid(Field(path, "prop"), "\"$\" must be followed by a field name");
  return Status::Ok();
}

}  // namespace

Status ParseComputation(std::string_view body, std::string_view path_id, Computation* out) {
  std::optional<uint64_t> id = ComputationId(path_id);
  if (!id.has_value()) {
    return Invalid("id", "the id in the path must be a positive integer up to " +
                             std::to_string(std::numeric_limits<int64_t>::max()) + ", not " +
                             Quoted(path_id));
  }
  json::object root;
  PROFILED_RETURN_IF_ERROR(ParseBody(body, &root));
  PROFILED_RETURN_IF_ERROR(CheckKeys(
      root, "",
      {"id", "name", "description", "type", "event_type", "property", "where", "window_days"}));
  if (const json::value* body_id = root.if_contains("id"); !IsNullOrAbsent(body_id)) {
    std::optional<int64_t> given = AsInteger(*body_id);
    if (!given.has_value() || static_cast<uint64_t>(*given) != *id) {
      return Invalid("id", "must equal the id in the path, " + std::string(path_id));
    }
  }
  Computation c;
  c.id = *id;
  PROFILED_RETURN_IF_ERROR(RequiredString(root, "", "name", kMaxDefinitionNameLength, &c.name));
  if (const json::value* d = root.if_contains("description"); !IsNullOrAbsent(d)) {
    if (!d->is_string()) return Invalid("description", "must be a string");
  }

  std::string type;
  PROFILED_RETURN_IF_ERROR(RequiredString(root, "", "type", kMaxDefinitionStringLength, &type));
  std::optional<Metric> metric = ComputationType(type);
  if (!metric.has_value()) {
    return Invalid("type", "unknown type " + Quoted(type) +
                               "; one of count, sum, min, max, avg, first, last, distinct_count");
  }
  AggregateSpec& spec = c.spec;
  spec.metric = *metric;
  PROFILED_RETURN_IF_ERROR(
      RequiredString(root, "", "event_type", kMaxDefinitionStringLength, &spec.event_type));
  if (spec.metric == Metric::kCount) {
    PROFILED_RETURN_IF_ERROR(MustBeAbsent(root, "", "property", "must be null for type \"count\""));
  } else {
    PROFILED_RETURN_IF_ERROR(
        RequiredString(root, "", "property", kMaxDefinitionStringLength, &spec.property));
    if (spec.property == "$") return Invalid("property", "\"$\" must be followed by a field name");
  }
  PROFILED_RETURN_IF_ERROR(ParseFilters(root, "", "where", &spec.where));
  std::optional<int64_t> window_days;
  PROFILED_RETURN_IF_ERROR(
      OptionalInteger(root, "", "window_days", 1, compute::kMaxWindowDays, &window_days));
  if (window_days.has_value()) {
    spec.scope.kind = TimeScope::Kind::kRolling;
    spec.scope.days = static_cast<int>(*window_days);
  }
  *out = std::move(c);
  return Status::Ok();
}

namespace {

// ---- Cohorts --------------------------------------------------------------------------------

std::optional<Comparison> ComparisonNamed(std::string_view name) {
  static constexpr std::pair<std::string_view, Comparison> kComparisons[] = {
      {">=", Comparison::kGe}, {">", Comparison::kGt}, {"=", Comparison::kEq},
      {"!=", Comparison::kNe}, {"<", Comparison::kLt}, {"<=", Comparison::kLe},
  };
  for (const auto& [n, c] : kComparisons) {
    if (n == name) return c;
  }
  return std::nullopt;
}

Status ParseTimeScope(const json::object& o, std::string_view path, TimeScope* scope) {
  const std::string type_path = Field(path, "time_type");
  const json::value* type = o.if_contains("time_type");
  if (IsNullOrAbsent(type)) return Invalid(type_path, "required");
  if (!type->is_string()) return Invalid(type_path, "must be a string");
  const std::string_view kind = type->get_string();
  std::optional<int64_t> days;
  std::optional<int64_t> start;
  std::optional<int64_t> end;
  PROFILED_RETURN_IF_ERROR(
      OptionalInteger(o, path, "time_value", 1, compute::kMaxWindowDays, &days));
  PROFILED_RETURN_IF_ERROR(OptionalInteger(o, path, "start", 0, kMaxUnixSeconds, &start));
  PROFILED_RETURN_IF_ERROR(OptionalInteger(o, path, "end", 0, kMaxUnixSeconds, &end));
  if (kind == "rolling") {
    if (!days.has_value()) return Invalid(Field(path, "time_value"), "required");
    PROFILED_RETURN_IF_ERROR(MustBeAbsent(o, path, "start", "not used with time_type rolling"));
    PROFILED_RETURN_IF_ERROR(MustBeAbsent(o, path, "end", "not used with time_type rolling"));
    scope->kind = TimeScope::Kind::kRolling;
    scope->days = static_cast<int>(*days);
    return Status::Ok();
  }
  if (kind == "absolute" || kind == "since") {
    const std::string why = "not used with time_type " + std::string(kind);
    PROFILED_RETURN_IF_ERROR(MustBeAbsent(o, path, "time_value", why));
    if (!start.has_value()) return Invalid(Field(path, "start"), "required");
    scope->kind = TimeScope::Kind::kRange;
    scope->start_ms = *start * 1000;
    if (kind == "since") {
      PROFILED_RETURN_IF_ERROR(MustBeAbsent(o, path, "end", why));
      return Status::Ok();
    }
    if (!end.has_value()) return Invalid(Field(path, "end"), "required");
    if (*start >= *end) return Invalid(Field(path, "end"), "must be after start");
    scope->end_ms = *end * 1000 + 999;  // the whole second `end`
    return Status::Ok();
  }
  return Invalid(type_path,
                 "unknown time_type " + Quoted(kind) + "; one of rolling, absolute, since");
}

// `metric`: null (a count), {"type":"sum","prop":P}, {"type":"distinct","prop":P} or
// {"type":"days"}.
Status ParseEventMetric(const json::object& o, std::string_view path, AggregateSpec* spec) {
  const json::value* v = o.if_contains("metric");
  spec->metric = Metric::kCount;
  if (IsNullOrAbsent(v)) return Status::Ok();
  const std::string metric_path = Field(path, "metric");
  if (!v->is_object()) return Invalid(metric_path, "must be null or an object");
  const json::object& m = v->get_object();
  PROFILED_RETURN_IF_ERROR(CheckKeys(m, metric_path, {"type", "prop"}));
  std::string type;
  PROFILED_RETURN_IF_ERROR(
      RequiredString(m, metric_path, "type", kMaxDefinitionStringLength, &type));
  if (type == "sum" || type == "distinct") {
    spec->metric = type == "sum" ? Metric::kSum : Metric::kDistinctCount;
    return ParseMetricProperty(m, metric_path, &spec->property);
  }
  if (type == "days") {
    spec->metric = Metric::kDistinctDays;
    return MustBeAbsent(m, metric_path, "prop", "not used with metric \"days\"");
  }
  return Invalid(Field(metric_path, "type"),
                 "unsupported metric " + Quoted(type) + "; one of sum, distinct, days (or null)");
}

Status ParseEventCondition(const json::object& o, std::string_view path, CohortCondition* c) {
  PROFILED_RETURN_IF_ERROR(
      CheckKeys(o, path,
                {"type", "type_value", "time_type", "time_value", "start", "end", "operator",
                 "operator_value", "filters", "metric", "offset", "interval", "group_by"}));
  c->kind = CohortCondition::Kind::kEvent;
  AggregateSpec& spec = c->spec;
  PROFILED_RETURN_IF_ERROR(
      RequiredString(o, path, "type_value", kMaxDefinitionStringLength, &spec.event_type));
  PROFILED_RETURN_IF_ERROR(ParseTimeScope(o, path, &spec.scope));

  const std::string operator_path = Field(path, "operator");
  const json::value* op = o.if_contains("operator");
  if (IsNullOrAbsent(op)) return Invalid(operator_path, "required");
  if (!op->is_string()) return Invalid(operator_path, "must be a string");
  std::optional<Comparison> comparison = ComparisonNamed(op->get_string());
  if (!comparison.has_value()) {
    return Invalid(operator_path,
                   "unknown operator " + Quoted(op->get_string()) + "; one of >=, >, =, !=, <, <=");
  }
  c->comparison = *comparison;
  const std::string operand_path = Field(path, "operator_value");
  const json::value* operand = o.if_contains("operator_value");
  if (IsNullOrAbsent(operand)) return Invalid(operand_path, "required");
  std::optional<double> number = AsFiniteNumber(*operand);
  if (!number.has_value() || *number < 0) {
    return Invalid(operand_path, "must be a number, 0 or more");
  }
  c->operand = *number;

  PROFILED_RETURN_IF_ERROR(ParseFilters(o, path, "filters", &spec.where));
  PROFILED_RETURN_IF_ERROR(ParseEventMetric(o, path, &spec));

  // Amplitude's export carries these at their neutral values; any other value would change
  // which events count.
  std::optional<int64_t> offset;
  PROFILED_RETURN_IF_ERROR(OptionalInteger(o, path, "offset", std::numeric_limits<int64_t>::min(),
                                           std::numeric_limits<int64_t>::max(), &offset));
  if (offset.value_or(0) != 0) return Invalid(Field(path, "offset"), "only 0 is supported");
  std::optional<int64_t> interval;
  PROFILED_RETURN_IF_ERROR(OptionalInteger(o, path, "interval", std::numeric_limits<int64_t>::min(),
                                           std::numeric_limits<int64_t>::max(), &interval));
  if (interval.value_or(1) != 1) return Invalid(Field(path, "interval"), "only 1 is supported");
  if (const json::value* g = o.if_contains("group_by"); !IsNullOrAbsent(g)) {
    if (!g->is_array() || !g->get_array().empty()) {
      return Invalid(Field(path, "group_by"), "only an empty group_by is supported");
    }
  }
  return Status::Ok();
}

Status ParseCondition(const json::value& v, std::string_view path, CohortCondition* c) {
  if (!v.is_object()) return Invalid(path, "must be an object");
  const json::object& o = v.get_object();
  std::string type;
  PROFILED_RETURN_IF_ERROR(RequiredString(o, path, "type", kMaxDefinitionStringLength, &type));
  if (type == "event") return ParseEventCondition(o, path, c);
  if (type == "user_property") {
    PROFILED_RETURN_IF_ERROR(CheckKeys(o, path, {"type", "prop", "op", "values"}));
    c->kind = CohortCondition::Kind::kUserProperty;
    PROFILED_RETURN_IF_ERROR(
        RequiredString(o, path, "prop", kMaxDefinitionStringLength, &c->filter.prop));
    // Amplitude's exports name custom user properties "gp:<name>".
    if (c->filter.prop.starts_with("gp:") && c->filter.prop.size() > 3) {
      c->filter.prop.erase(0, 3);
    }
    return ParseOpAndValues(o, path, &c->filter);
  }
  if (type == "group_property") {
    PROFILED_RETURN_IF_ERROR(CheckKeys(o, path, {"type", "group_type", "prop", "op", "values"}));
    c->kind = CohortCondition::Kind::kGroupProperty;
    PROFILED_RETURN_IF_ERROR(
        RequiredString(o, path, "group_type", kMaxDefinitionStringLength, &c->group_type));
    PROFILED_RETURN_IF_ERROR(
        RequiredString(o, path, "prop", kMaxDefinitionStringLength, &c->filter.prop));
    return ParseOpAndValues(o, path, &c->filter);
  }
  if (type == "computed_property") {
    PROFILED_RETURN_IF_ERROR(CheckKeys(o, path, {"type", "prop", "op", "values"}));
    c->kind = CohortCondition::Kind::kComputedProperty;
    const std::string prop_path = Field(path, "prop");
    const json::value* prop = o.if_contains("prop");
    if (IsNullOrAbsent(prop)) return Invalid(prop_path, "required");
    std::optional<uint64_t> id;
    if (prop->is_string()) {
      id = ComputationId(prop->get_string());
    } else if (std::optional<int64_t> i = AsInteger(*prop); i.has_value() && *i > 0) {
      id = static_cast<uint64_t>(*i);
    }
    if (!id.has_value()) return Invalid(prop_path, "must be the id of a computation");
    c->filter.prop = std::to_string(*id);
    return ParseOpAndValues(o, path, &c->filter);
  }
  if (type == "cohort") {
    PROFILED_RETURN_IF_ERROR(CheckKeys(o, path, {"type", "type_value"}));
    c->kind = CohortCondition::Kind::kCohort;
    const std::string value_path = Field(path, "type_value");
    const json::value* id = o.if_contains("type_value");
    if (IsNullOrAbsent(id)) return Invalid(value_path, "required");
    if (!id->is_string() || !IsCohortId(id->get_string())) {
      return Invalid(value_path, "must be the id of a cohort");
    }
    c->cohort_id.assign(id->get_string());
    return Status::Ok();
  }
  return Invalid(Field(path, "type"),
                 "unsupported condition type " + Quoted(type) +
                     "; one of event, user_property, group_property, computed_property, cohort");
}

// o[key]: a non-empty array of at most kMaxCohortClauses elements.
Status ClauseArray(const json::object& o, std::string_view path, std::string_view key,
                   const json::array** out) {
  const std::string array_path = Field(path, key);
  const json::value* v = o.if_contains(key);
  if (IsNullOrAbsent(v)) return Invalid(array_path, "required");
  if (!v->is_array()) return Invalid(array_path, "must be an array");
  if (v->get_array().empty()) return Invalid(array_path, "must not be empty");
  if (v->get_array().size() > kMaxCohortClauses) {
    return Invalid(array_path, "at most " + std::to_string(kMaxCohortClauses) + " clauses");
  }
  *out = &v->get_array();
  return Status::Ok();
}

Status ParseClause(const json::value& v, std::string_view path, CohortClause* clause) {
  if (!v.is_object()) return Invalid(path, "must be an object with negated and orClauses");
  const json::object& o = v.get_object();
  PROFILED_RETURN_IF_ERROR(CheckKeys(o, path, {"negated", "orClauses"}));
  if (const json::value* negated = o.if_contains("negated"); !IsNullOrAbsent(negated)) {
    if (!negated->is_bool()) return Invalid(Field(path, "negated"), "must be true or false");
    clause->negated = negated->get_bool();
  }
  const json::array* conditions = nullptr;
  PROFILED_RETURN_IF_ERROR(ClauseArray(o, path, "orClauses", &conditions));
  const std::string conditions_path = Field(path, "orClauses");
  clause->any_of.resize(conditions->size());
  for (size_t i = 0; i < conditions->size(); ++i) {
    PROFILED_RETURN_IF_ERROR(
        ParseCondition((*conditions)[i], Index(conditions_path, i), &clause->any_of[i]));
  }
  return Status::Ok();
}

// Amplitude's definition envelope: the clauses and fields that must hold their only
// supported value.
Status ParseDefinition(const json::value* v, Cohort* cohort) {
  constexpr std::string_view kPath = "definition";
  if (IsNullOrAbsent(v)) return Invalid(kPath, "required");
  if (!v->is_object()) return Invalid(kPath, "must be an object");
  const json::object& o = v->get_object();
  PROFILED_RETURN_IF_ERROR(CheckKeys(
      o, kPath, {"version", "countGroup", "cohortType", "andClauses", "referenceFrameTimeParams"}));
  std::optional<int64_t> version;
  PROFILED_RETURN_IF_ERROR(OptionalInteger(o, kPath, "version", 3, 3, &version));
  if (const json::value* group = o.if_contains("countGroup"); !IsNullOrAbsent(group)) {
    const std::string group_path = Field(kPath, "countGroup");
    if (!group->is_object()) return Invalid(group_path, "must be an object");
    PROFILED_RETURN_IF_ERROR(CheckKeys(group->get_object(), group_path, {"name", "is_computed"}));
    const json::value* name = group->get_object().if_contains("name");
    if (!IsNullOrAbsent(name) && !(name->is_string() && name->get_string() == "User")) {
      return Invalid(Field(group_path, "name"), "only the \"User\" count group is supported");
    }
    const json::value* computed = group->get_object().if_contains("is_computed");
    if (!IsNullOrAbsent(computed) && !(computed->is_bool() && !computed->get_bool())) {
      return Invalid(Field(group_path, "is_computed"), "only false is supported");
    }
  }
  if (const json::value* type = o.if_contains("cohortType"); !IsNullOrAbsent(type)) {
    if (!type->is_string() || type->get_string() != "UNIQUES") {
      return Invalid(Field(kPath, "cohortType"), "only \"UNIQUES\" is supported");
    }
  }
  if (const json::value* frame = o.if_contains("referenceFrameTimeParams");
      !IsNullOrAbsent(frame)) {
    if (!frame->is_object() || !frame->get_object().empty()) {
      return Invalid(Field(kPath, "referenceFrameTimeParams"), "only an empty object is supported");
    }
  }
  const json::array* clauses = nullptr;
  PROFILED_RETURN_IF_ERROR(ClauseArray(o, kPath, "andClauses", &clauses));
  const std::string clauses_path = Field(kPath, "andClauses");
  cohort->all_of.resize(clauses->size());
  for (size_t i = 0; i < clauses->size(); ++i) {
    PROFILED_RETURN_IF_ERROR(
        ParseClause((*clauses)[i], Index(clauses_path, i), &cohort->all_of[i]));
  }
  return Status::Ok();
}

}  // namespace

Status ParseCohort(std::string_view body, std::string_view path_id, Cohort* out) {
  PROFILED_RETURN_IF_ERROR(CheckPathStringId(path_id));
  json::object root;
  PROFILED_RETURN_IF_ERROR(ParseBody(body, &root));
  // Besides its definition, a cohort listed by Amplitude's /api/3/cohorts carries metadata
  // that changes nothing here; it is accepted so that exports load as they are.
  PROFILED_RETURN_IF_ERROR(
      CheckKeys(root, "", {"id",          "name",         "definition",    "description",
                           "appId",       "app_id",       "archived",      "createdAt",
                           "created_at",  "lastComputed", "lastMod",       "last_viewed",
                           "owners",      "viewers",      "published",     "size",
                           "type",        "syncMetadata", "hidden",        "finished",
                           "chart_id",    "edit_id",      "is_predictive", "is_official_content",
                           "location_id", "metadata",     "popularity",    "shortcut_ids",
                           "view_count"}));
  PROFILED_RETURN_IF_ERROR(CheckBodyStringId(root, path_id));
  Cohort c;
  c.id.assign(path_id);
  PROFILED_RETURN_IF_ERROR(OptionalString(root, "name", kMaxDefinitionNameLength, &c.name));
  PROFILED_RETURN_IF_ERROR(ParseDefinition(root.if_contains("definition"), &c));
  *out = std::move(c);
  return Status::Ok();
}

namespace {

// ---- Recommendations ------------------------------------------------------------------------

// o[key]: absent or null (*out is left alone), or a boolean.
Status OptionalBool(const json::object& o, std::string_view path, std::string_view key, bool* out) {
  const json::value* v = o.if_contains(key);
  if (IsNullOrAbsent(v)) return Status::Ok();
  if (!v->is_bool()) return Invalid(Field(path, key), "must be true or false");
  *out = v->get_bool();
  return Status::Ok();
}

// o[key]: absent or null (*out is left alone), or an array of at most max_count item keys:
// non-empty strings of at most compute::kMaxItemKeyBytes bytes (longer values are never
// items, compute::ItemKey). `non_empty`: an empty array is refused.
Status OptionalItems(const json::object& o, std::string_view path, std::string_view key,
                     size_t max_count, bool non_empty, std::vector<std::string>* out) {
  const json::value* v = o.if_contains(key);
  if (IsNullOrAbsent(v)) return Status::Ok();
  const std::string items_path = Field(path, key);
  if (!v->is_array()) return Invalid(items_path, "must be an array of strings");
  const json::array& array = v->get_array();
  if (non_empty && array.empty()) return Invalid(items_path, "must not be empty");
  if (array.size() > max_count) {
    return Invalid(items_path, "at most " + std::to_string(max_count) + " items");
  }
  out->clear();
  for (size_t i = 0; i < array.size(); ++i) {
    const json::value& item = array[i];
    if (!item.is_string() || item.get_string().empty()) {
      return Invalid(Index(items_path, i), "must be a non-empty string");
    }
    if (item.get_string().size() > compute::kMaxItemKeyBytes) {
      return Invalid(
          Index(items_path, i),
          "must be at most " + std::to_string(compute::kMaxItemKeyBytes) + " bytes long");
    }
    out->emplace_back(item.get_string());
  }
  return Status::Ok();
}

// `candidates`: absent or null (the default top_n), {"top_n": N} or {"items": [...]}.
Status ParseCandidates(const json::object& root, Recommendation* rec) {
  constexpr std::string_view kPath = "candidates";
  const json::value* v = root.if_contains(kPath);
  if (IsNullOrAbsent(v)) return Status::Ok();
  if (!v->is_object()) return Invalid(kPath, "must be {\"top_n\": N} or {\"items\": [...]}");
  const json::object& o = v->get_object();
  PROFILED_RETURN_IF_ERROR(CheckKeys(o, kPath, {"top_n", "items"}));
  const bool has_top_n = !IsNullOrAbsent(o.if_contains("top_n"));
  const bool has_items = !IsNullOrAbsent(o.if_contains("items"));
  if (has_top_n == has_items) {
    return Invalid(kPath, "must have exactly one of top_n and items");
  }
  if (has_items) {
    return OptionalItems(o, kPath, "items", kMaxRecommendationItems, /*non_empty=*/true,
                         &rec->candidate_items);
  }
  std::optional<int64_t> top_n;
  PROFILED_RETURN_IF_ERROR(
      OptionalInteger(o, kPath, "top_n", 1, kMaxRecommendationCandidates, &top_n));
  rec->candidates_top_n = *top_n;
  return Status::Ok();
}

// `params`: absent, null or an object of numbers, each a parameter the model has (the
// model's own rules, recs::ModelOptionsFrom, decide which and their ranges).
Status ParseParams(const json::object& root, recs::ModelKind kind, Recommendation* rec) {
  constexpr std::string_view kPath = "params";
  const json::value* v = root.if_contains(kPath);
  if (IsNullOrAbsent(v)) return Status::Ok();
  if (!v->is_object()) return Invalid(kPath, "must be an object of numbers");
  for (const json::key_value_pair& kv : v->get_object()) {
    const std::string param_path = Field(kPath, kv.key());
    std::string text;
    if (kv.value().is_int64()) {
      AppendJsonInt(&text, kv.value().get_int64());
    } else if (kv.value().is_uint64()) {
      AppendJsonUint(&text, kv.value().get_uint64());
    } else if (kv.value().is_double()) {
      AppendJsonDouble(&text, kv.value().get_double());  // finite: ParseBody refused the rest
    } else {
      return Invalid(param_path, "must be a number");
    }
    std::pair<std::string, std::string> param(std::string(kv.key()), std::move(text));
    // One at a time, so that the message names the parameter at fault.
    if (Result<recs::ModelOptions> one = recs::ModelOptionsFrom(kind, {param}); !one.ok()) {
      return Invalid(param_path, one.status().message());
    }
    rec->params.push_back(std::move(param));
  }
  std::sort(rec->params.begin(), rec->params.end());
  return Status::Ok();
}

// The normalised text of a valid recommendation: every field, defaults filled in, in the
// order of the documentation's example.
std::string RecommendationSource(const Recommendation& rec) {
  auto append_strings = [](const std::vector<std::string>& items, std::string* out) {
    out->push_back('[');
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out->push_back(',');
      AppendJsonString(out, items[i]);
    }
    out->push_back(']');
  };
  std::string out = "{\"id\":";
  AppendJsonString(&out, rec.id);
  out.append(",\"title\":");
  AppendJsonString(&out, rec.title);
  out.append(",\"model\":");
  AppendJsonString(&out, rec.model);
  out.append(",\"item_event\":");
  AppendJsonString(&out, rec.item_event);
  out.append(",\"item_property\":");
  AppendJsonString(&out, rec.item_property);
  out.append(",\"history_window_days\":");
  AppendJsonInt(&out, rec.history_window_days);
  if (rec.candidate_items.empty()) {
    out.append(",\"candidates\":{\"top_n\":");
    AppendJsonInt(&out, rec.candidates_top_n);
  } else {
    out.append(",\"candidates\":{\"items\":");
    append_strings(rec.candidate_items, &out);
  }
  out.append("},\"exclude_items\":");
  append_strings(rec.exclude_items, &out);
  out.append(rec.exclude_seen ? ",\"exclude_seen\":true" : ",\"exclude_seen\":false");
  out.append(",\"max_items\":");
  AppendJsonInt(&out, rec.max_items);
  out.append(",\"control_percentage\":");
  AppendJsonDouble(&out, rec.control_percentage);
  out.append(",\"control_group_of\":");
  if (rec.control_group_of.empty()) {
    out.append("null");
  } else {
    AppendJsonString(&out, rec.control_group_of);
  }
  out.append(",\"retrain_every_minutes\":");
  AppendJsonInt(&out, rec.retrain_every_minutes);
  out.append(",\"params\":{");
  for (size_t i = 0; i < rec.params.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonString(&out, rec.params[i].first);
    out.push_back(':');
    out.append(rec.params[i].second);  // number text, a JSON number as it is
  }
  out.append("}}");
  return out;
}

}  // namespace

Status ParseRecommendation(std::string_view body, std::string_view path_id, Recommendation* out,
                           std::string* source) {
  PROFILED_RETURN_IF_ERROR(CheckPathStringId(path_id));
  json::object root;
  PROFILED_RETURN_IF_ERROR(ParseBody(body, &root));
  PROFILED_RETURN_IF_ERROR(
      CheckKeys(root, "",
                {"id", "title", "model", "params", "item_event", "item_property",
                 "history_window_days", "candidates", "exclude_items", "exclude_seen", "max_items",
                 "control_percentage", "control_group_of", "retrain_every_minutes"}));
  PROFILED_RETURN_IF_ERROR(CheckBodyStringId(root, path_id));
  Recommendation rec;
  rec.id.assign(path_id);
  PROFILED_RETURN_IF_ERROR(
      OptionalString(root, "title", kMaxRecommendationTitleLength, &rec.title));

  PROFILED_RETURN_IF_ERROR(
      RequiredString(root, "", "model", kMaxDefinitionStringLength, &rec.model));
  Result<recs::ModelKind> kind = recs::ParseModelKind(rec.model);
  if (!kind.ok()) {
    return Invalid("model", "unknown model " + Quoted(rec.model) + " (expected " +
                                std::string(recs::ServableModelNames()) + ")");
  }
  if (!recs::Servable(*kind)) {
    // profiled eval knows more models than a read serves (recs::Servable says why).
    return Invalid("model", "model " + Quoted(rec.model) +
                                " is for profiled eval only and cannot be served (expected " +
                                std::string(recs::ServableModelNames()) + ")");
  }
  PROFILED_RETURN_IF_ERROR(ParseParams(root, *kind, &rec));

  PROFILED_RETURN_IF_ERROR(
      RequiredString(root, "", "item_event", kMaxDefinitionStringLength, &rec.item_event));
  PROFILED_RETURN_IF_ERROR(
      RequiredString(root, "", "item_property", kMaxDefinitionStringLength, &rec.item_property));
  if (rec.item_property == "$") {
    return Invalid("item_property", "\"$\" must be followed by a field name");
  }

  std::optional<int64_t> number;
  PROFILED_RETURN_IF_ERROR(
      OptionalInteger(root, "", "history_window_days", 1, compute::kMaxWindowDays, &number));
  if (number.has_value()) rec.history_window_days = static_cast<int>(*number);
  PROFILED_RETURN_IF_ERROR(ParseCandidates(root, &rec));
  PROFILED_RETURN_IF_ERROR(OptionalItems(root, "", "exclude_items", kMaxRecommendationItems,
                                         /*non_empty=*/false, &rec.exclude_items));
  PROFILED_RETURN_IF_ERROR(OptionalBool(root, "", "exclude_seen", &rec.exclude_seen));
  number.reset();
  PROFILED_RETURN_IF_ERROR(
      OptionalInteger(root, "", "max_items", 1, kMaxRecommendedItems, &number));
  if (number.has_value()) rec.max_items = static_cast<int>(*number);

  if (const json::value* share = root.if_contains("control_percentage"); !IsNullOrAbsent(share)) {
    std::optional<double> percentage = AsFiniteNumber(*share);
    if (!percentage.has_value() || *percentage < 0 || *percentage > 100) {
      return Invalid("control_percentage", "must be a number from 0 to 100");
    }
    rec.control_percentage = *percentage;
  }
  if (const json::value* group = root.if_contains("control_group_of"); !IsNullOrAbsent(group)) {
    if (!group->is_string() || !IsCohortId(group->get_string())) {
      return Invalid("control_group_of", "must be null or the id of a recommendation (1 to " +
                                             std::to_string(kMaxCohortIdLength) +
                                             " characters of A-Z, a-z, 0-9, '_', '.' and '-')");
    }
    rec.control_group_of.assign(group->get_string());
  }
  number.reset();
  PROFILED_RETURN_IF_ERROR(
      OptionalInteger(root, "", "retrain_every_minutes", 0, kMaxRetrainEveryMinutes, &number));
  if (number.has_value()) rec.retrain_every_minutes = static_cast<int>(*number);

  rec.history = compute::HistorySpecOf(rec);
  *source = RecommendationSource(rec);
  *out = std::move(rec);
  return Status::Ok();
}

}  // namespace profiled::api
