// The lines `profiled import` reads, made into HTTP V2 events: a line of an Amplitude Export
// API archive (reference/amplitude.md §6.2) or of a plain NDJSON file of HTTP V2 events.
// docs/API.md ("Importing events: `profiled import`") is the table of how each export field
// maps; this is its code.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace profiled::cli {

// What an export line's `user_properties` (the user's properties after the event, not
// operations) becomes:
//   kReplace: {"$clearAll":"-","$set":{...}}: the profile becomes exactly that state, so a
//             property Amplitude removed ($unset, $clearAll) is removed here too;
//   kSet:     {"$set":{...}}: properties are only ever added or overwritten;
//   kIgnore:  no user_properties (the events alone).
enum class UserPropertiesMode { kReplace, kSet, kIgnore };

// "replace" | "set" | "ignore"; nullopt for anything else.
std::optional<UserPropertiesMode> ParseUserPropertiesMode(std::string_view text);

// Why a line is not sent. The names are the summary's reasons (LineProblemName).
enum class LineProblem {
  kNotJson,         // not JSON text (or not UTF-8)
  kNotObject,       // JSON, but not an object
  kNumberTooLarge,  // a number beyond the range of a double
  kNoEventType,     // no event_type, or not a non-empty string
  kNoId,            // neither a user_id nor a device_id (non-empty strings)
  kBadTime,         // event_time (and client_event_time) missing or not a time
  kTooLong,         // longer than the reader's line limit (import_source.h)
  kBadInsertId,     // (NDJSON) an insert_id that is neither null nor a non-empty string
};
std::string_view LineProblemName(LineProblem problem);

// One event ready for a /batch body, with the ids it names (for the summary's counts).
struct ImportedEvent {
  std::string json;  // the HTTP V2 event object's text
  std::string user_id;
  std::string device_id;
};

// Either an event or why the line was skipped (with a detail for the log, e.g. the JSON
// parser's message).
struct LineVerdict {
  std::optional<ImportedEvent> event;
  LineProblem problem = LineProblem::kNotJson;
  std::string detail;
};

// An export line as an HTTP V2 event. `fallback_insert_id` is used when the line has neither
// `$insert_id` nor `uuid`: it must be the same every time the same line is read (the caller
// derives it from the archive entry and line number), so a resumed or repeated import never
// applies an event twice.
LineVerdict MapExportLine(std::string_view line, std::string_view fallback_insert_id,
                          UserPropertiesMode mode);

// An NDJSON line holding an HTTP V2 event, sent as written (the server validates it), with
// `"insert_id":fallback_insert_id` added when it has none. Skipped: not a JSON object, no
// event_type, no id.
LineVerdict MapNdjsonLine(std::string_view line, std::string_view fallback_insert_id);

// Milliseconds since the epoch of an export time, "YYYY-MM-DD HH:MM:SS[.ffffff]" in UTC (the
// export's documentation calls it ISO-8601, so a 'T' for the space and a zone, 'Z' or an
// offset like +02:00, are accepted too; digits past the millisecond are dropped). nullopt when
// the text is not such a time, or is before 1970.
std::optional<int64_t> ParseExportTime(std::string_view text);

}  // namespace profiled::cli
