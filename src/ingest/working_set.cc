#include "ingest/working_set.h"

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

Status WorkingSet::GetProfile(std::string_view project, uint64_t amplitude_id, Profile** profile) {
  std::string key = store::ProfileKey(project, amplitude_id);
  SaveProfile(key, /*whole=*/false);
  auto it = profiles_.find(key);
  if (it == profiles_.end()) {
    CachedProfile cached;
    std::string bytes;
    Status s = store_.Get(Table::kProfiles, key, &bytes);
    if (!s.IsNotFound()) {
      PROFILED_RETURN_IF_ERROR(s);
      store::ProfileView view;
      PROFILED_RETURN_IF_ERROR(store::DecodeProfile(bytes, &view));
      Profile p;
      p.user_id.assign(view.user_id);
      p.device_id.assign(view.device_id);
      PROFILED_RETURN_IF_ERROR(ParseStoredObject(view.builtins_json, &p.builtins));
      PROFILED_RETURN_IF_ERROR(ParseStoredObject(view.properties_json, &p.properties));
      p.properties_size_bound = view.properties_json.size();
      p.store_key = key;
      cached.profile = std::move(p);
    }
    it = profiles_.emplace(std::move(key), std::move(cached)).first;
  }
  if (!it->second.profile) {
    *profile = nullptr;
    return Status::Ok();
  }
  it->second.touched = true;
  *profile = &*it->second.profile;
  return Status::Ok();
}

Profile* WorkingSet::CreateProfile(std::string_view project, uint64_t amplitude_id) {
  std::string key = store::ProfileKey(project, amplitude_id);
  SaveProfile(key, /*whole=*/true);
  CachedProfile& c = profiles_[key];
  c.profile.emplace();
  c.profile->store_key = std::move(key);
  c.touched = true;
  return &*c.profile;
}

void WorkingSet::DeleteProfile(std::string_view project, uint64_t amplitude_id) {
  std::string key = store::ProfileKey(project, amplitude_id);
  SaveProfile(key, /*whole=*/true);
  CachedProfile& c = profiles_[key];
  c.profile.reset();
  c.touched = true;
}

void WorkingSet::SaveId(const std::string& key) {
  if (!in_batch_) return;
  UndoId u{key, std::nullopt, std::nullopt};
  if (auto it = ids_.find(key); it != ids_.end()) u.cached = it->second;
  if (auto it = id_writes_.find(key); it != id_writes_.end()) u.written = it->second;
  undo_.emplace_back(std::move(u));
}

void WorkingSet::SaveProfile(const std::string& key, bool whole) {
  if (!in_batch_) return;
  bool first = batch_profiles_.insert(key).second;
  if (!first && (!whole || batch_fresh_.count(key) != 0)) return;
  auto it = profiles_.find(key);
  if (it == profiles_.end()) {
    // Loaded or created by this batch: rolling back just forgets it.
    batch_fresh_.insert(key);
    undo_.emplace_back(UndoProfile{key, std::nullopt, true});
    return;
  }
  if (whole) {
    // About to be replaced or deleted: keep the whole of it (a move, no copy).
    undo_.emplace_back(UndoProfile{key, std::move(it->second), true});
    return;
  }
  // Edited in place: keep everything but the properties, which SaveForUndo keeps per key.
  CachedProfile copy;
  copy.touched = it->second.touched;
  if (it->second.profile) {
    const Profile& p = *it->second.profile;
    copy.profile.emplace();
    copy.profile->user_id = p.user_id;
    copy.profile->device_id = p.device_id;
    copy.profile->builtins = p.builtins;
    copy.profile->properties_size_bound = p.properties_size_bound;
    copy.profile->store_key = p.store_key;
  }
  undo_.emplace_back(UndoProfile{key, std::move(copy), false});
}

void WorkingSet::SaveForUndo(Profile* profile, const std::vector<PropertyOp>& ops) {
  if (!NeedsUndo(profile)) return;
  for (const auto& op : ops) {
    if (op.kind == PropertyOpKind::kClearAll) {
      // Every property goes: keep them all (a move; $clearAll leaves the object empty).
      undo_.emplace_back(UndoAllProperties{profile->store_key, std::move(profile->properties)});
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
  std::string id = profile->store_key;
  id.push_back('\0');
  id.append(name);
  if (!batch_properties_.insert(std::move(id)).second) return;
  UndoProperty u{profile->store_key, std::string(name), std::nullopt};
  if (auto it = profile->properties.find(name); it != profile->properties.end()) {
    u.before = it->value();
  }
  undo_.emplace_back(std::move(u));
}

void WorkingSet::BeginBatch() {
  in_batch_ = true;
  undo_.clear();
  batch_profiles_.clear();
  batch_fresh_.clear();
  batch_properties_.clear();
  batch_dedup_writes_ = dedup_writes_.size();
  batch_event_writes_ = event_writes_.size();
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
    } else if (auto* p = std::get_if<UndoProfile>(&*u)) {
      if (!p->before) {
        profiles_.erase(p->key);
        continue;
      }
      CachedProfile& current = profiles_[p->key];
      if (p->properties_too || !p->before->profile || !current.profile) {
        current = std::move(*p->before);
        continue;
      }
      boost::json::object properties = std::move(current.profile->properties);
      current = std::move(*p->before);
      current.profile->properties = std::move(properties);
    } else if (auto* prop = std::get_if<UndoProperty>(&*u)) {
      boost::json::object& properties = profiles_[prop->key].profile->properties;
      if (prop->before) {
        properties[prop->name] = std::move(*prop->before);
      } else {
        properties.erase(prop->name);
      }
    } else {
      auto& all = std::get<UndoAllProperties>(*u);
      profiles_[all.key].profile->properties = std::move(all.before);
    }
  }
  // Every key remembered since BeginBatch has its write after batch_dedup_writes_.
  for (size_t i = batch_dedup_writes_; i < dedup_writes_.size(); ++i) {
    dedup_.erase(dedup_writes_[i].first);
  }
  dedup_writes_.resize(batch_dedup_writes_);
  event_writes_.resize(batch_event_writes_);
  pending_next_ids_ = std::move(batch_next_ids_);
  pending_next_seq_ = batch_next_seq_;
  in_batch_ = false;
  undo_.clear();
}

Status WorkingSet::AllocateAmplitudeId(std::string_view project, uint64_t* amplitude_id) {
  std::string key = store::NextAmplitudeIdKey(project);
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
  if (dedup_.count(key) != 0) {
    *seen = true;
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

Status WorkingSet::AppendEvent(std::string_view project, int64_t ingest_ms,
                               const store::EventRecord& event) {
  if (!pending_next_seq_) {
    if (!next_seq_) {
      // The sequence only has to be unique per ingest millisecond, and keys carry the
      // time first; restarting from the persisted value keeps it unique across restarts
      // even when the clock steps back.
      uint64_t persisted = 0;
      std::string value;
      Status s = store_.Get(Table::kMeta, store::EventSeqKey(), &value);
      if (!s.IsNotFound()) {
        PROFILED_RETURN_IF_ERROR(s);
        PROFILED_RETURN_IF_ERROR(store::DecodeId(value, &persisted));
      }
      next_seq_ = persisted;
    }
    pending_next_seq_ = *next_seq_;
  }
  uint64_t seq = (*pending_next_seq_)++;
  event_writes_.emplace_back(store::EventKey(project, ingest_ms, seq), store::EncodeEvent(event));
  return Status::Ok();
}

void WorkingSet::Flush(store::WriteSet* writes) {
  for (auto& [key, id] : id_writes_) writes->Put(Table::kIdentity, key, store::EncodeId(id));
  for (auto& [key, cached] : profiles_) {
    if (!cached.touched) continue;
    if (!cached.profile) {
      writes->Delete(Table::kProfiles, key);
      continue;
    }
    store::ProfileRecord r;
    r.user_id = cached.profile->user_id;
    r.device_id = cached.profile->device_id;
    r.builtins_json = ObjectText(cached.profile->builtins);
    r.properties_json = ObjectText(cached.profile->properties);
    writes->Put(Table::kProfiles, key, store::EncodeProfile(r));
  }
  for (auto& [key, value] : dedup_writes_)
    writes->Put(Table::kDedup, std::move(key), std::move(value));
  for (auto& [key, value] : event_writes_)
    writes->Put(Table::kEvents, std::move(key), std::move(value));
  for (auto& [key, next] : pending_next_ids_) writes->Put(Table::kMeta, key, store::EncodeId(next));
  if (pending_next_seq_)
    writes->Put(Table::kMeta, store::EventSeqKey(), store::EncodeId(*pending_next_seq_));
}

void WorkingSet::Finish(bool committed) {
  if (committed) {
    for (auto& [key, next] : pending_next_ids_) next_ids_[key] = next;
    if (pending_next_seq_) next_seq_ = pending_next_seq_;
  } else {
    next_ids_.clear();
    next_seq_.reset();
  }
  pending_next_ids_.clear();
  pending_next_seq_.reset();
  in_batch_ = false;
  undo_.clear();
  ids_.clear();
  id_writes_.clear();
  profiles_.clear();
  dedup_.clear();
  dedup_writes_.clear();
  event_writes_.clear();
}

}  // namespace profiled::ingest
