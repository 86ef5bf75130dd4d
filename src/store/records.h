// Value encodings of the tables (docs/STORAGE.md is the reference).
//
// Every record starts with a format version byte so the layout can evolve. Decoders
// return Corruption on bytes they cannot read; they never crash on bad input. Views
// returned by the *View decoders point into the caller's buffer and live as long as it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace profiled::store {

// The state of one user (one amplitude_id) as the Profile API serves it.
struct ProfileRecord {
  std::string user_id;    // empty while the user is anonymous
  std::string device_id;  // the device of the newest event
  // JSON object text of the fields Amplitude itself tracks per user (platform, country,
  // first_used, ...).
  std::string builtins_json = "{}";
  // JSON object text of the custom user properties, served verbatim.
  std::string properties_json = "{}";
};

struct ProfileView {
  std::string_view user_id;
  std::string_view device_id;
  std::string_view builtins_json;
  std::string_view properties_json;
};

std::string EncodeProfile(const ProfileRecord& record);
// Corruption when the bytes are not a version-1 record, or when either JSON text is not
// braced like an object (a shape check; the JSON is not parsed).
Status DecodeProfile(std::string_view bytes, ProfileView* view);

// An amplitude_id value (kIdentity user/device/merge entries, kMeta counters).
std::string EncodeId(uint64_t id);
Status DecodeId(std::string_view bytes, uint64_t* id);

// One ingested event as kept in the log.
struct EventRecord {
  uint64_t amplitude_id = 0;
  int64_t time_ms = 0;     // the event's own time
  std::string event_type;  // empty in a version-1 record: read it from `json`
  std::string json;        // the event object as received, after id clean-up
};
// The same fields as views: what the writer encodes without copying an event's text.
struct EventRecordView {
  uint64_t amplitude_id = 0;
  int64_t time_ms = 0;
  std::string_view event_type;
  std::string_view json;
};
// Writes version 2 (with the event type).
std::string EncodeEvent(const EventRecordView& record);
std::string EncodeEvent(const EventRecord& record);
// Reads versions 1 and 2; a version-1 record leaves event_type empty (the caller reads
// "event_type" from the JSON). Corruption on bytes that are neither.
Status DecodeEvent(std::string_view bytes, EventRecord* record);

// A dedup entry: when the insert_id was first accepted.
std::string EncodeDedup(int64_t first_seen_ms);
Status DecodeDedup(std::string_view bytes, int64_t* first_seen_ms);

// A user's static cohort memberships (the per-user record tagged 's'): the ids of the static
// cohorts the user is in, sorted. Decode: Corruption on bad bytes.
std::string EncodeStaticCohorts(const std::vector<std::string>& ids);
Status DecodeStaticCohorts(std::string_view bytes, std::vector<std::string>* ids);

// A user's group memberships (the record tagged 'g', UserRecord::kGroups) are JSON object text
// {group_type: [group_name, ...]} (ingest/group_membership.h writes them) of at most
// kMaxUserGroupTypes types and kMaxUserGroupNames names per type (docs/API.md, "Groups"):
// Amplitude's limits for one event's `groups`, kept for a user's memberships as a whole.
inline constexpr size_t kMaxUserGroupTypes = 5;
inline constexpr size_t kMaxUserGroupNames = 10;

// A group's properties (kMeta, GroupKey): u8 version = 1 || lp(properties_json). Decode:
// Corruption when the bytes are not a version-1 record or the text is not braced like a JSON
// object; *properties_json views `bytes`.
std::string EncodeGroup(std::string_view properties_json);
Status DecodeGroup(std::string_view bytes, std::string_view* properties_json);

// A list of amplitude_ids (the per-user record tagged 'm': the anonymous ids merged into the
// user): varint(count) || count x varint(id). Decode: Corruption on bad bytes.
std::string EncodeIdList(const std::vector<uint64_t>& ids);
Status DecodeIdList(std::string_view bytes, std::vector<uint64_t>* ids);

}  // namespace profiled::store
