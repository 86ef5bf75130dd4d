// The user's group memberships (the per-user record tagged 'g', store::UserRecord::kGroups):
// JSON object text {group_type: [group_name, ...]}, each list in the order it was set.
//
// Amplitude keeps a user in the groups that `groups` of a $identify event or of POST
// /identify names (what the SDKs' setGroup sends); `groups` of other events applies to that
// event only (docs/API.md, "Groups"). Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "ingest/event.h"
#include "store/records.h"

namespace profiled::ingest {

// A user is in groups of at most this many types, and of at most this many names per type
// (store/records.h says why), so a user's record and a read's get_group_props stay small.
using store::kMaxUserGroupNames;
using store::kMaxUserGroupTypes;

// Sets, for each type of `groups`, the user's names of that type to exactly the names given
// (the first kMaxUserGroupNames different ones); a type given with no names is removed. Types
// not named keep their names. *record is the record text (empty = no groups) and is left
// empty when no group remains; *changed tells whether it changed. Errors (then *record is
// unchanged): InvalidArgument when the user would end up in more than kMaxUserGroupTypes types
// and in more than before (a record over the limit, written before it, may still change
// types it has and lose some). A *record that does not decode (reads take it as no groups)
// counts as empty and is replaced, so the user's groups never become unwritable; that is said
// in *damaged (if given; empty otherwise) for the caller to log.
Status SetGroupMembership(const std::vector<GroupRef>& groups, std::string* record, bool* changed,
                          std::string* damaged = nullptr);

// A merge of an anonymous user `from` into `into`: each group type `into` does not have
// comes from `from` (the identified user's own memberships win), in `from`'s order while
// `into` has fewer than kMaxUserGroupTypes types (a merge never fails for the limit: the
// types past it are dropped). A damaged record never fails the merge (the identify that
// merges would otherwise be refused at every retry): a `from` that does not decode counts as
// no memberships, an `into` that does not decode is kept byte for byte and nothing is merged
// into it. Either is said in *damaged (empty when both decoded) for the caller to log.
void MergeGroupMembership(std::string_view from, std::string* into, bool* changed,
                          std::string* damaged);

}  // namespace profiled::ingest
