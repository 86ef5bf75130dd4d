// WorkingSet: the ingest writer's view of the store while it applies one commit group.
//
// Reads go through to the Store unless the group already changed the key; every change
// is buffered (profiles stay parsed) until Flush turns them into one WriteSet. After the
// Store commit, Finish(true) keeps the allocated counters; Finish(false) forgets
// everything so the next group re-reads the store.
//
// Batches: BeginBatch marks a point that RollbackBatch returns to, undoing every change
// made since (identity, profiles, dedup, logged events, counters) at a cost proportional
// to what the batch changed, so one refused batch costs the rest of the group nothing.
// Property values are restored key by key: before an edit of a profile's properties the
// caller names the keys it may change (SaveForUndo); everything else is tracked here.
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
  std::string store_key;  // set by WorkingSet: the profile's key, for undo records
};

class WorkingSet {
 public:
  explicit WorkingSet(store::Store& store) : store_(store) {}

  // *amplitude_id is empty when the id was never seen. Errors: the store's.
  Status GetUser(std::string_view project, std::string_view user_id,
                 std::optional<uint64_t>* amplitude_id);
  Status GetDevice(std::string_view project, std::string_view device_id,
                   std::optional<uint64_t>* amplitude_id);
  void PutUser(std::string_view project, std::string_view user_id, uint64_t amplitude_id);
  void PutDevice(std::string_view project, std::string_view device_id, uint64_t amplitude_id);
  void PutMerge(std::string_view project, uint64_t from, uint64_t into);

  // Returns the profile for editing, or nullptr in *profile when there is none. The
  // pointer stays valid until Finish. Any profile returned is written back by Flush.
  Status GetProfile(std::string_view project, uint64_t amplitude_id, Profile** profile);
  Profile* CreateProfile(std::string_view project, uint64_t amplitude_id);
  void DeleteProfile(std::string_view project, uint64_t amplitude_id);

  // Hands out the project's next amplitude_id (1, 2, ...).
  Status AllocateAmplitudeId(std::string_view project, uint64_t* amplitude_id);

  // Whether (scope, insert_id) was accepted at or after `not_before_ms`, here or in an
  // earlier commit; Remember records it as accepted at `now_ms`.
  Status SeenInsertId(std::string_view project, std::string_view scope, std::string_view insert_id,
                      int64_t not_before_ms, bool* seen);
  void RememberInsertId(std::string_view project, std::string_view scope,
                        std::string_view insert_id, int64_t now_ms);

  // Errors: the store's, reading the persisted sequence number.
  Status AppendEvent(std::string_view project, int64_t ingest_ms, const store::EventRecord& event);

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

  // Moves every buffered change into *writes.
  void Flush(store::WriteSet* writes);
  void Finish(bool committed);

 private:
  struct CachedProfile {
    std::optional<Profile> profile;  // empty = deleted / absent
    bool touched = false;
  };
  // Undo records of the current batch, applied in reverse by RollbackBatch.
  struct UndoId {  // ids_ and id_writes_ of one key before the batch changed them
    std::string key;
    std::optional<std::optional<uint64_t>> cached;  // absent = not in ids_
    std::optional<uint64_t> written;                // absent = not in id_writes_
  };
  struct UndoProfile {  // a profile as it was at its first access in the batch
    std::string key;
    std::optional<CachedProfile> before;  // absent = not cached: erase it
    bool properties_too = true;           // false: properties are restored by UndoProperty records
  };
  struct UndoProperty {
    std::string key;                           // the profile's
    std::string name;                          // the property's
    std::optional<boost::json::value> before;  // absent = the property did not exist
  };
  struct UndoAllProperties {
    std::string key;
    boost::json::object before;
  };
  using Undo = std::variant<UndoId, UndoProfile, UndoProperty, UndoAllProperties>;

  Status GetId(const std::string& key, std::optional<uint64_t>* id);
  void SaveId(const std::string& key);
  // Before the batch first changes the profile at `key`: records how it was. Profiles the
  // batch loaded or created are simply dropped on rollback; others keep their properties
  // in place (see SaveForUndo) unless `whole` (the batch replaces or deletes it).
  void SaveProfile(const std::string& key, bool whole);
  // Whether changes to *profile need undo records (it is not new in this batch).
  bool NeedsUndo(const Profile* profile) const {
    return in_batch_ && batch_fresh_.count(profile->store_key) == 0;
  }
  void SaveProperty(Profile* profile, std::string_view name);

  store::Store& store_;
  std::unordered_map<std::string, std::optional<uint64_t>> ids_;  // identity keys read or written
  std::unordered_map<std::string, uint64_t> id_writes_;
  std::unordered_map<std::string, CachedProfile> profiles_;
  std::unordered_set<std::string> dedup_;  // keys remembered in this group
  std::vector<std::pair<std::string, std::string>> dedup_writes_;
  std::vector<std::pair<std::string, std::string>> event_writes_;
  // Counters survive across groups once committed; pending_ holds this group's.
  std::unordered_map<std::string, uint64_t> next_ids_;
  std::unordered_map<std::string, uint64_t> pending_next_ids_;
  std::optional<uint64_t> next_seq_;
  std::optional<uint64_t> pending_next_seq_;

  // The current batch's undo log (see BeginBatch).
  bool in_batch_ = false;
  std::vector<Undo> undo_;
  std::unordered_set<std::string> batch_profiles_;    // profile keys recorded this batch
  std::unordered_set<std::string> batch_fresh_;       // of those, not cached before it
  std::unordered_set<std::string> batch_properties_;  // key + '\0' + name recorded
  size_t batch_dedup_writes_ = 0;
  size_t batch_event_writes_ = 0;
  std::unordered_map<std::string, uint64_t> batch_next_ids_;
  std::optional<uint64_t> batch_next_seq_;
};

}  // namespace profiled::ingest
