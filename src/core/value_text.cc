#include "core/value_text.h"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>

#include "core/json_writer.h"

namespace profiled {

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

size_t StringTextSizeBound(std::string_view s) { return 2 + 6 * s.size(); }

bool ParseDecimalDigits(std::string_view digits, int64_t* n) {
  constexpr size_t kMaxDigits = 18;
  if (digits.empty() || digits.size() > kMaxDigits) return false;
  int64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *n = v;
  return true;
}

size_t TextSizeBound(const json::value& v) {
  constexpr size_t kLongestNumber = 24;  // "-1.7976931348623157e+308"
  switch (v.kind()) {
    case json::kind::null: return 4;
    case json::kind::bool_: return 5;
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_: return kLongestNumber;
    case json::kind::string: return StringTextSizeBound(v.get_string());
    case json::kind::array: {
      size_t n = 2;
      for (const auto& e : v.get_array()) n += TextSizeBound(e) + 1;
      return n;
    }
    case json::kind::object: {
      size_t n = 2;
      for (const auto& kv : v.get_object()) {
        n += StringTextSizeBound(kv.key()) + TextSizeBound(kv.value()) + 2;
      }
      return n;
    }
  }
  return 0;
}

namespace {

// Whether `pred` holds for a double anywhere inside v.
template <typename Pred>
bool AnyDouble(const json::value& v, const Pred& pred) {
  switch (v.kind()) {
    case json::kind::double_: return pred(v.get_double());
    case json::kind::object:
      for (const auto& kv : v.get_object()) {
        if (AnyDouble(kv.value(), pred)) return true;
      }
      return false;
    case json::kind::array:
      for (const auto& e : v.get_array()) {
        if (AnyDouble(e, pred)) return true;
      }
      return false;
    default: return false;
  }
}

}  // namespace

bool HasNonFiniteNumber(const json::value& v) {
  return AnyDouble(v, [](double d) { return !std::isfinite(d); });
}

json::value ReadBackNumber(double d) {
  // Only an integral double below 1e21 is written as plain digits; any other has a point or
  // an exponent in its text and reads back as a double.
  if (std::floor(d) != d || std::fabs(d) >= 1e21) return d;
  std::string text;
  AppendJsonDouble(&text, d);
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  int64_t i = 0;
  if (auto r = std::from_chars(begin, end, i); r.ec == std::errc() && r.ptr == end) return i;
  uint64_t u = 0;
  if (auto r = std::from_chars(begin, end, u); r.ec == std::errc() && r.ptr == end) return u;
  return d;  // below -2^63 or above 2^64 - 1: Boost.JSON reads such an integer as a double
}

bool ToReadBackNumbers(json::value* v) {
  switch (v->kind()) {
    case json::kind::double_: {
      json::value n = ReadBackNumber(v->get_double());
      if (n.is_double()) return false;
      *v = n;
      return true;
    }
    case json::kind::object: {
      bool changed = false;
      for (auto& kv : v->get_object()) changed = ToReadBackNumbers(&kv.value()) || changed;
      return changed;
    }
    case json::kind::array: {
      bool changed = false;
      for (auto& e : v->get_array()) changed = ToReadBackNumbers(&e) || changed;
      return changed;
    }
    default: return false;
  }
}

bool HasNumberReadBackDifferently(const json::value& v) {
  return AnyDouble(v, [](double d) { return !ReadBackNumber(d).is_double(); });
}

namespace {

// Builds a value like Boost.JSON's own parser handler, but re-reads doubles from their
// text with std::from_chars, which rounds correctly.
struct ExactNumberHandler {
  // Names fixed by basic_parser's handler concept.
  // NOLINTBEGIN(readability-identifier-naming)
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();
  // NOLINTEND(readability-identifier-naming)

  json::value_stack st;
  std::string number;       // the parts of a number split across input buffers
  bool non_finite = false;  // a number read as infinity

  using ec_t = boost::system::error_code;
  bool on_document_begin(ec_t&) { return true; }
  bool on_document_end(ec_t&) { return true; }
  bool on_object_begin(ec_t&) { return true; }
  bool on_object_end(std::size_t n, ec_t&) {
    st.push_object(n);
    return true;
  }
  bool on_array_begin(ec_t&) { return true; }
  bool on_array_end(std::size_t n, ec_t&) {
    st.push_array(n);
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, ec_t&) {
    st.push_chars(s);
    return true;
  }
  bool on_key(json::string_view s, std::size_t, ec_t&) {
    st.push_key(s);
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, ec_t&) {
    st.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, ec_t&) {
    st.push_string(s);
    return true;
  }
  bool on_number_part(json::string_view s, ec_t&) {
    number.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t i, json::string_view, ec_t&) {
    number.clear();
    st.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, json::string_view, ec_t&) {
    number.clear();
    st.push_uint64(u);
    return true;
  }
  bool on_double(double d, json::string_view s, ec_t&) {
    std::string_view text(s.data(), s.size());
    if (!number.empty()) {
      number.append(s.data(), s.size());
      text = number;
    }
    double exact = 0;
    auto r = std::from_chars(text.data(), text.data() + text.size(), exact);
    // Out of range keeps Boost's reading: infinity (refused later) or zero.
    if (r.ec == std::errc() && r.ptr == text.data() + text.size()) d = exact;
    number.clear();
    non_finite = non_finite || !std::isfinite(d);
    st.push_double(d);
    return true;
  }
  bool on_bool(bool b, ec_t&) {
    st.push_bool(b);
    return true;
  }
  bool on_null(ec_t&) {
    st.push_null();
    return true;
  }
  bool on_comment_part(json::string_view, ec_t&) { return true; }
  bool on_comment(json::string_view, ec_t&) { return true; }
};

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

json::value ParseJson(std::string_view text, int max_depth, boost::system::error_code* ec,
                      bool* non_finite, json::storage_ptr storage) {
  json::parse_options options;
  options.max_depth = max_depth;
  json::basic_parser<ExactNumberHandler> parser(options);
  parser.handler().st.reset(std::move(storage));
  ec->clear();
  size_t used = parser.write_some(false, text.data(), text.size(), *ec);
  if (!*ec && used < text.size()) *ec = json::error::extra_data;
  if (*ec) return nullptr;
  if (non_finite != nullptr) *non_finite = parser.handler().non_finite;
  return parser.handler().st.release();
}

Status ParseStoredObject(std::string_view text, json::object* out) {
  // Values may nest kMaxPropertyDepth levels below a property, deeper than Boost's
  // default limit of 32: a stored profile must parse whatever ingestion accepted.
  boost::system::error_code ec;
  json::value v = ParseJson(text, kMaxJsonDepth, &ec, nullptr, out->storage());
  if (ec) {
    std::string repaired;
    if (RepairNonFinite(text, &repaired)) {
      v = ParseJson(repaired, kMaxJsonDepth, &ec, nullptr, out->storage());
    }
  }
  if (ec || !v.is_object()) return Status::Corruption("stored JSON object does not parse");
  *out = std::move(v.get_object());
  return Status::Ok();
}

}  // namespace profiled
