// Amplitude's validation rules that are about meaning rather than JSON shape, and the
// report a rejected batch is answered with.
//
// Pure functions and a plain value type; thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace profiled::ingest {

inline constexpr int kDefaultMinIdLength = 5;
inline constexpr size_t kMaxStringLength = 1024;  // characters, for ids and property strings
inline constexpr int kMaxPropertyDepth = 40;
inline constexpr size_t kMaxEventsPerBatch = 2000;

// Why events of a batch were refused, as Amplitude's 400 body reports it: field name ->
// indices of the events with that problem, plus human-readable details.
struct BatchErrors {
  std::map<std::string, std::vector<int>> invalid_fields;
  std::map<std::string, std::vector<int>> missing_fields;
  std::map<std::string, std::vector<int>> invalid_id_lengths;
  std::vector<std::string> details;  // at most kMaxDetails, "events[3].time: ..."

  static constexpr size_t kMaxDetails = 20;

  bool empty() const {
    return invalid_fields.empty() && missing_fields.empty() && invalid_id_lengths.empty();
  }
  void Invalid(const std::string& field, int index, std::string_view why);
  void Missing(const std::string& field, int index, std::string_view why);
  void InvalidIdLength(const std::string& field, int index, std::string_view why);

 private:
  void AddDetail(const std::string& field, int index, std::string_view why);
};

// The id values Amplitude refuses ("null", "undefined", "0", ...), compared
// case-insensitively.
bool IsInvalidIdValue(std::string_view id);

// "[Amplitude] Start Session" and the other event types only Amplitude may send.
bool IsReservedEventType(std::string_view event_type);

// Number of characters (UTF-8 code points) in s.
size_t CharacterCount(std::string_view s);

// Applies the id rules to one event: an id from the invalid list, or longer than 1024
// characters, is an invalid field; an id shorter than min_id_length is removed; an event
// left with no id is refused (invalid_id_lengths if an id was removed for its length,
// missing_fields otherwise).
void CheckEventIds(int index, int min_id_length, std::string* user_id, std::string* device_id,
                   BatchErrors* errors);

}  // namespace profiled::ingest
