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
// Single-threaded: runs on the ingest writer over its WorkingSet.
#pragma once

#include <cstdint>
#include <string_view>

#include "ingest/working_set.h"

namespace profiled::ingest {

// Resolves (user_id, device_id) — at least one non-empty — to the amplitude_id the
// event applies to, creating ids, user states and merges as needed. *user is the state of
// that id (never null on success), valid as WorkingSet::GetUserState's.
Status ResolveIdentity(WorkingSet& ws, std::string_view project, std::string_view user_id,
                       std::string_view device_id, uint64_t* amplitude_id, UserState** user);

// The merge rule of the per-user records other than the profile, when the anonymous user
// `from` merges into `into` (the profile has its own rule: `into`'s values win, `from`'s
// fill in what it lacks, within the profile limits; ResolveIdentity applies it). For now
// each record is raw bytes, so the rule is whole records: a record `into` has is kept
// as it is, and one only `from` has is taken. Part 2 replaces this for the aggregates (they
// combine: compute::SpecState::Merge). REQUIRES: both states are the WorkingSet's, and
// `into` was fetched in the current batch (so the undo log holds its records).
void MergeUserState(const UserState& from, UserState* into);

}  // namespace profiled::ingest
