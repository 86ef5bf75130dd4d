// ProfileReader: everything the Profile API serves of one user, read from one consistent
// snapshot of the store: the profile, computed values and cohort memberships (and, in part
// 3, recommendations). The wire layer (src/api) only serialises what this returns.
//
// One read is an identity lookup, then one MultiGet of the user's records (profile,
// aggregates, static cohorts, and group memberships when a served cohort has a group property
// condition), which the store answers from one snapshot; group records are read after it,
// when a group property condition is reached or the user's groups are asked for (not in that
// snapshot; a damaged group or membership record reads as empty, never failing a read or a
// scan); computed values
// and memberships are evaluated at the reader's clock, so they are exact at the moment of
// the read. Recommendations are scored from the trained model on the shelf and the user's
// item history as stored at the moment of the read (docs/RECS.md, "Serving"). Thread-safe: borrows
// the store and the catalogs, keeps no mutable state.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "compute/aggregate.h"
#include "compute/catalog.h"
#include "compute/evaluate.h"
#include "core/clock.h"
#include "core/status.h"
#include "recs/model_shelf.h"
#include "recs/serving.h"
#include "store/records.h"
#include "store/store.h"

namespace profiled::read {

// The most items one recommendation serves in a read, whatever `limit` asks.
inline constexpr int kMaxRecommendedItems = 100;

// The recommendations a read serves (get_recs).
struct RecsOptions {
  bool wanted = false;
  std::vector<std::string> ids;  // empty: every served recommendation, in id order
  recs::ServeRequest::Override override = recs::ServeRequest::Override::kNone;
  int limit = 0;  // 0: each recommendation's max_items; at most kMaxRecommendedItems
};

// The sections a read needs beyond the profile.
struct ReadOptions {
  bool computations = false;
  std::vector<uint64_t> computation_ids;  // non-empty: only these
  bool cohorts = false;
  RecsOptions recs;
  // The user's groups and their properties (UserData::groups). Read right after the user's
  // other records, not in their snapshot; only Read serves them (Finish does not: a caller
  // reading on its own asks Read for reads that want them).
  bool groups = false;
};

// One group the user is in, with its properties as stored (JSON object text; "{}" for a group
// that has none).
struct UserGroup {
  std::string type, name;
  std::string properties_json;
};

// One recommendation served to the user: the items, best first, and how they were chosen.
struct ServedRecommendation {
  std::string rec_id, title;
  std::vector<std::string> items;
  bool is_control = false;
  std::string type;  // the model's name ("ease", "itemknn", "popular"), or "random" for control
  int64_t last_updated_ms = 0;  // when the model serving it was trained
};

// One user's data. The views point into `records`; reuse one UserData per thread to keep
// its buffers.
struct UserData {
  uint64_t amplitude_id = 0;
  store::ProfileView profile;
  std::vector<std::pair<uint64_t, compute::Value>> computed;  // when asked for, in id order
  std::vector<std::string> cohort_ids;                        // when asked for
  // When asked for: one per asked-for recommendation that is served and trained, in the
  // order asked (an unknown or untrained id is left out).
  std::vector<ServedRecommendation> recommendations;
  // When asked for (ReadOptions::groups): the user's groups, by type in the stored order and
  // each type's names in the order set.
  std::vector<UserGroup> groups;
  std::vector<std::string> records;  // the raw records read
};

// A read split around its store reads, for a caller that makes them itself without blocking
// (store::AsyncReads): Prepare; when keys is empty, a Get of identity_key and Resolve; then
// MultiGet(kProfiles, keys) and Finish.
struct PreparedRead {
  std::string project;
  std::string identity_key;  // of store::Table::kIdentity: the user_id's, else the device_id's
  std::string cache_key;     // where Resolve records a user_id's amplitude_id
  uint64_t amplitude_id = 0;
  std::vector<std::string> keys;  // of store::Table::kProfiles; empty until the id is known
  std::shared_ptr<const compute::ProjectCatalog> catalog;
  bool evaluate = false;   // computed values or cohorts are asked for and served
  bool recommend = false;  // recommendations are asked for and served
};

class ProfileReader {
 public:
  // A scan's chunk (ScanUsers, with group property conditions: its users' groups are read with
  // one MultiGet) holds at most this many users, this many distinct groups (the parsed
  // properties of each, not their raw records), and about this many bytes of its users' raw
  // records (the user that passes it ends the chunk).
  static constexpr size_t kScanChunkUsers = 256;
  static constexpr size_t kScanChunkGroups = 64;
  static constexpr size_t kScanChunkBytes = 16u << 20;

  // Borrows everything; all must outlive the reader. Without a shelf no read serves
  // recommendations.
  ProfileReader(store::Store& store, const compute::CatalogHolder& catalogs, const Clock& clock,
                const recs::ModelShelf* shelf = nullptr);

  // Reads the user by user_id when given (device_id is then ignored, as user_id takes
  // precedence), else by device_id. NotFound when unknown; Corruption when a record does not
  // decode; the store's errors.
  Status Read(std::string_view project, std::string_view user_id, std::string_view device_id,
              const ReadOptions& options, UserData* out) const;

  // Read of the user with this amplitude_id; an anonymous id merged into a user reads that
  // user (its merge records are followed). NotFound when there is no such user; errors as Read.
  Status ReadById(std::string_view project, uint64_t amplitude_id, const ReadOptions& options,
                  UserData* out) const;

  // Prepares the read Read(project, user_id, device_id, options) would make. When the
  // user's amplitude_id is known without a store read (by user_id on a shared store, once a
  // read has looked it up: the cache below), out->keys are set; otherwise the caller reads
  // out->identity_key first, and Resolve sets them from its value (a NotFound there is Read's
  // NotFound).
  void Prepare(std::string_view project, std::string_view user_id, std::string_view device_id,
               const ReadOptions& options, PreparedRead* out) const;
  // Sets out->keys from the value stored at out->identity_key. Corruption when it does not
  // decode.
  Status Resolve(std::string_view identity_value, PreparedRead* out) const;
  // Ends a read from the store's answer to MultiGet(kProfiles, prepared.keys): the values in
  // out->records, their statuses in `statuses`. Errors as Read's; on NotFound (no profile under the
  // cached amplitude_id) Read, which looks the mapping up again, has the last word: call it.
  Status Finish(const PreparedRead& prepared, const std::vector<Status>& statuses,
                const ReadOptions& options, UserData* out) const;

  // Calls fn(amplitude_id, user_id) for every member of served cohort `cohort_id` of
  // `project`, in amplitude_id order, until fn returns false. NotFound when the cohort is not
  // served. A scan of every user of the project: an export, not a hot path.
  Status ForEachMember(std::string_view project, std::string_view cohort_id,
                       const std::function<bool(uint64_t, std::string_view)>& fn) const;

  // The number of members of every served cohort of `project`, by id, from one scan of
  // the project's users (an export's cost, not a hot path). With `cancel`, the scan stops
  // with Unavailable (and *sizes unspecified) soon after *cancel turns true.
  Status CohortSizes(std::string_view project, std::map<std::string, uint64_t, std::less<>>* sizes,
                     const std::atomic<bool>* cancel = nullptr) const;

 private:
  // The catalog and the records a read of `project` needs.
  void Plan(std::string_view project, const ReadOptions& options, PreparedRead* out) const;
  static void SetKeys(uint64_t amplitude_id, PreparedRead* out);
  using UserVisitor = std::function<bool(uint64_t amplitude_id, std::string_view user_id,
                                         const compute::UserView& user, Status* failure)>;
  // Calls fn for every user of `project`, in amplitude_id order, until it returns false.
  // Corruption (and the scan stops) at a user whose records do not decode; the scan also
  // stops with the failure fn sets (returning false). With group property conditions in the
  // catalog, the groups of up to kScanChunkUsers users (kScanChunkGroups groups) are read
  // with one MultiGet before fn sees them.
  Status ScanUsers(std::string_view project, const compute::ProjectCatalog& catalog,
                   const UserVisitor& fn) const;

  // Fills out->groups for the user out->amplitude_id: its membership record, then one MultiGet
  // of the groups' records; at most store::kMaxUserGroupTypes types of kMaxUserGroupNames
  // names. A damaged record reads as empty (no group; a group's "{}"), logged once. Errors: the
  // store's.
  Status ReadGroups(std::string_view project, UserData* out) const;

  // Fills out->recommendations from the user's encoded aggregates record (the item
  // histories) and the trained models.
  Status ServeRecommendations(std::string_view project, const compute::ProjectCatalog& catalog,
                              std::string_view aggregates, const RecsOptions& options,
                              UserData* out) const;

  // A read by user_id on a shared store (Store::Shared()) looks the mapping up here first: a
  // user_id's amplitude_id never changes once made (ingest/identity.h: user_ids never merge),
  // so a mapping once read stays true, and the read costs one round trip to the store, not
  // two. Bounded by kUserIdCacheEntries (cleared when full). Thread-safe.
  class UserIdCache {
   public:
    bool Find(const std::string& key, uint64_t* id) const;
    void Put(std::string key, uint64_t id);

   private:
    mutable std::shared_mutex mu_;
    std::unordered_map<std::string, uint64_t> ids_;  // GUARDED_BY mu_
  };
  static constexpr size_t kUserIdCacheEntries = 1 << 20;

  store::Store& store_;
  const compute::CatalogHolder& catalogs_;
  const Clock& clock_;
  const recs::ModelShelf* shelf_;
  const bool cache_user_ids_;
  mutable UserIdCache user_ids_;
};

}  // namespace profiled::read
