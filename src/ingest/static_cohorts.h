// Static cohorts: membership lists uploaded through Amplitude's cohort API
// (/api/3/cohorts/upload and /membership), applied by the ingest writer.
//
// A static cohort is a Cohort definition with is_static set (kept by the DefinitionRegistry)
// plus, for each member, its id in the member's per-user record tagged 's' and an index
// entry P || 'M' || lp(cohort_id) || be64(amplitude_id) in kMeta, written in the same
// commit, so reads find a user's cohorts with the user's other records and exports list a
// cohort's members with one scan. Plain values; the writer applies them (Ingestor).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace profiled::ingest {

// Cap of ids in one upload or membership request, as Amplitude's.
inline constexpr size_t kMaxStaticCohortIds = 100000;

enum class CohortIdType {
  kAmplitudeId,  // BY_AMP_ID / BY_ID
  kUserId,       // BY_USER_ID / BY_NAME
};

struct MembershipChange {
  CohortIdType id_type = CohortIdType::kUserId;
  bool add = true;  // ADD, or REMOVE
  std::vector<std::string> ids;
};

struct StaticCohortChange {
  std::string project;
  // The cohort changed. With `create` and an empty id, a new cohort gets a fresh id.
  std::string cohort_id;
  // Upload: creates the cohort, or when cohort_id names an existing static cohort, replaces
  // its members and name. Without it, the cohort must exist and be static.
  bool create = false;
  std::string name;
  // With `create`: the cohort's stored definition, as the admin API returns it (made by
  // src/api, which owns that JSON).
  std::string source;
  std::vector<MembershipChange> changes;  // applied in order
  // skip_invalid_ids = false: an id naming no known user refuses the whole change.
  bool refuse_unknown_ids = false;
};

struct StaticCohortResult {
  // InvalidArgument (nothing changed) for an unknown or non-static cohort, or for unknown
  // ids with refuse_unknown_ids (the message names a few); the store's.
  Status status;
  std::string cohort_id;
  size_t matched = 0;                             // ids that named a known user
  std::vector<std::vector<std::string>> skipped;  // per change: ids naming no known user
};

}  // namespace profiled::ingest
