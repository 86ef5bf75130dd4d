#include "ingest/validation.h"

#include <algorithm>
#include <cctype>

namespace profiled::ingest {

namespace {
void AddIndex(std::map<std::string, std::vector<int>>* m, const std::string& field, int index) {
  auto& v = (*m)[field];
  if (v.empty() || v.back() != index) v.push_back(index);
}
}  // namespace

void BatchErrors::AddDetail(const std::string& field, int index, std::string_view why) {
  if (details.size() >= kMaxDetails) return;
  details.push_back("events[" + std::to_string(index) + "]." + field + ": " + std::string(why));
}

void BatchErrors::Invalid(const std::string& field, int index, std::string_view why) {
  AddIndex(&invalid_fields, field, index);
  AddDetail(field, index, why);
}

void BatchErrors::Missing(const std::string& field, int index, std::string_view why) {
  AddIndex(&missing_fields, field, index);
  AddDetail(field, index, why);
}

void BatchErrors::InvalidIdLength(const std::string& field, int index, std::string_view why) {
  AddIndex(&invalid_id_lengths, field, index);
  AddDetail(field, index, why);
}

bool IsInvalidIdValue(std::string_view id) {
  static constexpr std::string_view kInvalid[] = {
      "anonymous", "nil",       "none",    "null", "n/a",
      "na",        "undefined", "unknown", "",     "00000000-0000-0000-0000-000000000000",
      "{}",        "lmy47d",    "0",       "-1"};
  std::string lower(id);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::find(std::begin(kInvalid), std::end(kInvalid), lower) != std::end(kInvalid);
}

bool IsReservedEventType(std::string_view t) {
  static constexpr std::string_view kReserved[] = {"[Amplitude] Start Session",
                                                   "[Amplitude] End Session",
                                                   "[Amplitude] Revenue",
                                                   "[Amplitude] Revenue (Verified)",
                                                   "[Amplitude] Revenue (Unverified)",
                                                   "[Amplitude] Merged User"};
  return std::find(std::begin(kReserved), std::end(kReserved), t) != std::end(kReserved);
}

size_t CharacterCount(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

void CheckEventIds(int index, int min_id_length, std::string* user_id, std::string* device_id,
                   BatchErrors* errors) {
  bool had_id = false;
  bool invalid = false;
  std::vector<const char*> removed;  // ids dropped for being too short
  struct Field {
    const char* name;
    std::string* value;
  };
  for (Field f : {Field{"user_id", user_id}, Field{"device_id", device_id}}) {
    if (f.value->empty()) continue;
    had_id = true;
    if (IsInvalidIdValue(*f.value)) {
      errors->Invalid(f.name, index, "\"" + *f.value + "\" is not a valid id");
      invalid = true;
      continue;
    }
    size_t chars = CharacterCount(*f.value);
    if (chars > kMaxStringLength) {
      errors->Invalid(f.name, index, "longer than 1024 characters");
      invalid = true;
    } else if (chars < static_cast<size_t>(min_id_length)) {
      f.value->clear();
      removed.push_back(f.name);
    }
  }
  if (invalid || !user_id->empty() || !device_id->empty()) return;
  if (!had_id) {
    errors->Missing("user_id or device_id", index, "an event needs a user_id or a device_id");
    return;
  }
  for (const char* name : removed) {
    errors->InvalidIdLength(name, index,
                            "shorter than min_id_length " + std::to_string(min_id_length) +
                                " and the event has no other id");
  }
}

}  // namespace profiled::ingest
