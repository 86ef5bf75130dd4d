#include "read/stored_properties.h"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <charconv>
#include <cstdint>

#include "core/value_text.h"

namespace profiled::read {

namespace json = boost::json;

namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// The characters that end a scalar value (a number or a literal) in an object's text.
constexpr std::array<bool, 256> kEndsScalar = [] {
  std::array<bool, 256> ends{};
  for (unsigned char c : std::string_view(",}] \t\n\r")) ends[c] = true;
  return ends;
}();

// A cursor over the text; every read is bounds-checked, so any bytes are safe to scan.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  bool AtEnd() const { return pos_ >= text_.size(); }
  void SkipSpace() {
    while (pos_ < text_.size() && IsSpace(text_[pos_])) ++pos_;
  }
  // Consumes `c` (after any space); false when the next character is another.
  bool Take(char c) {
    SkipSpace();
    if (pos_ >= text_.size() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  // After the opening quote of a member's name: its characters up to the closing quote,
  // consumed. False at an escape (the caller then parses properly) or at the end of the text.
  // Names are short: a loop costs less than a search.
  bool PlainName(std::string_view* body) {
    const size_t start = pos_;
    for (; pos_ < text_.size(); ++pos_) {
      const char c = text_[pos_];
      if (c == '\\') return false;
      if (c == '"') {
        *body = text_.substr(start, pos_ - start);
        ++pos_;
        return true;
      }
    }
    return false;
  }
  // After the opening quote: the raw characters up to the closing quote, consumed. False
  // at the end of the text.
  bool StringBody(std::string_view* body) {
    const size_t start = pos_;
    size_t from = pos_;
    while (true) {
      const size_t quote = text_.find('"', from);
      if (quote == std::string_view::npos) return false;
      // The quote is escaped when an odd number of backslashes precede it.
      size_t backslashes = 0;
      while (quote - backslashes > start && text_[quote - backslashes - 1] == '\\') {
        ++backslashes;
      }
      if (backslashes % 2 == 0) {
        *body = text_.substr(start, quote - start);
        pos_ = quote + 1;
        return true;
      }
      from = quote + 1;
    }
  }
  // Skips one value and returns its text; false when it does not end where a value must.
  bool Value(std::string_view* value) {
    SkipSpace();
    const size_t start = pos_;
    if (pos_ >= text_.size()) return false;
    const char c = text_[pos_];
    std::string_view body;
    if (c == '"') {
      ++pos_;
      if (!StringBody(&body)) return false;
    } else if (c == '{' || c == '[') {
      size_t depth = 0;
      while (pos_ < text_.size()) {
        const char d = text_[pos_++];
        if (d == '"') {
          if (!StringBody(&body)) return false;
        } else if (d == '{' || d == '[') {
          ++depth;
        } else if ((d == '}' || d == ']') && --depth == 0) {
          break;
        }
      }
      if (depth != 0) return false;
    } else {
      // A scalar: up to the next delimiter (the parse of a picked value checks the rest).
      while (pos_ < text_.size() && !kEndsScalar[static_cast<unsigned char>(text_[pos_])]) ++pos_;
      if (pos_ == start) return false;
    }
    *value = text_.substr(start, pos_ - start);
    return true;
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

// The value of one picked member, into *out (which keeps its storage). False when it does
// not parse as ParseStoredObject would read it here (the caller then parses the whole object).
bool ReadValue(std::string_view text, json::value* out) {
  // ASCII strings without escapes and the literals are common and need no parser (the
  // parser checks the rest: escapes, UTF-8, control characters).
  if (text.size() >= 2 && text.front() == '"') {
    const std::string_view body = text.substr(1, text.size() - 2);
    if (std::all_of(body.begin(), body.end(),
                    [](char c) { return c >= 0x20 && c < 0x7f && c != '\\'; })) {
      out->emplace_string().assign(body);
      return true;
    }
  }
  if (text == "true" || text == "false") {
    *out = text == "true";
    return true;
  }
  if (text == "null") {
    *out = nullptr;
    return true;
  }
  // Integers of up to 18 digits (no leading zero, as JSON requires; "-0" is left to the
  // parser) read as the parser's int64 would.
  const std::string_view digits = text.starts_with('-') ? text.substr(1) : text;
  if (!digits.empty() && digits.size() <= 18 && (digits.front() != '0' || text == "0") &&
      std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    int64_t n = 0;
    std::from_chars(text.data(), text.data() + text.size(), n);
    *out = n;
    return true;
  }
  boost::system::error_code ec;
  bool non_finite = false;
  json::value v = ParseJson(text, kMaxJsonDepth, &ec, &non_finite);
  // A non-finite number never comes from a valid text here; leave it to the full parse.
  if (ec || non_finite) return false;
  *out = std::move(v);
  return true;
}

// FNV-1a: cheap on short names, and any collision is settled by comparing the names.
uint64_t NameHash(std::string_view name) {
  uint64_t h = 14695981039346656037ULL;
  for (char c : name) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  return h;
}

// Picks the members from the text without building the object; false when the text is
// anything but a plain object of plain members (the caller then parses it all). Stops once
// `wanted` different names are picked: a stored text never repeats a name (core/json_writer.h
// writes objects, whose names are unique), so the rest holds none of them.
bool Pick(std::string_view text, const std::vector<std::string>& names, size_t wanted,
          json::object* out) {
  // A member's name is compared with the names only when its hash is one of theirs (most
  // members are not picked); past a few names, a binary search costs less than the hashes.
  constexpr size_t kHashedNames = 16;
  std::array<uint64_t, kHashedNames> hashes{};
  const bool hashed = names.size() <= kHashedNames;
  if (hashed) {
    for (size_t i = 0; i < names.size(); ++i) hashes[i] = NameHash(names[i]);
  }
  auto picked = [&](std::string_view key) {
    if (!hashed) return std::binary_search(names.begin(), names.end(), key);
    const uint64_t h = NameHash(key);
    for (size_t i = 0; i < names.size(); ++i) {
      if (hashes[i] == h && names[i] == key) return true;
    }
    return false;
  };
  out->reserve(out->size() + wanted);
  Scanner in(text);
  if (!in.Take('{')) return false;
  if (!in.Take('}')) {
    do {
      std::string_view key;
      std::string_view value;
      if (!in.Take('"') || !in.PlainName(&key) || !in.Take(':') || !in.Value(&value)) {
        return false;
      }
      if (picked(key)) {
        json::value v(out->storage());
        if (!ReadValue(value, &v)) return false;
        auto [it, added] = out->insert_or_assign(key, std::move(v));
        if (added && --wanted == 0) return true;
      }
    } while (in.Take(','));
    if (!in.Take('}')) return false;
  }
  in.SkipSpace();
  return in.AtEnd();
}

// Whether a member named `name` can be in the stored text. Stored texts are written by
// core/json_writer.h, which writes a name of printable ASCII other than '"' and '\\' as
// it is, so such a name whose quoted form occurs nowhere in the text is not a member (a
// search of the text is far cheaper than scanning it member by member). Other names may
// be escaped: they can always be there.
bool MayHoldMember(std::string_view text, std::string_view name) {
  if (!std::all_of(name.begin(), name.end(),
                   [](char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; })) {
    return true;
  }
  for (size_t at = text.find(name); at != std::string_view::npos; at = text.find(name, at + 1)) {
    if (at > 0 && text[at - 1] == '"' && at + name.size() < text.size() &&
        text[at + name.size()] == '"') {
      return true;
    }
  }
  return false;
}

// Texts longer than this are searched for the names before their members are scanned
// (PickStoredProperties).
constexpr size_t kSearchNamesAbove = 2048;

// Whether the text, without its surrounding space, is braced as an object is.
bool LooksLikeAnObject(std::string_view text) {
  const size_t first = text.find_first_not_of(" \t\n\r");
  const size_t last = text.find_last_not_of(" \t\n\r");
  return first != std::string_view::npos && last > first && text[first] == '{' && text[last] == '}';
}

}  // namespace

Status PickStoredProperties(std::string_view text, const std::vector<std::string>& names,
                            json::object* out) {
  if (names.empty()) return Status::Ok();
  if (LooksLikeAnObject(text)) {
    // Picking stops when every name that can be a member was found. On a long text, a
    // search for each name first spares scanning to its end for a name that is not there; on
    // a short one, scanning its members costs less than the searches (each stops at every
    // quote of the text).
    size_t wanted = names.size();
    if (text.size() > kSearchNamesAbove) {
      wanted = static_cast<size_t>(std::count_if(
          names.begin(), names.end(), [&](const auto& n) { return MayHoldMember(text, n); }));
      if (wanted == 0) return Status::Ok();  // nothing to pick
    }
    if (Pick(text, names, wanted, out)) return Status::Ok();
  }
  // Escaped names, words older versions wrote for non-finite numbers, corrupt text: the
  // full reader decides.
  out->clear();
  json::object all;
  PROFILED_RETURN_IF_ERROR(ParseStoredObject(text, &all));
  for (const std::string& name : names) {
    if (const json::value* v = all.if_contains(name)) (*out)[name] = *v;
  }
  return Status::Ok();
}

}  // namespace profiled::read
