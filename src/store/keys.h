// Key layout of every table (docs/STORAGE.md is the reference).
//
// Every key starts with the project prefix varint(len(project)) + project, so a scan or
// lookup in one project can never land on another's keys, even for a project id that is
// a prefix of another. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace profiled::store {

std::string ProjectPrefix(std::string_view project);

// kIdentity
std::string UserKey(std::string_view project, std::string_view user_id);
std::string DeviceKey(std::string_view project, std::string_view device_id);
std::string MergeKey(std::string_view project, uint64_t merged_amplitude_id);

// kProfiles: every record of one user (one amplitude_id) shares the key prefix
// P || be64(amplitude_id) and ends with a one-byte tag naming the record, so all of a user's
// records are contiguous (UserKeyPrefix) and one more per-user record needs no re-keying.
enum class UserRecord : char {
  kProfile = 'p',        // store::ProfileRecord
  kAggregates = 'a',     // per-user aggregate state: computations, cohorts, item histories
  kStaticCohorts = 's',  // static cohort memberships (part 2)
  kMergedIds = 'm',      // the anonymous ids merged into the user (privacy deletions find them)
  kGroups = 'g',         // the user's group memberships: JSON object text {type: [names]}
};
std::string UserRecordKey(std::string_view project, uint64_t amplitude_id, UserRecord record);
// P || be64(amplitude_id): a prefix of every record key of that user, and below all of them.
// Schema versions 1 and 2 stored the profile untagged, under exactly this key.
std::string UserKeyPrefix(std::string_view project, uint64_t amplitude_id);
// The profile record: UserRecordKey(project, amplitude_id, UserRecord::kProfile).
std::string ProfileKey(std::string_view project, uint64_t amplitude_id);

// The parts of a kProfiles key. `tail` is what follows be64(amplitude_id): one tag byte for
// the current layout, empty for an untagged key of schema versions 1 and 2. Views into the
// key. ParseUserKey returns false when the key is not P || be64(amplitude_id) || tail.
struct UserKeyParts {
  std::string_view project;
  uint64_t amplitude_id = 0;
  std::string_view tail;
};
bool ParseUserKey(std::string_view key, UserKeyParts* parts);

// kDedup: scope is 'd' + device_id, or 'u' + user_id for an event without a device_id
// (the ingest writer builds it; docs/STORAGE.md).
std::string DedupKey(std::string_view project, std::string_view scope, std::string_view insert_id);

// kEvents: ordered by ingest time, then by a sequence number unique per store.
std::string EventKey(std::string_view project, int64_t ingest_ms, uint64_t seq);
// The first key of `project` whose ingest time is >= ingest_ms.
std::string EventKeyLowerBound(std::string_view project, int64_t ingest_ms);

// kMeta
std::string NextAmplitudeIdKey(std::string_view project);
std::string EventSeqKey();
std::string SchemaVersionKey();

// kMeta, definitions (ingest/definitions.h): `kind` is the DefinitionKind character.
std::string DefinitionKey(std::string_view project, char kind, std::string_view id);
std::string DefinitionKeyPrefix(std::string_view project);  // every definition of `project`
std::string SpecKey(std::string_view project, uint64_t spec_id);
std::string SpecKeyPrefix(std::string_view project);  // every spec record of `project`
std::string NextSpecIdKey(std::string_view project);
// kMeta: the version of the project's definitions on a store several nodes share, bumped by
// every change of them (ingest/definitions.h).
std::string DefinitionsVersionKey(std::string_view project);
// kMeta, the member index of static cohorts (ingest/static_cohorts.h): empty values.
std::string StaticMemberKey(std::string_view project, std::string_view cohort_id,
                            uint64_t amplitude_id);
std::string StaticMemberPrefix(std::string_view project, std::string_view cohort_id);

// kMeta, trained recommendation models (ingest/model_store.h). Every key of one
// recommendation's model starts with ModelKeyPrefix.
std::string ModelKeyPrefix(std::string_view project, std::string_view rec_id);
std::string ModelHeadKey(std::string_view project, std::string_view rec_id);
std::string ModelRequestKey(std::string_view project, std::string_view rec_id);
std::string ModelChunkKey(std::string_view project, std::string_view rec_id, uint64_t generation,
                          uint32_t index);
// kMeta: which node trains the project's recommendations on a shared store.
std::string TrainerLeaseKey(std::string_view project);
// kMeta: a privacy deletion job (ingest/deletions.h), and the prefix of every one of `project`.
std::string DeletionJobKey(std::string_view project, uint64_t job_id);
std::string DeletionJobPrefix(std::string_view project);

// kMeta: a group's properties (store::EncodeGroup): P || 'G' || lp(group_type) || lp(group_name),
// and the prefix of every group of `project`.
std::string GroupKey(std::string_view project, std::string_view group_type,
                     std::string_view group_name);
std::string GroupKeyPrefix(std::string_view project);

// The first key after every key that starts with `prefix` (for Scan end bounds).
// REQUIRES: prefix holds a byte other than 0xff.
std::string PrefixEnd(std::string_view prefix);

}  // namespace profiled::store
