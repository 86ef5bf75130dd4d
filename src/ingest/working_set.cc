#include "ingest/working_set.h"

#include <algorithm>
#include <iterator>

#include "core/log.h"
#include "core/value_text.h"
#include "store/keys.h"

namespace profiled::ingest {

using store::Table;

Status WorkingSet::GetId(const std::string& key, std::optional<uint64_t>* id) {
  auto it = ids_.find(key);
  if (it != ids_.end()) {
    *id = it->second;
    return Status::Ok();
  }
  // Committed mappings need no copy into ids_: a write of the group goes to ids_, which is
  // looked up first, and a rollback restores ids_ alone.
  if (auto kept = id_cache_.find(key); kept != id_cache_.end()) {
    *id = kept->second;
    return Status::Ok();
  }
  std::string value;
  Status s = store_.Get(Table::kIdentity, key, &value);
  if (s.IsNotFound()) {
    id->reset();
  } else {
    PROFILED_RETURN_IF_ERROR(s);
    uint64_t v = 0;
    PROFILED_RETURN_IF_ERROR(store::DecodeId(value, &v));
    *id = v;
  }
  ids_.emplace(key, *id);
  return Status::Ok();
}

Status WorkingSet::GetUser(std::string_view project, std::string_view user_id,
                           std::optional<uint64_t>* amplitude_id) {
  return GetId(store::UserKey(project, user_id), amplitude_id);
}

Status WorkingSet::GetDevice(std::string_view project, std::string_view device_id,
                             std::optional<uint64_t>* amplitude_id) {
  return GetId(store::DeviceKey(project, device_id), amplitude_id);
}

void WorkingSet::PutUser(std::string_view project, std::string_view user_id, uint64_t id) {
  std::string key = store::UserKey(project, user_id);
  SaveId(key);
  ids_[key] = id;
  id_writes_[std::move(key)] = id;
}

void WorkingSet::PutDevice(std::string_view project, std::string_view device_id, uint64_t id) {
  std::string key = store::DeviceKey(project, device_id);
  SaveId(key);
  ids_[key] = id;
  id_writes_[std::move(key)] = id;
}

void WorkingSet::PutMerge(std::string_view project, uint64_t from, uint64_t into) {
  std::string key = store::MergeKey(project, from);
  SaveId(key);
  id_writes_[std::move(key)] = into;
}

void WorkingSet::DeleteId(const std::string& key) {
  SaveId(key);
  ids_[key] = std::nullopt;
  id_writes_[key] = std::nullopt;
}

namespace {

// The records a user's first touch loads and Flush writes, with the UserState field of each
// raw one.
constexpr store::UserRecord kLoadedRecords[] = {
    store::UserRecord::kProfile, store::UserRecord::kAggregates, store::UserRecord::kStaticCohorts,
    store::UserRecord::kMergedIds, store::UserRecord::kGroups};
constexpr size_t kLoadedRecordCount = std::size(kLoadedRecords);

uint8_t RecordBit(size_t index) { return static_cast<uint8_t>(1u << index); }

std::string RecordKey(const std::string& user_key, store::UserRecord record) {
  std::string key = user_key;
  key.push_back(static_cast<char>(record));
  return key;
}

// The raw record of `state` at kLoadedRecords[index] (index > 0: not the profile).
std::string* RawRecord(UserState* state, size_t index) {
  switch (kLoadedRecords[index]) {
    case store::UserRecord::kAggregates: return &state->aggregates;
    case store::UserRecord::kMergedIds: return &state->merged_ids;
    case store::UserRecord::kGroups: return &state->groups;
    default: return &state->static_cohorts;
  }
}

}  // namespace

Status WorkingSet::LoadUser(const std::string& key, CachedUser* cached) {
  std::vector<std::string> keys;
  keys.reserve(kLoadedRecordCount);
  for (store::UserRecord record : kLoadedRecords) keys.push_back(RecordKey(key, record));
  std::vector<std::string> values;
  std::vector<Status> statuses;
  PROFILED_RETURN_IF_ERROR(store_.MultiGet(Table::kProfiles, keys, &values, &statuses));
  return DecodeUser(key, values.data(), statuses.data(), cached);
}

Status WorkingSet::DecodeUser(const std::string& key, std::string* values, const Status* statuses,
                              CachedUser* cached) {
  for (size_t i = 0; i < kLoadedRecordCount; ++i) {
    if (statuses[i].IsNotFound()) continue;
    PROFILED_RETURN_IF_ERROR(statuses[i]);
    cached->stored |= RecordBit(i);
  }
  // No profile, no user. Records found without one are deleted if the group creates the
  // user (CreateUserState), since the new state does not hold them.
  if ((cached->stored & RecordBit(0)) == 0) return Status::Ok();
  store::ProfileView view;
  PROFILED_RETURN_IF_ERROR(store::DecodeProfile(values[0], &view));
  UserState& u = cached->user.emplace();
  Profile& p = u.profile;
  p.user_id.assign(view.user_id);
  p.device_id.assign(view.device_id);
  PROFILED_RETURN_IF_ERROR(ParseStoredObject(view.builtins_json, &p.builtins));
  PROFILED_RETURN_IF_ERROR(ParseStoredObject(view.properties_json, &p.properties));
  p.properties_size_bound = view.properties_json.size();
  p.user_key = key;
  for (size_t i = 1; i < kLoadedRecordCount; ++i) *RawRecord(&u, i) = std::move(values[i]);
  return Status::Ok();
}

std::unordered_map<std::string, WorkingSet::CachedUser>::iterator WorkingSet::AdoptCached(
    const std::string& key) {
  auto kept = user_cache_.find(key);
  if (kept == user_cache_.end()) return users_.end();
  return AdoptCached(kept);
}

void WorkingSet::AdoptInFlight(const std::string& key) {
  if (in_flight_ == 0 || !in_batch_ || users_.count(key) != 0) return;
  auto kept = user_cache_.find(key);
  if (kept != user_cache_.end() && KeptInFlight(kept->second)) AdoptCached(kept);
}

std::unordered_map<std::string, WorkingSet::CachedUser>::iterator WorkingSet::AdoptCached(
    std::unordered_map<std::string, CachedUser>::iterator kept) {
  cache_bytes_ -= kept->second.cache_bytes;
  kept->second.cache_bytes = 0;
  // A node moves between the maps: no allocation, no copy of the state.
  return users_.insert(user_cache_.extract(kept)).position;
}

Status WorkingSet::GetUserState(std::string_view project, uint64_t amplitude_id, UserState** user) {
  std::string key = store::UserKeyPrefix(project, amplitude_id);
  auto it = users_.find(key);
  auto kept = it == users_.end() ? user_cache_.find(key) : user_cache_.end();
  // A user the batch did not find in users_ is "fresh": a rollback drops it (the store still
  // holds its committed records) instead of copying it, so SaveUser runs before a kept state
  // is adopted. One that a commit in flight wrote is not in the store yet: adopted first, it
  // is copied.
  if (kept != user_cache_.end() && KeptInFlight(kept->second)) {
    it = AdoptCached(kept);
    kept = user_cache_.end();
  }
  SaveUser(key, /*whole=*/false);
  if (kept != user_cache_.end()) it = AdoptCached(kept);
  if (it == users_.end()) {
    CachedUser cached;
    PROFILED_RETURN_IF_ERROR(LoadUser(key, &cached));
    it = users_.emplace(std::move(key), std::move(cached)).first;
  }
  if (!it->second.user) {
    *user = nullptr;
    return Status::Ok();
  }
  it->second.touched = true;
  *user = &*it->second.user;
  return Status::Ok();
}

Status WorkingSet::GetProfile(std::string_view project, uint64_t amplitude_id, Profile** profile) {
  UserState* user = nullptr;
  PROFILED_RETURN_IF_ERROR(GetUserState(project, amplitude_id, &user));
  *profile = user == nullptr ? nullptr : &user->profile;
  return Status::Ok();
}

UserState* WorkingSet::CreateUserState(std::string_view project, uint64_t amplitude_id) {
  std::string key = store::UserKeyPrefix(project, amplitude_id);
  AdoptInFlight(key);
  SaveUser(key, /*whole=*/true);
  if (users_.count(key) == 0) AdoptCached(key);  // for its stored bits
  CachedUser& c = users_[key];
  c.user.emplace();
  c.user->profile.user_key = std::move(key);
  // Replaces whatever records the id had: Flush deletes those the new state leaves empty.
  c.user->aggregates_changed = true;
  c.user->static_cohorts_changed = true;
  c.user->merged_ids_changed = true;
  c.user->groups_changed = true;
  c.touched = true;
  return &*c.user;
}

void WorkingSet::DeleteUserState(std::string_view project, uint64_t amplitude_id) {
  std::string key = store::UserKeyPrefix(project, amplitude_id);
  AdoptInFlight(key);
  SaveUser(key, /*whole=*/true);
  if (users_.count(key) == 0) AdoptCached(key);  // for its stored bits
  CachedUser& c = users_[key];
  c.user.reset();
  c.touched = true;
}

namespace {

// A group's cached state from its stored record (`status` the read's): NotFound is a group
// never seen. Corruption when the record does not decode.
Status DecodeGroupRecord(const Status& status, std::string_view value, GroupState* group,
                         bool* stored) {
  *stored = false;
  if (status.IsNotFound()) return Status::Ok();
  PROFILED_RETURN_IF_ERROR(status);
  std::string_view text;
  PROFILED_RETURN_IF_ERROR(store::DecodeGroup(value, &text));
  PROFILED_RETURN_IF_ERROR(ParseStoredObject(text, &group->properties));
  group->properties_size_bound = text.size();
  *stored = true;
  return Status::Ok();
}

}  // namespace

Status WorkingSet::GetGroup(std::string_view project, std::string_view group_type,
                            std::string_view group_name, bool overwrite_damaged,
                            GroupState** group) {
  std::string key = store::GroupKey(project, group_type, group_name);
  auto it = groups_.find(key);
  if (in_batch_ && !batch_groups_.contains(key)) {
    const bool fresh = it == groups_.end();
    batch_groups_.emplace(key, fresh);
    UndoGroup u{key, fresh, 0, false};
    if (!fresh) {
      u.properties_size_bound = it->second.state.properties_size_bound;
      u.changed = it->second.changed;
    }
    undo_.emplace_back(std::move(u));
  }
  if (it != groups_.end()) it->second.touched = true;
  if (it == groups_.end()) {
    CachedGroup cached;
    cached.touched = true;
    std::string value;
    Status s = store_.Get(Table::kMeta, key, &value);
    Status decoded = DecodeGroupRecord(s, value, &cached.state, &cached.stored);
    if (s.ok() && !decoded.ok()) {
      const std::string name = std::string(group_type) + "/" + std::string(group_name);
      if (!overwrite_damaged) {
        return Status::InvalidArgument(
            "the stored record of group " + name + " is damaged (" + decoded.message() +
            "), so it cannot be changed; a $groupidentify whose only operation is $clearAll "
            "replaces it");
      }
      LogWarn("project " + std::string(project) + ": the damaged record of group " + name +
              " is replaced by a $clearAll (" + decoded.message() + ")");
      cached.state = GroupState{};
      cached.stored = true;  // so that Flush deletes it if nothing is set
    } else {
      PROFILED_RETURN_IF_ERROR(decoded);
    }
    cached.state.key = key;
    it = groups_.emplace(std::move(key), std::move(cached)).first;
  }
  *group = &it->second.state;
  return Status::Ok();
}

void WorkingSet::WillEditGroup(GroupState* group, const std::vector<PropertyOp>& ops) {
  auto it = groups_.find(group->key);
  if (it == groups_.end()) return;  // not one of ours (REQUIRES)
  it->second.changed = true;
  // A group the batch read itself is forgotten whole on rollback.
  if (!in_batch_ || batch_groups_[group->key]) return;
  for (const auto& op : ops) {
    if (op.kind == PropertyOpKind::kClearAll) {
      // Every property goes: keep them all (a move; $clearAll leaves the object empty).
      undo_.emplace_back(UndoAllProperties{group->key, std::move(group->properties), true});
      group->properties = boost::json::object();
      return;
    }
  }
  for (const auto& op : ops) SaveGroupProperty(group, op.key);
}

void WorkingSet::SaveGroupProperty(GroupState* group, std::string_view name) {
  std::string id = group->key;
  id.push_back('\0');
  id.append(name);
  if (!batch_group_properties_.insert(std::move(id)).second) return;
  UndoProperty u{group->key, std::string(name), std::nullopt, true};
  if (auto it = group->properties.find(name); it != group->properties.end()) {
    u.before = it->value();
  }
  undo_.emplace_back(std::move(u));
}

Status WorkingSet::PrefetchGroups(std::vector<std::string> keys) {
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  std::erase_if(keys, [this](const std::string& key) { return groups_.contains(key); });
  if (keys.empty()) return Status::Ok();
  std::vector<std::string> values;
  std::vector<Status> statuses;
  PROFILED_RETURN_IF_ERROR(store_.MultiGet(Table::kMeta, keys, &values, &statuses));
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!statuses[i].ok() && !statuses[i].IsNotFound()) return statuses[i];
    CachedGroup cached;
    // A record that does not decode stays unread: GetGroup reports it to the batch that
    // touches the group, instead of failing the whole commit group here.
    if (!DecodeGroupRecord(statuses[i], values[i], &cached.state, &cached.stored).ok()) continue;
    cached.state.key = keys[i];
    cached.touched = true;
    groups_.emplace(std::move(keys[i]), std::move(cached));
  }
  return Status::Ok();
}

void WorkingSet::SaveId(const std::string& key) {
  if (!in_batch_) return;
  UndoId u{key, std::nullopt, std::nullopt};
  if (auto it = ids_.find(key); it != ids_.end()) u.cached = it->second;
  if (auto it = id_writes_.find(key); it != id_writes_.end()) u.written = it->second;
  undo_.emplace_back(std::move(u));
}

void WorkingSet::SaveUser(const std::string& key, bool whole) {
  if (!in_batch_) return;
  bool first = batch_users_.insert(key).second;
  if (!first && (!whole || batch_fresh_.count(key) != 0)) return;
  auto it = users_.find(key);
  if (it == users_.end()) {
    // Loaded or created by this batch: rolling back just forgets it.
    batch_fresh_.insert(key);
    undo_.emplace_back(UndoUser{key, std::nullopt, true});
    return;
  }
  if (whole) {
    // About to be replaced or deleted: keep the whole of it (a move, no copy).
    undo_.emplace_back(UndoUser{key, std::move(it->second), true});
    return;
  }
  // Edited in place: keep everything but the properties, which SaveForUndo keeps per key.
  CachedUser copy;
  copy.touched = it->second.touched;
  copy.stored = it->second.stored;
  if (it->second.user) {
    const UserState& u = *it->second.user;
    UserState& c = copy.user.emplace();
    c.profile.user_id = u.profile.user_id;
    c.profile.device_id = u.profile.device_id;
    c.profile.builtins = u.profile.builtins;
    c.profile.properties_size_bound = u.profile.properties_size_bound;
    c.profile.user_key = u.profile.user_key;
    c.aggregates = u.aggregates;
    c.decoded_aggregates = u.decoded_aggregates;
    c.aggregates_changed = u.aggregates_changed;
    c.static_cohorts = u.static_cohorts;
    c.static_cohorts_changed = u.static_cohorts_changed;
    c.merged_ids = u.merged_ids;
    c.merged_ids_changed = u.merged_ids_changed;
    c.groups = u.groups;
    c.groups_changed = u.groups_changed;
  }
  undo_.emplace_back(UndoUser{key, std::move(copy), false});
}

void WorkingSet::SaveForUndo(Profile* profile, const std::vector<PropertyOp>& ops) {
  if (!NeedsUndo(profile)) return;
  for (const auto& op : ops) {
    if (op.kind == PropertyOpKind::kClearAll) {
      // Every property goes: keep them all (a move; $clearAll leaves the object empty).
      undo_.emplace_back(UndoAllProperties{profile->user_key, std::move(profile->properties)});
      profile->properties = boost::json::object();
      return;
    }
  }
  for (const auto& op : ops) SaveProperty(profile, op.key);
}

void WorkingSet::SaveForUndo(Profile* profile, std::string_view name) {
  if (NeedsUndo(profile)) SaveProperty(profile, name);
}

void WorkingSet::SaveProperty(Profile* profile, std::string_view name) {
  std::string id = profile->user_key;
  id.push_back('\0');
  id.append(name);
  if (!batch_properties_.insert(std::move(id)).second) return;
  UndoProperty u{profile->user_key, std::string(name), std::nullopt};
  if (auto it = profile->properties.find(name); it != profile->properties.end()) {
    u.before = it->value();
  }
  undo_.emplace_back(std::move(u));
}

void WorkingSet::BeginBatch() {
  in_batch_ = true;
  undo_.clear();
  batch_users_.clear();
  batch_fresh_.clear();
  batch_properties_.clear();
  batch_groups_.clear();
  batch_group_properties_.clear();
  batch_dedup_writes_ = dedup_writes_.size();
  batch_event_writes_ = event_writes_.size();
  batch_raw_writes_ = raw_writes_.size();
  batch_next_ids_ = pending_next_ids_;
  batch_next_seq_ = pending_next_seq_;
}

void WorkingSet::RollbackBatch() {
  for (auto u = undo_.rbegin(); u != undo_.rend(); ++u) {
    if (auto* id = std::get_if<UndoId>(&*u)) {
      if (id->cached) {
        ids_[id->key] = *id->cached;
      } else {
        ids_.erase(id->key);
      }
      if (id->written) {
        id_writes_[id->key] = *id->written;
      } else {
        id_writes_.erase(id->key);
      }
    } else if (auto* p = std::get_if<UndoUser>(&*u)) {
      if (!p->before) {
        users_.erase(p->key);
        continue;
      }
      CachedUser& current = users_[p->key];
      if (p->properties_too || !p->before->user || !current.user) {
        current = std::move(*p->before);
        continue;
      }
      boost::json::object properties = std::move(current.user->profile.properties);
      current = std::move(*p->before);
      current.user->profile.properties = std::move(properties);
    } else if (auto* g = std::get_if<UndoGroup>(&*u)) {
      if (g->fresh) {
        groups_.erase(g->key);
        continue;
      }
      CachedGroup& current = groups_[g->key];
      current.state.properties_size_bound = g->properties_size_bound;
      current.changed = g->changed;
    } else if (auto* prop = std::get_if<UndoProperty>(&*u)) {
      boost::json::object& properties = prop->group ? groups_[prop->key].state.properties
                                                    : users_[prop->key].user->profile.properties;
      if (prop->before) {
        properties[prop->name] = std::move(*prop->before);
      } else {
        properties.erase(prop->name);
      }
    } else {
      auto& all = std::get<UndoAllProperties>(*u);
      (all.group ? groups_[all.key].state.properties : users_[all.key].user->profile.properties) =
          std::move(all.before);
    }
  }
  // Every key remembered since BeginBatch has its write after batch_dedup_writes_.
  for (size_t i = batch_dedup_writes_; i < dedup_writes_.size(); ++i) {
    dedup_.erase(dedup_writes_[i].first);
  }
  dedup_writes_.resize(batch_dedup_writes_);
  event_writes_.resize(batch_event_writes_);
  raw_writes_.resize(batch_raw_writes_);
  pending_next_ids_ = std::move(batch_next_ids_);
  pending_next_seq_ = batch_next_seq_;
  in_batch_ = false;
  undo_.clear();
}

Status WorkingSet::Prefetch(
    std::string_view project, const std::vector<std::string_view>& user_ids,
    const std::vector<std::string_view>& device_ids,
    const std::vector<std::pair<std::string_view, std::string_view>>& insert_ids) {
  std::vector<std::string> keys;
  std::vector<std::string> values;
  std::vector<Status> statuses;
  // Identity keys, into the committed-state map GetId reads after ids_.
  keys.reserve(user_ids.size() + device_ids.size());
  for (auto id : user_ids) keys.push_back(store::UserKey(project, id));
  for (auto id : device_ids) keys.push_back(store::DeviceKey(project, id));
  std::vector<uint64_t> amplitude_ids;
  if (!keys.empty()) {
    PROFILED_RETURN_IF_ERROR(store_.MultiGet(Table::kIdentity, keys, &values, &statuses));
    for (size_t i = 0; i < keys.size(); ++i) {
      std::optional<uint64_t> id;
      if (!statuses[i].IsNotFound()) {
        PROFILED_RETURN_IF_ERROR(statuses[i]);
        uint64_t v = 0;
        PROFILED_RETURN_IF_ERROR(store::DecodeId(values[i], &v));
        id = v;
        amplitude_ids.push_back(v);
      }
      if (ids_.count(keys[i]) == 0) id_cache_.insert_or_assign(std::move(keys[i]), id);
    }
  }
  keys.clear();
  for (const auto& [scope, insert_id] : insert_ids) {
    keys.push_back(store::DedupKey(project, scope, insert_id));
  }
  if (!keys.empty()) {
    PROFILED_RETURN_IF_ERROR(store_.MultiGet(Table::kDedup, keys, &values, &statuses));
    for (size_t i = 0; i < keys.size(); ++i) {
      std::optional<int64_t> first_seen;
      if (!statuses[i].IsNotFound()) {
        PROFILED_RETURN_IF_ERROR(statuses[i]);
        int64_t v = 0;
        PROFILED_RETURN_IF_ERROR(store::DecodeDedup(values[i], &v));
        first_seen = v;
      }
      dedup_read_.insert_or_assign(std::move(keys[i]), first_seen);
    }
  }
  // Every record of the users found, into the committed-state map GetUserState adopts from.
  keys.clear();
  std::vector<std::string> user_keys;
  for (uint64_t id : amplitude_ids) {
    std::string key = store::UserKeyPrefix(project, id);
    if (users_.count(key) != 0 || user_cache_.count(key) != 0) continue;
    for (store::UserRecord record : kLoadedRecords) keys.push_back(RecordKey(key, record));
    user_keys.push_back(std::move(key));
  }
  if (keys.empty()) return Status::Ok();
  PROFILED_RETURN_IF_ERROR(store_.MultiGet(Table::kProfiles, keys, &values, &statuses));
  for (size_t u = 0; u < user_keys.size(); ++u) {
    if (user_cache_.count(user_keys[u]) != 0) continue;  // an id twice in the list
    CachedUser cached;
    PROFILED_RETURN_IF_ERROR(DecodeUser(user_keys[u], &values[u * kLoadedRecordCount],
                                        &statuses[u * kLoadedRecordCount], &cached));
    user_cache_.emplace(std::move(user_keys[u]), std::move(cached));  // charged nothing
  }
  return Status::Ok();
}

Status WorkingSet::TakeFromBlock(const std::string& key, uint64_t block, IdBlock* ids, bool take,
                                 uint64_t* value) {
  if (ids->next == ids->end) {
    uint64_t first = 0;
    PROFILED_RETURN_IF_ERROR(store_.ReserveIds(key, block, &first));
    *ids = IdBlock{first, first + block};
  }
  *value = take ? ids->next++ : ids->next;
  return Status::Ok();
}

Status WorkingSet::AllocateAmplitudeId(std::string_view project, uint64_t* amplitude_id) {
  std::string key = store::NextAmplitudeIdKey(project);
  if (shared_) {
    // Blocks of ids taken and not used are lost (ids are unique, not dense); 0 is never one.
    do {
      PROFILED_RETURN_IF_ERROR(TakeFromBlock(key, 64, &id_blocks_[key], true, amplitude_id));
    } while (*amplitude_id == 0);
    return Status::Ok();
  }
  auto pending = pending_next_ids_.find(key);
  if (pending == pending_next_ids_.end()) {
    auto committed = next_ids_.find(key);
    uint64_t next = 1;
    if (committed != next_ids_.end()) {
      next = committed->second;
    } else {
      std::string value;
      Status s = store_.Get(Table::kMeta, key, &value);
      if (!s.IsNotFound()) {
        PROFILED_RETURN_IF_ERROR(s);
        PROFILED_RETURN_IF_ERROR(store::DecodeId(value, &next));
      }
    }
    pending = pending_next_ids_.emplace(key, next).first;
  }
  *amplitude_id = pending->second++;
  return Status::Ok();
}

Status WorkingSet::SeenInsertId(std::string_view project, std::string_view scope,
                                std::string_view insert_id, int64_t not_before_ms, bool* seen) {
  std::string key = store::DedupKey(project, scope, insert_id);
  if (dedup_.count(key) != 0 || in_flight_dedup_.count(key) != 0) {
    *seen = true;
    return Status::Ok();
  }
  if (auto read = dedup_read_.find(key); read != dedup_read_.end()) {
    *seen = read->second && *read->second >= not_before_ms;
    return Status::Ok();
  }
  std::string value;
  Status s = store_.Get(Table::kDedup, key, &value);
  if (s.IsNotFound()) {
    *seen = false;
    return Status::Ok();
  }
  PROFILED_RETURN_IF_ERROR(s);
  int64_t first_seen = 0;
  PROFILED_RETURN_IF_ERROR(store::DecodeDedup(value, &first_seen));
  *seen = first_seen >= not_before_ms;
  return Status::Ok();
}

void WorkingSet::RememberInsertId(std::string_view project, std::string_view scope,
                                  std::string_view insert_id, int64_t now_ms) {
  std::string key = store::DedupKey(project, scope, insert_id);
  if (!dedup_.insert(key).second) return;
  dedup_writes_.emplace_back(std::move(key), store::EncodeDedup(now_ms));
}

Status WorkingSet::NextEventSeq(uint64_t* seq) {
  if (shared_) return TakeFromBlock(store::EventSeqKey(), 1024, &seq_block_, false, seq);
  if (!pending_next_seq_) {
    if (!next_seq_) {
      // The sequence only has to be unique per ingest millisecond, and keys carry the
      // time first; restarting from the persisted value keeps it unique across restarts
      // even when the clock steps back. It also only grows, which backfills rely on
      // (ingest/definitions.h).
      uint64_t persisted = 0;
      std::string value;
      Status s = store_.Get(Table::kMeta, store::EventSeqKey(), &value);
      if (!s.IsNotFound()) {
        PROFILED_RETURN_IF_ERROR(s);
        PROFILED_RETURN_IF_ERROR(store::DecodeId(value, &persisted));
      }
      next_seq_ = persisted;
    }
    *seq = *next_seq_;
    return Status::Ok();
  }
  *seq = *pending_next_seq_;
  return Status::Ok();
}

Status WorkingSet::AppendEvent(std::string_view project, int64_t ingest_ms,
                               const store::EventRecordView& event) {
  if (shared_) {
    uint64_t seq = 0;
    PROFILED_RETURN_IF_ERROR(TakeFromBlock(store::EventSeqKey(), 1024, &seq_block_, true, &seq));
    event_writes_.emplace_back(store::EventKey(project, ingest_ms, seq), store::EncodeEvent(event));
    return Status::Ok();
  }
  if (!pending_next_seq_) {
    uint64_t next = 0;
    PROFILED_RETURN_IF_ERROR(NextEventSeq(&next));
    pending_next_seq_ = next;
  }
  uint64_t seq = (*pending_next_seq_)++;
  event_writes_.emplace_back(store::EventKey(project, ingest_ms, seq), store::EncodeEvent(event));
  return Status::Ok();
}

Status WorkingSet::ResolveMerged(std::string_view project, uint64_t id, uint64_t* current) {
  // Merges only ever go from an anonymous id into a user's, so a chain is short; the bound
  // guards against a damaged store looping.
  for (int hops = 0; hops < 64; ++hops) {
    std::optional<uint64_t> into;
    PROFILED_RETURN_IF_ERROR(GetId(store::MergeKey(project, id), &into));
    if (!into) break;
    id = *into;
  }
  *current = id;
  return Status::Ok();
}

void WorkingSet::PutRaw(store::Table table, std::string key, std::string value) {
  raw_writes_.push_back({table, false, std::move(key), std::move(value)});
}

void WorkingSet::DeleteRaw(store::Table table, std::string key) {
  raw_writes_.push_back({table, true, std::move(key), {}});
}

void WorkingSet::Flush(store::WriteSet* writes) {
  for (auto& [key, id] : id_writes_) {
    if (id) {
      writes->Put(Table::kIdentity, key, store::EncodeId(*id));
    } else {
      writes->Delete(Table::kIdentity, key);
    }
  }
  // Each user state is left as the commit will leave the store (the raw records encoded,
  // `stored` updated), so that Finish(true) can keep it for later groups.
  for (auto& [key, cached] : users_) {
    if (!cached.touched) continue;
    uint8_t stored_after = cached.stored;
    for (size_t i = 0; i < kLoadedRecordCount; ++i) {
      uint8_t bit = RecordBit(i);
      bool stored = (cached.stored & bit) != 0;
      if (!cached.user) {
        if (stored) writes->Delete(Table::kProfiles, RecordKey(key, kLoadedRecords[i]));
        stored_after &= static_cast<uint8_t>(~bit);
        continue;
      }
      std::string value;
      UserState& u = *cached.user;
      if (i == 0) {
        if (keep_profiles_) continue;
        Profile& p = u.profile;
        store::ProfileRecord r;
        r.user_id = p.user_id;
        r.device_id = p.device_id;
        r.builtins_json = ObjectText(p.builtins);
        r.properties_json = ObjectText(p.properties);
        p.properties_size_bound = r.properties_json.size();  // exact again
        value = store::EncodeProfile(r);
      } else if (kLoadedRecords[i] == store::UserRecord::kAggregates) {
        // Only a changed state is written: most events change no aggregate.
        if (u.decoded_aggregates) {
          // As compute::AggregatesEditor writes it: a state that holds nothing is not stored.
          std::erase_if(u.decoded_aggregates->states,
                        [](const auto& kv) { return kv.second.empty(); });
          if (!u.decoded_aggregates->states.empty()) value = u.decoded_aggregates->Encode();
          // Kept encoded: a later group decodes it against the catalog of its time.
          u.aggregates = value;
          u.decoded_aggregates.reset();
        } else if (u.aggregates_changed) {
          value = u.aggregates;
        } else {
          continue;
        }
        u.aggregates_changed = false;
      } else if (kLoadedRecords[i] == store::UserRecord::kGroups) {
        if (!u.groups_changed) continue;
        value = u.groups;
        u.groups_changed = false;
      } else if (kLoadedRecords[i] == store::UserRecord::kMergedIds) {
        if (!u.merged_ids_changed) continue;
        value = u.merged_ids;
        u.merged_ids_changed = false;
      } else {
        if (!u.static_cohorts_changed) continue;
        value = u.static_cohorts;
        u.static_cohorts_changed = false;
      }
      if (!value.empty()) {
        writes->Put(Table::kProfiles, RecordKey(key, kLoadedRecords[i]), std::move(value));
        stored_after |= bit;
      } else {
        if (stored) writes->Delete(Table::kProfiles, RecordKey(key, kLoadedRecords[i]));
        stored_after &= static_cast<uint8_t>(~bit);
      }
    }
    cached.stored = stored_after;
  }
  pipelinable_ = raw_writes_.empty();
  for (auto& [key, group] : groups_) {
    // Only the groups edited: a group read ahead, or edited by a batch that was rolled back,
    // is left as stored. One that became empty is deleted.
    if (!group.changed) continue;
    pipelinable_ = false;
    group.changed = false;
    if (!group.state.properties.empty()) {
      std::string text = ObjectText(group.state.properties);
      group.state.properties_size_bound = text.size();
      writes->Put(Table::kMeta, key, store::EncodeGroup(text));
      group.stored = true;
    } else if (group.stored) {
      writes->Delete(Table::kMeta, key);
      group.stored = false;
    }
  }
  flushed_ = true;
  for (auto& [key, value] : dedup_writes_)
    writes->Put(Table::kDedup, std::move(key), std::move(value));
  for (auto& [key, value] : event_writes_)
    writes->Put(Table::kEvents, std::move(key), std::move(value));
  for (auto& op : raw_writes_) {
    if (op.is_delete) {
      writes->Delete(op.table, std::move(op.key));
    } else {
      writes->Put(op.table, std::move(op.key), std::move(op.value));
    }
  }
  for (auto& [key, next] : pending_next_ids_) writes->Put(Table::kMeta, key, store::EncodeId(next));
  if (pending_next_seq_)
    writes->Put(Table::kMeta, store::EventSeqKey(), store::EncodeId(*pending_next_seq_));
}

namespace {

// Rough memory of kept state, for the cache budget: the map node and key, the parsed
// profile (a boost::json object takes a few times its JSON text), the raw records.
constexpr size_t kIdEntryBytes = 64;
size_t EstimateBytes(const std::string& key, const std::optional<UserState>& user) {
  size_t bytes = 2 * key.size() + 256;
  if (user) {
    const Profile& p = user->profile;
    bytes += p.user_id.size() + p.device_id.size() + 4 * p.properties_size_bound +
             64 * p.builtins.size() + user->aggregates.size() + user->static_cohorts.size() +
             user->merged_ids.size() + user->groups.size();
  }
  return bytes;
}

// Rough memory of a parsed JSON value (boost::json: a value slot, an object member's key and
// slot, a string's or key's bytes on the heap). Several times the JSON text for small values.
size_t JsonBytes(const boost::json::value& v) {
  constexpr size_t kValueBytes = 16;
  constexpr size_t kMemberBytes = 48;
  size_t bytes = kValueBytes;
  if (const auto* s = v.if_string()) {
    bytes += s->size();
  } else if (const auto* a = v.if_array()) {
    for (const auto& e : *a) bytes += JsonBytes(e);
  } else if (const auto* o = v.if_object()) {
    for (const auto& kv : *o) bytes += kMemberBytes + kv.key().size() + JsonBytes(kv.value());
  }
  return bytes;
}

size_t EstimateGroupBytes(const std::string& key, const boost::json::object& properties) {
  size_t bytes = 2 * key.size() + 128;  // the map node, the key in it and in the state
  for (const auto& kv : properties) bytes += 48 + kv.key().size() + JsonBytes(kv.value());
  return bytes;
}

}  // namespace

void WorkingSet::KeepGroups() {
  cache_bytes_ -= kept_group_bytes_;
  kept_group_bytes_ = 0;
  // Untouched groups keep their estimate (their properties did not change).
  for (auto& [key, group] : groups_) {
    if (group.touched) group.cache_bytes = EstimateGroupBytes(key, group.state.properties);
    kept_group_bytes_ += group.cache_bytes;
  }
  const size_t limit = cache_limit_ / 4;
  for (bool touched : {false, true}) {
    for (auto it = groups_.begin();
         it != groups_.end() && (groups_.size() > kMaxKeptGroups || kept_group_bytes_ > limit);) {
      if (it->second.touched != touched) {
        ++it;
        continue;
      }
      kept_group_bytes_ -= it->second.cache_bytes;
      it = groups_.erase(it);
    }
  }
  for (auto& [key, group] : groups_) group.touched = false;
  cache_bytes_ += kept_group_bytes_;
}

void WorkingSet::KeepCommitted() {
  if (cache_limit_ == 0) return;
  while (!users_.empty()) {
    auto node = users_.extract(users_.begin());
    CachedUser& c = node.mapped();
    c.touched = false;
    c.kept_by = generation_;
    c.cache_bytes = EstimateBytes(node.key(), c.user);
    cache_bytes_ += c.cache_bytes;
    auto r = user_cache_.insert(std::move(node));
    if (!r.inserted) {  // cannot happen (GetUserState adopts first); stay exact anyway
      cache_bytes_ -= r.position->second.cache_bytes;
      r.position->second = std::move(r.node.mapped());
    }
  }
  // ids_ holds every identity key the group read or wrote but merge keys written
  for (auto& [key, id] : id_writes_) ids_.insert_or_assign(key, id);
  while (!ids_.empty()) {
    auto node = ids_.extract(ids_.begin());
    size_t bytes = node.key().size() + kIdEntryBytes;
    auto r = id_cache_.insert(std::move(node));
    if (r.inserted) {
      cache_bytes_ += bytes;
    } else {
      r.position->second = r.node.mapped();
    }
  }
  if (cache_bytes_ <= cache_limit_) return;
  // Over the budget: drop arbitrary entries down to 7/8 of it, but what a commit in flight
  // writes (the store does not hold it yet).
  size_t target = cache_limit_ - cache_limit_ / 8;
  for (auto it = user_cache_.begin(); cache_bytes_ > target && it != user_cache_.end();) {
    if (KeptInFlight(it->second)) {
      ++it;
      continue;
    }
    cache_bytes_ -= it->second.cache_bytes;
    it = user_cache_.erase(it);
  }
  for (auto it = id_cache_.begin(); cache_bytes_ > target && it != id_cache_.end();) {
    if (in_flight_ids_.count(it->first) != 0) {
      ++it;
      continue;
    }
    cache_bytes_ -= it->first.size() + kIdEntryBytes;
    it = id_cache_.erase(it);
  }
}

void WorkingSet::ForgetCommitted() {
  user_cache_.clear();
  id_cache_.clear();
  groups_.clear();
  kept_group_bytes_ = 0;
  cache_bytes_ = 0;
}

void WorkingSet::Finish(bool committed) { Finish(committed, /*in_flight=*/false); }

void WorkingSet::FinishInFlight() { Finish(/*committed=*/true, /*in_flight=*/true); }

void WorkingSet::Landed() {
  in_flight_ = 0;
  in_flight_dedup_.clear();
  in_flight_ids_.clear();
}

void WorkingSet::Finish(bool committed, bool in_flight) {
  ++generation_;
  if (in_flight) {
    in_flight_ = generation_;
    in_flight_dedup_.swap(dedup_);
    for (const auto& [key, id] : id_writes_) in_flight_ids_.insert(key);
  } else if (!committed) {
    Landed();
  }
  // Groups as committed stay for the next groups (the writer is the only one to write them)
  // within their share of the cache (KeepGroups): a large group is then parsed once, not at
  // every commit group that edits it. A shared store keeps none.
  if (committed && flushed_ && !shared_) {
    KeepGroups();
  } else {
    cache_bytes_ -= kept_group_bytes_;
    kept_group_bytes_ = 0;
    groups_.clear();
  }
  if (committed) {
    for (auto& [key, next] : pending_next_ids_) next_ids_[key] = next;
    if (pending_next_seq_) next_seq_ = pending_next_seq_;
    // Without a Flush nothing was written: states changed since would not be committed.
    if (flushed_) KeepCommitted();
  } else {
    next_ids_.clear();
    next_seq_.reset();
    ForgetCommitted();
  }
  dedup_read_.clear();
  // A shared store keeps nothing across groups (what Prefetch read included).
  if (shared_) ForgetCommitted();
  flushed_ = false;
  pending_next_ids_.clear();
  pending_next_seq_.reset();
  in_batch_ = false;
  undo_.clear();
  ids_.clear();
  id_writes_.clear();
  users_.clear();
  batch_groups_.clear();
  batch_group_properties_.clear();
  dedup_.clear();
  dedup_writes_.clear();
  event_writes_.clear();
  raw_writes_.clear();
  keep_profiles_ = false;
  store_.EndTransaction();
}

}  // namespace profiled::ingest
