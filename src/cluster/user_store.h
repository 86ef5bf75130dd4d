// UserStore: users' records, de-dup entries and event streams on Redis Cluster, with the
// commit point per user (docs/SCALING.md, "The store on Redis Cluster").
//
// A user is one Redis hash (cluster/keys.h): its records, opaque bytes under one-byte tags, and
// a version that every commit bumps. A commit is one Lua script in the user's partition slot
// that applies only if the version is the one the caller read and none of the commit's
// insert_ids was applied before: optimistic concurrency per user, so two writers of one user
// serialise on the version (no lost update) and a re-sent batch applies nothing twice. What
// the records mean is the caller's business.
//
// Ownership: borrows a ClusterClient, which must outlive the store. Thread-safety: immutable
// after Open; every method may be called from any thread concurrently (the client is
// thread-safe).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/keys.h"
#include "core/status.h"
#include "redis/cluster_client.h"

namespace profiled::cluster {

// A user as stored. version 0: never written. A deleted user keeps its version and has no
// records, so a version is never reused and a view read before the delete never matches again.
struct StoredUser {
  uint64_t version = 0;
  std::map<char, std::string> records;  // tag -> bytes
};

// One insert_id a commit applies, in its scope (store::DedupKey's scope: 'd' + device_id or
// 'u' + user_id).
struct ScopedInsertId {
  std::string scope;
  std::string insert_id;
};

// One event appended to the user's partition stream. ingest_ms >= 0.
struct StreamEvent {
  int64_t ingest_ms = 0;
  std::string bytes;
};

// The longest de-dup window: 366 days. Bounded so that SET's PX never refuses it (Redis adds it
// to the time now) once the script has started writing.
inline constexpr int64_t kMaxDedupWindowMs = int64_t{366} * 24 * 3600 * 1000;

// Everything one user's commit changes, applied all-or-nothing.
struct UserCommit {
  std::string project;
  uint64_t amplitude_id = 0;
  uint64_t expected_version = 0;     // the version read; the commit applies only if it is current
  bool delete_user = false;          // remove every record first
  std::vector<char> delete_records;  // then these records
  std::map<char, std::string> set_records;  // then these, tag -> bytes
  std::vector<ScopedInsertId> insert_ids;   // refused if any was applied; then remembered
  // How long the insert_ids are remembered: in (0, kMaxDedupWindowMs] when insert_ids is not
  // empty.
  int64_t dedup_window_ms = 0;
  std::vector<StreamEvent> events;  // appended to the partition's stream, in order
};

// What a commit did. When Commit was asked to WAIT, the two "applied before or now" outcomes
// come in two kinds, replicated or not, so that a caller cannot acknowledge a write that is on
// the primary only; a switch over this enum names every case.
enum class CommitStatus : uint8_t {
  // Applied; on wait_replicas replicas when that was asked.
  kCommitted,
  // The stored version is not expected_version; nothing changed. Says nothing about
  // replication (it writes nothing, so WAIT covers nothing of it): the caller re-reads and
  // commits again, and that commit's WAIT covers every earlier write of the primary, the one
  // that made this view stale included (a primary's replication stream is ordered).
  kConflict,
  // insert_ids[duplicate] was applied before; nothing changed; and when WAIT was asked, the
  // primary's writes up to now, that earlier commit included, are on wait_replicas replicas.
  kDuplicate,
  // Applied on the primary, but WAIT counted fewer than wait_replicas replicas.
  kNotReplicated,
  // As kDuplicate, but WAIT counted fewer than wait_replicas replicas: the earlier commit may be
  // on the primary only (e.g. this is the retry of a commit reported kNotReplicated or IoError).
  // Answer as for kNotReplicated; a later retry is again refused as a duplicate.
  kDuplicateNotReplicated,
};

struct CommitOutcome {
  CommitStatus status = CommitStatus::kCommitted;
  // kCommitted, kNotReplicated: the new version. kConflict: the stored version.
  // kDuplicate, kDuplicateNotReplicated: expected_version.
  uint64_t version = 0;
  // kDuplicate, kDuplicateNotReplicated: the index in insert_ids of the one applied before.
  size_t duplicate = 0;
};

// An event read back from a stream: its stream id (ms, seq) and bytes. The ms is the ingest
// time, or the stream's last ms when the ingest time was older (the clock went back).
struct StoredEvent {
  int64_t ms = 0;
  uint64_t seq = 0;
  std::string bytes;
};

// A position in a stream: the id (ms, seq) of an event, or one between events.
struct EventPosition {
  int64_t ms = 0;
  uint64_t seq = 0;
};

struct UserStoreOptions {
  uint32_t partitions = kPartitions;  // fixed for the life of a store's data
};

class UserStore {
 public:
  // Loads the commit script on one primary (it learns the script's SHA1 that way; the others
  // load it on first use). The errors of the client's RunOnNode; InvalidArgument when
  // options.partitions is 0.
  static Result<std::unique_ptr<UserStore>> Open(redis::ClusterClient& client,
                                                 UserStoreOptions options = {});

  uint32_t partitions() const { return options_.partitions; }

  // The users `amplitude_ids` of `project`, one HGETALL each, in one pipelined batch. One result
  // per id, in order: the user (version 0 and no records when never written), or the client's
  // error for that id (Unavailable, IoError), or Corruption when the hash holds a field that is
  // neither a one-byte tag nor a decimal version.
  std::vector<Result<StoredUser>> Read(std::string_view project,
                                       const std::vector<uint64_t>& amplitude_ids) const;

  // Applies each commit atomically in its user's partition slot: commits for different users
  // are pipelined per node; each is one script. When wait_replicas > 0, each node's pipeline
  // ends with WAIT wait_replicas wait_timeout_ms on the same connection, and the commits it
  // carried report kNotReplicated (kDuplicateNotReplicated for a duplicate) when fewer
  // replicas acknowledged or WAIT got no answer. One result per commit, in
  // order: the outcome, or InvalidArgument (a negative ingest_ms, insert_ids without a window
  // in (0, kMaxDedupWindowMs]; for every commit when wait_replicas > 0 and wait_timeout_ms <= 0;
  // nothing sent), Unavailable (not applied: the slot's primary could not be reached), IoError
  // (sent, outcome unknown: the connection failed; a retry from a fresh Read is safe when the
  // commit has insert_ids, which are then refused as duplicates if it applied; the same commit sent
  // again is refused as a conflict if it applied), Internal (an unexpected reply, or the script
  // refused its arguments or found a key of the wrong type: nothing written).
  // All-or-nothing rests on the script checking everything that can refuse the commit before
  // its first write: Redis does not roll a script back when it fails midway. What remains is
  // outside the script's control: a node that dies mid-script loses the whole script (Redis
  // replicates and logs a script's writes as one MULTI/EXEC at its end), and a node out of
  // memory refuses a "#!lua" script before it starts (Redis's documented rule for scripts with
  // a shebang and no allow-oom flag).
  // REQUIRES: at most one commit per user in one call (commits of different slots are not
  // ordered, and a second one's expected version would depend on the first's outcome);
  // wait_timeout_ms below the client's command_timeout_ms.
  std::vector<Result<CommitOutcome>> Commit(const std::vector<UserCommit>& commits,
                                            int wait_replicas, int wait_timeout_ms) const;

  // Up to `limit` events of `project`'s stream in `partition` whose id (ms, seq) is after
  // `after`, oldest first. To page through a stream, pass the last event read; from the start,
  // {} (no event has id 0-0); from a time T on, {T - 1, UINT64_MAX}. The client's errors.
  Result<std::vector<StoredEvent>> ReadEvents(std::string_view project, uint32_t partition,
                                              EventPosition after, size_t limit) const;

  // Removes the events of `project`'s stream in `partition` whose ms is < before_ms, and
  // returns how many went. The client's errors.
  Result<int64_t> TrimEvents(std::string_view project, uint32_t partition, int64_t before_ms) const;

 private:
  UserStore(redis::ClusterClient& client, UserStoreOptions options, std::string sha)
      : client_(client), options_(options), sha_(std::move(sha)) {}

  redis::ClusterClient& client_;
  const UserStoreOptions options_;
  const std::string sha_;  // SHA1 of the commit script, for EVALSHA
};

}  // namespace profiled::cluster
