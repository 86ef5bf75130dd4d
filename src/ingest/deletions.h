// Privacy deletions: Amplitude's User Privacy API v1 (/api/2/deletions/users) as jobs the
// ingest writer runs (docs/API.md, "Privacy deletion"; docs/STORAGE.md, "Deletion jobs").
//
// A job holds the users (by amplitude_id; user_ids are resolved when requested) of the requests
// that joined it while it was staging (at most 200 ids each, src/api/privacy_wire.h; at most
// 1,000 users a job, then a request starts the next job) and goes
// staging -> submitted -> done. It stays in staging until its run time (its first request plus
// [privacy] staging_minutes), while requests may join it and ids may be taken out. Then the
// writer (Ingestor) runs it in steps, each one commit that also stores the job's progress, so a
// job cut by a crash resumes where it was at the next start:
//   1. records: the users' records (profile, aggregates, static cohort memberships and their
//      member index entries, merged ids, group memberships: every store::UserRecord), their
//      user_id and last device mappings and the merge
//      records of the anonymous ids merged into them; status submitted. From this commit on the
//      users are gone: an event with their ids starts a fresh user (ingest/identity.h);
//   2. log: the event log of the project in chunks, deleting every event of the users (and of
//      the ids merged into them), the de-duplication entries of those events and the mappings
//      of every device and user_id the events name that still point at the users;
//   3. identity (a store that is not shared, where the identity table can be scanned): every
//      mapping of the project, in chunks, deleting those that still point at the users (the
//      devices no retained event names);
//   4. done.
// Plain values and pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "store/store.h"

namespace profiled::ingest {

// At most this many ids of each kind in one request, as Amplitude's.
inline constexpr size_t kMaxDeletionIds = 100;

enum class DeletionStatus : uint8_t { kStaging = 0, kSubmitted = 1, kDone = 2 };
// The steps of a submitted job after the first: the event log, then (on a store that can scan
// its identity table: RocksDB) every identity mapping of the project.
enum class DeletionPhase : uint8_t { kLog = 0, kIdentity = 1 };
const char* DeletionStatusName(DeletionStatus status);

struct DeletionEntry {
  uint64_t amplitude_id = 0;
  std::string requester;
  std::string requested_on_day;  // YYYY-MM-DD, UTC
};

struct DeletionJob {
  uint64_t id = 0;  // its key (store::DeletionJobKey): the creation time in ms << 16 | random
  int64_t created_ms = 0;
  int64_t run_at_ms = 0;  // staging ends
  DeletionStatus status = DeletionStatus::kStaging;
  std::vector<DeletionEntry> entries;
  // Set when the job starts (submitted): the entries' ids and the ids merged into them, whose
  // logged events the log step deletes.
  std::vector<uint64_t> targets;
  // While submitted: the step under way, and the last key it went through (empty = none yet).
  DeletionPhase phase = DeletionPhase::kLog;
  std::string cursor;
  uint64_t events_deleted = 0;
  int64_t done_ms = 0;
};

std::string EncodeDeletionJob(const DeletionJob& job);
// Corruption on bytes that are not a version-1 job.
Status DecodeDeletionJob(std::string_view bytes, DeletionJob* job);

// The UTC day of a time, YYYY-MM-DD.
std::string DayOf(int64_t time_ms);
// The days since 1970-01-01 of a YYYY-MM-DD date; false when it is not a valid date.
bool ParseDay(std::string_view day, int64_t* days);

// Every deletion job of `project`, oldest first. Errors: the store's; Corruption for a job that
// does not decode.
Status ListDeletionJobs(store::Store& store, std::string_view project,
                        std::vector<DeletionJob>* jobs);

struct DeletionRequest {
  std::string project;
  std::vector<uint64_t> amplitude_ids;
  std::vector<std::string> user_ids;
  std::string requester;
  // Without it an id that names no user refuses the whole request (nothing is staged).
  bool ignore_invalid_ids = false;
};

struct DeletionResult {
  // OK; InvalidArgument (nothing changed): unknown ids without ignore_invalid_ids (the
  // message names a few), or, to take an id out, the job of that day holding it has started;
  // NotFound: no job of that day holds the id; the store's.
  Status status;
  DeletionJob job;  // the job the request landed in, or the one an id was taken out of
};

}  // namespace profiled::ingest
