// WorkingSet: the ingest writer's view of the store while it applies one commit group.
//
// Reads go through to the Store unless the group already changed the key; every change
// is buffered (profiles stay parsed) until Flush turns them into one WriteSet. After the
// Store commit, Finish(true) keeps the allocated counters; Finish(false) forgets
// everything so the next group re-reads the store.
//
// Committed state is also kept across groups, up to about `cache_bytes`: the user states
// (profiles stay parsed) and identity mappings the last groups read or wrote, as the store
// holds them after their commit. The writer is the only one to write these records, so a
// kept copy stays exact; a group that reads a user or id from it reads nothing from the
// store. Finish(false), after a failed commit, forgets it all. When it grows past the
// budget, arbitrary entries go (they are read from the store again when needed).
//
// Per-user state is one unit (UserState): the first touch of a user in a group reads all
// of the user's records (store::UserRecord) with one Store::MultiGet, and Flush writes back
// every record of every user the group touched (a record that became empty is deleted;
// a deleted user loses all of them).
//
// Batches: BeginBatch marks a point that RollbackBatch returns to, undoing every change
// made since (identity, user states, dedup, logged events, counters) at a cost
// proportional to what the batch changed, so one refused batch costs the rest of the group
// nothing. Property values are restored key by key: before an edit of a profile's
// properties the caller names the keys it may change (SaveForUndo; for a group's,
// WillEditGroup); everything else of a user state (the rest of the profile, the raw records)
// is kept whole at its first access in the batch.
// Owned and used by the single writer thread only; not thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

#include "compute/aggregate.h"
#include "ingest/event.h"
#include "store/records.h"
#include "store/store.h"

namespace profiled::ingest {

struct Profile {
  std::string user_id;
  std::string device_id;
  boost::json::object builtins;
  boost::json::object properties;
  // At least the size of the JSON text of `properties`: exact when loaded, raised by
  // every change by at most what it can add (GrowthBound in ingest/property_ops.h).
  size_t properties_size_bound = 2;
  // Set by WorkingSet: the user's key prefix (store::UserKeyPrefix), for undo records.
  std::string user_key;
};

// Everything stored for one user (one amplitude_id): the records of store::UserRecord,
// loaded and flushed as a unit. A user exists while it has a profile record.
struct UserState {
  Profile profile;
  // The aggregate state (tag 'a'): the encoded record (empty = none). Events change it in
  // place (compute::AggregatesEditor decodes only the states an event touches) and set
  // aggregates_changed, so it is kept encoded across groups and charged to the cache at its
  // encoded size. A merge decodes it into `decoded_aggregates` (MutableAggregates), which
  // then holds the state until Flush encodes it back.
  std::string aggregates;
  std::optional<compute::UserAggregates> decoded_aggregates;
  bool aggregates_changed = false;
  // The static cohort memberships (tag 's', store::EncodeStaticCohorts); Flush writes them
  // when static_cohorts_changed.
  std::string static_cohorts;
  bool static_cohorts_changed = false;
  // The anonymous ids merged into this user (tag 'm', store::EncodeIdList), so a privacy
  // deletion finds their logged events; Flush writes them when merged_ids_changed.
  std::string merged_ids;
  bool merged_ids_changed = false;
  // The user's groups (tag 'g'): JSON object text {group_type: [group_name, ...]}, empty =
  // none (ingest/group_membership.h edits it); Flush writes it when groups_changed.
  std::string groups;
  bool groups_changed = false;
};

// A group's properties (store::GroupKey, a GroupRecord), as the writer edits them. A group
// exists while it has a property: one whose properties become empty is deleted.
struct GroupState {
  boost::json::object properties;
  // At least the size of the JSON text of `properties`, like Profile's.
  size_t properties_size_bound = 2;
  // Set by WorkingSet: the group's key (store::GroupKey), for undo records.
  std::string key;
};

class WorkingSet {
 public:
  static constexpr size_t kDefaultCacheBytes = 256ull << 20;
  static constexpr size_t kMaxKeptGroups = 1024;

  // `cache_bytes`: roughly how much memory committed user states and identity mappings kept
  // across groups may take; 0 keeps none (every group reads the store).
  // On a shared store (store.Shared(): other nodes write it too) nothing is kept across
  // groups, whatever `cache_bytes` says, and amplitude_ids and event sequence numbers come
  // from blocks this node reserves (Store::ReserveIds): unique, but neither dense nor in
  // order across nodes.
  explicit WorkingSet(store::Store& store, size_t cache_bytes = kDefaultCacheBytes)
      : store_(store), shared_(store.Shared()), cache_limit_(shared_ ? 0 : cache_bytes) {}

  // *amplitude_id is empty when the id was never seen. Errors: the store's.
  Status GetUser(std::string_view project, std::string_view user_id,
                 std::optional<uint64_t>* amplitude_id);
  Status GetDevice(std::string_view project, std::string_view device_id,
                   std::optional<uint64_t>* amplitude_id);
  void PutUser(std::string_view project, std::string_view user_id, uint64_t amplitude_id);
  void PutDevice(std::string_view project, std::string_view device_id, uint64_t amplitude_id);
  void PutMerge(std::string_view project, uint64_t from, uint64_t into);
  // Deletes the identity mapping at `key` (store::UserKey, DeviceKey or MergeKey): it reads
  // as never seen from here on.
  void DeleteId(const std::string& key);
  // The identity mapping at `key` as GetUser and GetDevice read it.
  Status GetIdAt(const std::string& key, std::optional<uint64_t>* amplitude_id) {
    return GetId(key, amplitude_id);
  }

  // Returns the user's state for editing, or nullptr in *user when the user has no profile
  // record. The first call for a user in a group reads all of its records with one
  // MultiGet. The pointer stays valid until Finish, or until RollbackBatch when the current
  // batch first touched the user. Every user returned is written back by Flush. Errors: the
  // store's; Corruption when the stored profile does not decode.
  Status GetUserState(std::string_view project, uint64_t amplitude_id, UserState** user);
  // A new, empty user state replacing whatever the user had. Records the group read for
  // the user are deleted by Flush unless set again; for an id the group never read (a new
  // id, which has no records) nothing is deleted, so creating a user costs no read.
  UserState* CreateUserState(std::string_view project, uint64_t amplitude_id);
  // Deletes every record of the user.
  void DeleteUserState(std::string_view project, uint64_t amplitude_id);
  // GetUserState's profile (nullptr in *profile when there is no user).
  Status GetProfile(std::string_view project, uint64_t amplitude_id, Profile** profile);

  // Returns the properties of the group (group_type, group_name) of `project` (empty for a
  // group never seen), read from the store at the group's first touch in this commit group (a
  // shared store locks it until Finish) unless PrefetchGroups read it, or kept as committed
  // from an earlier commit group (a store that is not shared: up to kMaxKeptGroups groups and
  // a quarter of the cache budget, counted in it from their parsed properties; past either,
  // the groups a commit group did not touch go first). The pointer
  // stays valid until Finish, or until RollbackBatch when the current batch first touched the
  // group. A stored record that does not decode is InvalidArgument (the event that would change
  // it is refused, not its whole batch retried forever) unless `overwrite_damaged` (a $clearAll
  // alone): the group then starts empty, and Flush replaces or deletes the record. Errors: the
  // store's.
  Status GetGroup(std::string_view project, std::string_view group_type,
                  std::string_view group_name, bool overwrite_damaged, GroupState** group);
  // Before `ops` are applied to *group (one GetGroup returned): records the values of the
  // properties they may change, so RollbackBatch can restore them (every property for a
  // $clearAll), and marks the group for Flush to write. Only the groups edited so are written.
  void WillEditGroup(GroupState* group, const std::vector<PropertyOp>& ops);

  // Reads ahead what applying a group to `project` will read first: the identity keys of
  // `user_ids` and `device_ids`, the de-dup entries of `insert_ids` ((scope, insert_id) pairs),
  // then every record of the users those ids map to: one Store::MultiGet per table instead of
  // one read per event, for a shared store, where each read is a network round trip (and
  // takes its locks). What it read is kept like committed state until Finish. Errors: the
  // store's; Corruption when a stored profile does not decode.
  Status Prefetch(std::string_view project, const std::vector<std::string_view>& user_ids,
                  const std::vector<std::string_view>& device_ids,
                  const std::vector<std::pair<std::string_view, std::string_view>>& insert_ids);
  // Reads ahead the groups at `keys` (store::GroupKey; any order, repeats allowed) with one
  // Store::MultiGet in key order, for GetGroup. On a shared store this takes every group's lock
  // at once, and in one order on every node, rather than one at a time in the order events
  // reach them: two nodes whose groups touch the same groups in opposite orders then queue
  // instead of each holding one and waiting for the other. A group already read is not read
  // again; one whose record does not decode is left for GetGroup to report. Errors: the
  // store's.
  Status PrefetchGroups(std::vector<std::string> keys);

  // Hands out the project's next amplitude_id (1, 2, ...).
  Status AllocateAmplitudeId(std::string_view project, uint64_t* amplitude_id);

  // Whether (scope, insert_id) was accepted at or after `not_before_ms`, here or in an
  // earlier commit; Remember records it as accepted at `now_ms`.
  Status SeenInsertId(std::string_view project, std::string_view scope, std::string_view insert_id,
                      int64_t not_before_ms, bool* seen);
  void RememberInsertId(std::string_view project, std::string_view scope,
                        std::string_view insert_id, int64_t now_ms);

  // The sequence number the next logged event will get. Errors: the store's.
  Status NextEventSeq(uint64_t* seq);

  // The amplitude_id an id logged earlier belongs to now: `id` itself, or the user it was
  // merged into (following merge records). Errors: the store's.
  Status ResolveMerged(std::string_view project, uint64_t id, uint64_t* current);

  // A write outside the per-user records (the static cohort member index), buffered and
  // undone with the batch like every other change.
  void PutRaw(store::Table table, std::string key, std::string value);
  void DeleteRaw(store::Table table, std::string key);

  // Errors: the store's, reading the persisted sequence number.
  Status AppendEvent(std::string_view project, int64_t ingest_ms,
                     const store::EventRecordView& event);

  // Starts a batch: RollbackBatch undoes what changes from here on.
  void BeginBatch();
  // Undoes every change since BeginBatch. REQUIRES: BeginBatch was called in this group.
  void RollbackBatch();
  // Records the current values of the properties of *profile (a profile returned by this
  // WorkingSet) that `ops` may change, so RollbackBatch can restore them; call it before
  // applying them. With a $clearAll among them it records every property.
  void SaveForUndo(Profile* profile, const std::vector<PropertyOp>& ops);
  // The same for one property `name`.
  void SaveForUndo(Profile* profile, std::string_view name);

  // Declares that this group changes no profile (a backfill chunk, a static cohort change):
  // Flush then writes only the users' other records. Until Finish.
  void KeepProfiles() { keep_profiles_ = true; }

  // Moves every buffered change into *writes.
  void Flush(store::WriteSet* writes);
  // Ends the group (and the store's transaction: Store::EndTransaction). Finish(false) also
  // forgets a commit in flight (FinishInFlight): the next group reads the store.
  void Finish(bool committed);

  // Commits in flight (ingest/commit_pipeline.h): after Flush, whether the group's writes may
  // be committed while the next group is applied. Only on a store that is not shared, with
  // a cache, and for a group that changed no group properties and made no raw writes (what
  // later groups would read back from the store). FinishInFlight then ends the group as
  // Finish(true) does, its writes not yet in the store: until Landed, the next group reads
  // what the commit will write from here, never from the store (its users and identity
  // mappings stay kept whatever the budget, a batch that touches such a user keeps a copy
  // to roll back to, its insert_ids count as seen). If that commit fails, call Finish(false)
  // once the next group is done with: both are forgotten and the store read again.
  // REQUIRES for FinishInFlight: CanPipeline(), and Landed or Finish(false) since the last.
  bool CanPipeline() const { return pipelinable_ && !shared_ && cache_limit_ > 0; }
  void FinishInFlight();
  // The commit of the group ended by FinishInFlight succeeded: the store holds its writes.
  void Landed();

 private:
  struct CachedUser {
    std::optional<UserState> user;  // empty = deleted / absent
    bool touched = false;
    // Which records the store holds (bits of RecordBit), so Flush deletes the ones that
    // became empty. Fixed for the group until Flush, which sets what the commit will leave.
    uint8_t stored = 0;
    size_t cache_bytes = 0;  // the estimate charged while in user_cache_
    uint64_t kept_by = 0;    // the group (generation_) that last kept it
  };
  // Undo records of the current batch, applied in reverse by RollbackBatch.
  struct UndoId {  // ids_ and id_writes_ of one key before the batch changed them
    std::string key;
    std::optional<std::optional<uint64_t>> cached;   // absent = not in ids_
    std::optional<std::optional<uint64_t>> written;  // absent = not in id_writes_
  };
  struct UndoUser {  // a user state as it was at its first access in the batch
    std::string key;
    std::optional<CachedUser> before;  // absent = not cached: erase it
    bool properties_too = true;        // false: properties are restored by UndoProperty records
  };
  struct UndoProperty {
    std::string key;                           // the user's, or the group's when `group`
    std::string name;                          // the property's
    std::optional<boost::json::value> before;  // absent = the property did not exist
    bool group = false;
  };
  struct UndoAllProperties {
    std::string key;  // the user's, or the group's when `group`
    boost::json::object before;
    bool group = false;
  };
  struct CachedGroup {
    GroupState state;
    bool stored = false;     // the store holds a record for it
    bool changed = false;    // edited in this commit group (WillEditGroup): Flush writes it
    bool touched = false;    // read or handed out in this commit group (kept first by Finish)
    size_t cache_bytes = 0;  // its share of cache_bytes_ while kept across commit groups
  };
  // A group as it was at its first access in the batch, but its properties (kept per key by
  // UndoProperty records, as a user's: a group may hold 1 MiB, a batch changes a few keys).
  struct UndoGroup {
    std::string key;
    bool fresh = false;  // read by this batch: rolling back forgets it
    size_t properties_size_bound = 0;
    bool changed = false;
  };
  using Undo = std::variant<UndoId, UndoUser, UndoProperty, UndoAllProperties, UndoGroup>;

  Status GetId(const std::string& key, std::optional<uint64_t>* id);
  // Moves the committed state of the user at `key` from user_cache_ into users_, if kept.
  // Returns users_.end() when it was not.
  std::unordered_map<std::string, CachedUser>::iterator AdoptCached(const std::string& key);
  std::unordered_map<std::string, CachedUser>::iterator AdoptCached(
      std::unordered_map<std::string, CachedUser>::iterator kept);
  // Before a batch replaces or deletes the user at `key`: one kept by the commit in flight
  // moves into users_, so that SaveUser keeps it (a rollback cannot re-read it from the store).
  // GetUserState does the same in its own lookups.
  void AdoptInFlight(const std::string& key);
  // Whether the commit in flight wrote this kept user (the store does not hold it yet).
  bool KeptInFlight(const CachedUser& c) const {
    return in_flight_ != 0 && c.kept_by == in_flight_;
  }
  void Finish(bool committed, bool in_flight);
  // After a commit: keeps this group's users and ids as committed state, within the budget.
  void KeepCommitted();
  void ForgetCommitted();
  // Finish(true): keeps the groups as committed within kMaxKeptGroups and a quarter of the
  // cache budget (their bytes counted in cache_bytes_), dropping those this commit group did
  // not touch first.
  void KeepGroups();
  void SaveId(const std::string& key);
  // Loads every record of the user at `key` (its UserKeyPrefix) into *cached.
  Status LoadUser(const std::string& key, CachedUser* cached);
  // *cached from the user's records as MultiGet read them (values[i], statuses[i] for each
  // record of kLoadedRecords); moves from values.
  Status DecodeUser(const std::string& key, std::string* values, const Status* statuses,
                    CachedUser* cached);
  // Before the batch first changes the user at `key`: records how it was. Users the batch
  // loaded or created are simply dropped on rollback; others keep their properties in
  // place (see SaveForUndo) unless `whole` (the batch replaces or deletes the user).
  void SaveUser(const std::string& key, bool whole);
  // Whether changes to *profile need undo records (its user is not new in this batch).
  bool NeedsUndo(const Profile* profile) const {
    return in_batch_ && batch_fresh_.count(profile->user_key) == 0;
  }
  void SaveProperty(Profile* profile, std::string_view name);
  void SaveGroupProperty(GroupState* group, std::string_view name);

  // On a shared store: the next value of a block reserved with ReserveIds and its end.
  struct IdBlock {
    uint64_t next = 0;
    uint64_t end = 0;
  };
  // The next value of the counter `key` from its block, reserving `block` more when empty.
  Status TakeFromBlock(const std::string& key, uint64_t block, IdBlock* ids, bool take,
                       uint64_t* value);

  store::Store& store_;
  const bool shared_;
  std::unordered_map<std::string, IdBlock> id_blocks_;  // shared: by NextAmplitudeIdKey
  IdBlock seq_block_;                                   // shared: event sequence numbers
  // De-dup entries read ahead (Prefetch) until Finish: key -> first_seen_ms, absent = none.
  std::unordered_map<std::string, std::optional<int64_t>> dedup_read_;
  std::unordered_map<std::string, std::optional<uint64_t>> ids_;  // identity keys read or written
  // Identity writes of the group: an id, or empty for a delete (DeleteId).
  std::unordered_map<std::string, std::optional<uint64_t>> id_writes_;
  std::unordered_map<std::string, CachedUser> users_;  // by UserKeyPrefix
  // By GroupKey: this commit group's, and those kept as committed (see GetGroup).
  std::unordered_map<std::string, CachedGroup> groups_;
  // Group keys recorded this batch, and whether the batch read them (UndoGroup::fresh).
  std::unordered_map<std::string, bool> batch_groups_;
  std::unordered_set<std::string> batch_group_properties_;  // key + '\0' + name recorded
  std::unordered_set<std::string> dedup_;                   // keys remembered in this group
  std::vector<std::pair<std::string, std::string>> dedup_writes_;
  std::vector<std::pair<std::string, std::string>> event_writes_;
  std::vector<store::WriteSet::Op> raw_writes_;  // PutRaw / DeleteRaw, in order
  bool keep_profiles_ = false;
  size_t batch_raw_writes_ = 0;
  // Counters survive across groups once committed; pending_ holds this group's.
  std::unordered_map<std::string, uint64_t> next_ids_;
  std::unordered_map<std::string, uint64_t> pending_next_ids_;
  std::optional<uint64_t> next_seq_;
  std::optional<uint64_t> pending_next_seq_;

  // Committed state kept across groups (see the top): users by UserKeyPrefix (moved into
  // users_ while a group uses them), identity keys; the estimated bytes of both.
  std::unordered_map<std::string, CachedUser> user_cache_;
  std::unordered_map<std::string, std::optional<uint64_t>> id_cache_;
  size_t cache_limit_;
  size_t cache_bytes_ = 0;  // kept users, identity mappings and groups
  // The commit in flight (FinishInFlight): its group's number (0: none), its insert_ids and
  // the identity keys it writes. generation_ numbers the groups kept.
  uint64_t generation_ = 0;
  uint64_t in_flight_ = 0;
  std::unordered_set<std::string> in_flight_dedup_;
  std::unordered_set<std::string> in_flight_ids_;
  bool pipelinable_ = false;     // set by Flush
  size_t kept_group_bytes_ = 0;  // the groups' part of cache_bytes_
  bool flushed_ = false;         // Flush ran since the last Finish

  // The current batch's undo log (see BeginBatch).
  bool in_batch_ = false;
  std::vector<Undo> undo_;
  std::unordered_set<std::string> batch_users_;       // user keys recorded this batch
  std::unordered_set<std::string> batch_fresh_;       // of those, not cached before it
  std::unordered_set<std::string> batch_properties_;  // key + '\0' + name recorded
  size_t batch_dedup_writes_ = 0;
  size_t batch_event_writes_ = 0;
  std::unordered_map<std::string, uint64_t> batch_next_ids_;
  std::optional<uint64_t> batch_next_seq_;
};

}  // namespace profiled::ingest
