// The Profile API wire format (docs/API.md, "Profile API"): query parsing and the two response
// dialects, written with a streaming writer straight from the stored record.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/status.h"
#include "read/profile_reader.h"

namespace profiled::api {

// The most recommendations one read may ask for by rec_id (distinct ids).
inline constexpr size_t kMaxRecIdsPerRead = 20;

struct ProfileQuery {
  std::string user_id;
  std::string device_id;
  bool get_recs = false;
  bool get_amp_props = false;
  bool get_cohort_ids = false;
  bool get_computations = false;
  bool get_group_props = false;       // the Amplitude dialect's groups and group_properties
  std::vector<std::string> rec_ids;   // rec_id=a,b: each once, in the order asked
  std::vector<std::string> comp_ids;  // comp_id=1,2
  std::string rec_type;               // "", "model" or "random"
  int limit = 0;                      // 0 = the recommendation's own count
};

// Parses the query string (without '?'). Unknown parameters are ignored, as Amplitude
// does. InvalidArgument names the parameter: neither id given, a boolean that is not
// true/false/1/0, an unknown rec_type, a limit that is not 1..1000, a rec_id list of more
// than kMaxRecIdsPerRead distinct ids, a comp_id that is
// not a comma-separated list of integers 0..2^63-1 (no sign, no empty item; stored in
// canonical form, leading zeros dropped).
Status ParseProfileQuery(std::string_view query, ProfileQuery* q);

// What a read must fetch for `q` in `dialect`: the seed dialect always has computed
// properties (narrowed by comp_id) and cohort ids; the Amplitude dialect only those its
// get_computations / comp_id / get_cohort_ids ask for.
read::ReadOptions ReadOptionsFor(const ProfileQuery& q, ProfileDialect dialect);

// Writes {"userData":{...}} in the seed dialect: amplitude_id, user_properties,
// computed_properties (keyed by id), cohort_ids always; user_id unless the profile is an
// anonymous device's (the seed types it as a string, so it is left out, never null);
// recommendations with get_recs, each {rec_id, child_ids, is_control, recommendation_type,
// title} as the seed's Recommendation schema has it.
void WriteSeedProfile(const ProfileQuery& q, const read::UserData& user, std::string* out);

// Writes {"userData":{...}} in the Amplitude dialect: recommendations, user_id,
// device_id, amp_props, cohort_ids; a section not asked for is null. recommendations (with
// get_recs) are each {rec_id, child_rec_id (the rec_id), items, is_control,
// recommendation_source (the model's name or "random"), last_updated (Unix seconds)}. amp_props
// holds the built-in fields and the custom properties (custom wins on a name clash) with
// get_amp_props, and the computations as "computed-prop-<id>": "<value as string>" with
// get_computations or comp_id. Corruption (and *out unusable) when the stored JSON of a
// section asked for does not parse as an object, or the stored JSON text of a first or last
// computed value does not parse.
[[nodiscard]] Status WriteAmplitudeProfile(const ProfileQuery& q, const read::UserData& user,
                                           std::string* out);

// Appends a computed value as both dialects' computed properties have it (a whole number
// without a fraction, JSON text as stored, null for none).
void AppendComputedValue(const compute::Value& v, std::string* out);

// Appends `"groups":{type:[names]},"group_properties":{type:{name:{...}}}` of the user's groups
// (read::UserData::groups, grouped by type as read).
void AppendGroupSections(const std::vector<read::UserGroup>& groups, std::string* out);

}  // namespace profiled::api
