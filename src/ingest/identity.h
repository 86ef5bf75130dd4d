// ResolveIdentity: Amplitude's rules for which amplitude_id an event belongs to.
//
//  - An amplitude_id is created the first time a user_id or device_id is seen;
//    user_id takes precedence.
//  - A new user_id on a device whose id is still anonymous (never had a user_id) takes
//    over that id: the device's earlier anonymous events become the user's.
//  - A new user_id on a device that belongs to another user gets a new id.
//  - A known user_id on a device that is still anonymous merges the device's id into
//    the user's: the device now resolves to the user, the anonymous profile's properties
//    fill in what the user's profile lacks, the anonymous user's other records merge into
//    the user's (MergeUserState), every record of the anonymous id is deleted, and a merge
//    record keeps old -> new for the event log. Only anonymous ids are merged; user_ids
//    never merge.
//  - An event with only a device_id goes to the device's last known user (or to its
//    anonymous id).
//  - A user_id or device_id mapped to an id that has no profile (its user was deleted by a
//    privacy deletion) counts as never seen: it gets a new id, as Amplitude starts a deleted
//    user afresh.
// Single-threaded: runs on the ingest writer over its WorkingSet.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "compute/catalog.h"
#include "ingest/working_set.h"

namespace profiled::ingest {

// What a merge needs beyond the two users: the project's live aggregate specs and the time
// (rolling windows prune as they merge).
struct MergeContext {
  const compute::ProjectCatalog* catalog = nullptr;  // null = no aggregate is live
  int64_t now_ms = 0;
};

// Resolves (user_id, device_id) — at least one non-empty — to the amplitude_id the
// event applies to, creating ids, user states and merges as needed. *user is the state of
// that id (never null on success), valid as WorkingSet::GetUserState's. Errors: the
// store's; Corruption for a record that does not decode.
Status ResolveIdentity(WorkingSet& ws, std::string_view project, std::string_view user_id,
                       std::string_view device_id, const MergeContext& context,
                       uint64_t* amplitude_id, UserState** user);

// The merge rule of the per-user records other than the profile, when the anonymous user
// `from_id` merges into `into_id` (the profile has its own rule: `into`'s values win,
// `from`'s fill in what it lacks, within the profile limits; ResolveIdentity applies it):
//  - aggregates: every state of a live spec is folded into the user's state of that spec
//    (compute::SpecState::Merge: as if the anonymous events had happened to the user);
//    states of specs no longer live are dropped;
//  - static cohorts: the user is in every static cohort either was in; the member index
//    moves from the anonymous id to the user's.
// REQUIRES: both states are the WorkingSet's, and `into` was fetched in the current batch
// (so the undo log holds its records). Errors: Corruption when a record does not decode.
Status MergeUserState(WorkingSet& ws, std::string_view project, const MergeContext& context,
                      uint64_t from_id, UserState* from, uint64_t into_id, UserState* into);

// The user's aggregates for editing, decoded on first use; states of specs `catalog` no
// longer has are dropped then. Flush writes them back. Corruption when the record does not
// decode.
Status MutableAggregates(UserState* user, const compute::ProjectCatalog& catalog,
                         compute::UserAggregates** out);

// The user's static cohort ids (sorted), and their replacement (written back by Flush).
Status StaticCohortsOf(const UserState& user, std::vector<std::string>* ids);
void SetStaticCohorts(UserState* user, const std::vector<std::string>& ids);

// The anonymous ids merged into the user (every merge appends the anonymous id and the ids
// merged into it). Corruption when the record does not decode.
Status MergedIdsOf(const UserState& user, std::vector<uint64_t>* ids);

}  // namespace profiled::ingest
