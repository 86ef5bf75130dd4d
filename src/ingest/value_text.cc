#include "ingest/value_text.h"

#include <boost/json/parse.hpp>
#include <cmath>

#include "core/json_writer.h"

namespace profiled::ingest {

namespace json = boost::json;

void AppendObjectText(const json::object& o, std::string* out) {
  out->push_back('{');
  bool first = true;
  for (const auto& kv : o) {
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(out, kv.key());
    out->push_back(':');
    AppendValueText(kv.value(), out);
  }
  out->push_back('}');
}

void AppendValueText(const json::value& v, std::string* out) {
  switch (v.kind()) {
    case json::kind::null: out->append("null"); return;
    case json::kind::bool_: out->append(v.get_bool() ? "true" : "false"); return;
    case json::kind::int64: AppendJsonInt(out, v.get_int64()); return;
    case json::kind::uint64: AppendJsonUint(out, v.get_uint64()); return;
    case json::kind::double_: AppendJsonDouble(out, v.get_double()); return;
    case json::kind::string: AppendJsonString(out, v.get_string()); return;
    case json::kind::object: AppendObjectText(v.get_object(), out); return;
    case json::kind::array: {
      out->push_back('[');
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out->push_back(',');
        first = false;
        AppendValueText(e, out);
      }
      out->push_back(']');
      return;
    }
  }
}

std::string ValueText(const json::value& v) {
  std::string out;
  AppendValueText(v, &out);
  return out;
}

std::string ObjectText(const json::object& o) {
  std::string out;
  AppendObjectText(o, &out);
  return out;
}

bool HasNonFiniteNumber(const json::value& v) {
  switch (v.kind()) {
    case json::kind::double_: return !std::isfinite(v.get_double());
    case json::kind::object:
      for (const auto& kv : v.get_object()) {
        if (HasNonFiniteNumber(kv.value())) return true;
      }
      return false;
    case json::kind::array:
      for (const auto& e : v.get_array()) {
        if (HasNonFiniteNumber(e)) return true;
      }
      return false;
    default: return false;
  }
}

namespace {

// Rewrites the bare words Boost.JSON 1.81 wrote for non-finite doubles (outside strings)
// into JSON. False if there were none.
bool RepairNonFinite(std::string_view text, std::string* out) {
  static constexpr std::pair<std::string_view, std::string_view> kWords[] = {
      {"-Infinity", "-1.7976931348623157e+308"},
      {"Infinity", "1.7976931348623157e+308"},
      {"NaN", "null"}};
  bool changed = false;
  bool in_string = false;
  out->clear();
  out->reserve(text.size() + 32);
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      out->push_back(c);
      if (c == '\\' && i + 1 < text.size()) {
        out->push_back(text[++i]);
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') in_string = true;
    bool replaced = false;
    for (const auto& [word, with] : kWords) {
      if (text.substr(i).starts_with(word)) {
        out->append(with);
        i += word.size() - 1;
        replaced = changed = true;
        break;
      }
    }
    if (!replaced) out->push_back(c);
  }
  return changed;
}

}  // namespace

Status ParseStoredObject(std::string_view text, json::object* out) {
  // Values may nest kMaxPropertyDepth levels below a property, deeper than Boost's
  // default limit of 32: a stored profile must parse whatever ingestion accepted.
  json::parse_options options;
  options.max_depth = kMaxStoredDepth;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec, {}, options);
  if (ec) {
    std::string repaired;
    if (RepairNonFinite(text, &repaired)) v = json::parse(repaired, ec, {}, options);
  }
  if (ec || !v.is_object()) return Status::Corruption("stored JSON object does not parse");
  *out = std::move(v.get_object());
  return Status::Ok();
}

}  // namespace profiled::ingest
