// WorkingSet: the ingest writer's view of the store while it applies one commit group.
//
// Reads go through to the Store unless the group already changed the key; every change
// is buffered (profiles stay parsed) until Flush turns them into one WriteSet. After the
// Store commit, Finish(true) keeps the allocated counters; Finish(false) forgets
// everything so the next group re-reads the store. Owned and used by the single writer
// thread only; not thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

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

  // Moves every buffered change into *writes.
  void Flush(store::WriteSet* writes);
  void Finish(bool committed);

 private:
  struct CachedProfile {
    std::optional<Profile> profile;  // empty = deleted / absent
    bool touched = false;
  };
  Status GetId(const std::string& key, std::optional<uint64_t>* id);

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
};

}  // namespace profiled::ingest
