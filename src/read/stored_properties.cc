#include "read/stored_properties.h"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cstdint>
#include <cstring>

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
  const bool negative = text.starts_with('-');
  const std::string_view digits = negative ? text.substr(1) : text;
  int64_t n = 0;
  if (!digits.empty() && (digits.front() != '0' || text == "0") && ParseDecimalDigits(digits, &n)) {
    *out = negative ? -n : n;
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

// Which member names are picked. Most members of a text are not, so a name is compared
// with the picked ones only when a 512-bit filter over its length and last two characters
// lets it through; past a few names, a binary search finds it among them.
class NameFilter {
 public:
  explicit NameFilter(const std::vector<std::string>& names) : names_(names) {
    for (const std::string& name : names)
      bits_[Slot(name) / 64] |= uint64_t{1} << (Slot(name) % 64);
  }

  static constexpr size_t kNone = static_cast<size_t>(-1);

  // The index of `key` in the names; kNone when it is not one of them.
  size_t Find(std::string_view key) const {
    const size_t slot = Slot(key);
    if ((bits_[slot / 64] & (uint64_t{1} << (slot % 64))) == 0) return kNone;
    constexpr size_t kComparedNames = 16;
    if (names_.size() > kComparedNames) {
      auto it = std::lower_bound(names_.begin(), names_.end(), key);
      return it != names_.end() && *it == key ? static_cast<size_t>(it - names_.begin()) : kNone;
    }
    for (size_t i = 0; i < names_.size(); ++i) {
      if (names_[i] == key) return i;
    }
    return kNone;
  }

 private:
  static size_t Slot(std::string_view name) {
    const size_t n = name.size();
    size_t h = n * 131;
    if (n >= 1) h += size_t{static_cast<unsigned char>(name[n - 1])} * 31;
    if (n >= 2) h += static_cast<unsigned char>(name[n - 2]);
    return h % 512;
  }

  const std::vector<std::string>& names_;
  std::array<uint64_t, 8> bits_{};
};

// Where picked values go: the value of names[i] into values[i], with found[i] pointing at it;
// `wanted` counts the names still to pick.
struct Picks {
  json::array& values;
  std::vector<const json::value*>& found;
  size_t wanted;

  // Picks the value whose text is `text` for names[index]; false when it does not parse.
  bool Take(size_t index, std::string_view text) {
    if (!ReadValue(text, &values[index])) return false;
    if (found[index] == nullptr) {
      found[index] = &values[index];
      --wanted;
    }
    return true;
  }
  // Forgets every pick, with `to_pick` names left to pick (a scan that gave up is followed
  // by another; a refusal leaves nothing found).
  void Reset(size_t to_pick) {
    for (size_t i = 0; i < found.size(); ++i) {
      values[i] = nullptr;
      found[i] = nullptr;
    }
    wanted = to_pick;
  }
};

// Skips the value at *p in a text without escapes (PickCompact) whose closing brace is at
// `last`; false when it does not end before `last` where a value must.
bool SkipCompactValue(const char** p, const char* last) {
  const char* at = *p;
  const char c = *at;
  if (c == '"') {
    const auto* quote = static_cast<const char*>(std::memchr(at + 1, '"', last - at - 1));
    if (quote == nullptr) return false;
    *p = quote + 1;
    return true;
  }
  if (c == '{' || c == '[') {
    size_t depth = 0;
    while (at < last) {
      const char d = *at++;
      if (d == '"') {
        const auto* quote = static_cast<const char*>(std::memchr(at, '"', last - at));
        if (quote == nullptr) return false;
        at = quote + 1;
      } else if (d == '{' || d == '[') {
        ++depth;
      } else if ((d == '}' || d == ']') && --depth == 0) {
        *p = at;
        return true;
      }
    }
    return false;
  }
  // A scalar: up to the next delimiter; the closing brace at `last` is one, so the loop
  // needs no bound (the parse of a picked value checks the rest).
  while (!kEndsScalar[static_cast<unsigned char>(*at)]) ++at;
  if (at == *p) return false;
  *p = at;
  return true;
}

// Pick for a text with no space between tokens and no backslash anywhere (as ObjectText,
// core/value_text.h, writes one when no string needs an escape), so a string ends at the
// next quote and the members need no general scanner. False at anything else; `picks` may
// then hold some picks, which the caller clears before scanning again.
bool PickCompact(std::string_view text, const NameFilter& filter, Picks* picks) {
  if (text.size() < 2 || text.front() != '{' || text.back() != '}') return false;
  if (std::memchr(text.data(), '\\', text.size()) != nullptr) return false;
  const char* p = text.data() + 1;
  const char* const last = text.data() + text.size() - 1;
  if (p == last) return true;
  while (true) {
    // Every read below is at or before `last`: a name ends before it, and a value at it.
    if (*p != '"') return false;
    const auto* name_end = static_cast<const char*>(std::memchr(p + 1, '"', last - p - 1));
    if (name_end == nullptr || name_end[1] != ':') return false;
    const std::string_view key(p + 1, name_end - p - 1);
    const char* const value = name_end + 2;
    p = value;
    if (!SkipCompactValue(&p, last)) return false;
    const size_t index = filter.Find(key);
    if (index != NameFilter::kNone && !picks->Take(index, std::string_view(value, p - value))) {
      return false;
    }
    if (picks->wanted == 0 || p == last) return true;
    if (*p != ',') return false;
    ++p;
  }
}

// Picks the members from the text without building the object; false when the text is
// anything but a plain object of plain members (the caller then parses it all). Stops once
// `wanted` different names are picked: a stored text never repeats a name (ObjectText,
// core/value_text.h, writes objects, whose names are unique), so the rest holds none of them.
bool Pick(std::string_view text, const NameFilter& filter, Picks* picks) {
  Scanner in(text);
  if (!in.Take('{')) return false;
  if (!in.Take('}')) {
    do {
      std::string_view key;
      std::string_view value;
      if (!in.Take('"') || !in.PlainName(&key) || !in.Take(':') || !in.Value(&value)) {
        return false;
      }
      const size_t index = filter.Find(key);
      if (index != NameFilter::kNone && !picks->Take(index, value)) return false;
      if (picks->wanted == 0) return true;
    } while (in.Take(','));
    if (!in.Take('}')) return false;
  }
  in.SkipSpace();
  return in.AtEnd();
}

// Whether a member named `name` can be in the stored text. Stored texts are written by
// ObjectText (core/value_text.h), which writes a name of printable ASCII other than '"' and
// '\\' as it is, so such a name whose quoted form occurs nowhere in the text is not a member (a
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
                            json::array* values, std::vector<const json::value*>* found) {
  values->clear();
  values->resize(names.size());
  found->assign(names.size(), nullptr);
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
    const NameFilter filter(names);
    Picks picks{*values, *found, wanted};
    if (PickCompact(text, filter, &picks)) return Status::Ok();
    picks.Reset(wanted);
    if (Pick(text, filter, &picks)) return Status::Ok();
    picks.Reset(wanted);
  }
  // Escaped names, words older versions wrote for non-finite numbers, corrupt text: the
  // full reader decides.
  json::object all;
  PROFILED_RETURN_IF_ERROR(ParseStoredObject(text, &all));
  for (size_t i = 0; i < names.size(); ++i) {
    if (const json::value* v = all.if_contains(names[i])) {
      (*values)[i] = *v;
      (*found)[i] = &(*values)[i];
    }
  }
  return Status::Ok();
}

}  // namespace profiled::read
