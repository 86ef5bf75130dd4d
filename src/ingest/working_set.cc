#include "ingest/working_set.h"

#include "ingest/value_text.h"
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
  ids_[key] = id;
  id_writes_[std::move(key)] = id;
}

void WorkingSet::PutDevice(std::string_view project, std::string_view device_id, uint64_t id) {
  std::string key = store::DeviceKey(project, device_id);
  ids_[key] = id;
  id_writes_[std::move(key)] = id;
}

void WorkingSet::PutMerge(std::string_view project, uint64_t from, uint64_t into) {
  id_writes_[store::MergeKey(project, from)] = into;
}

Status WorkingSet::GetProfile(std::string_view project, uint64_t amplitude_id, Profile** profile) {
  std::string key = store::ProfileKey(project, amplitude_id);
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
  CachedProfile& c = profiles_[store::ProfileKey(project, amplitude_id)];
  c.profile.emplace();
  c.touched = true;
  return &*c.profile;
}

void WorkingSet::DeleteProfile(std::string_view project, uint64_t amplitude_id) {
  CachedProfile& c = profiles_[store::ProfileKey(project, amplitude_id)];
  c.profile.reset();
  c.touched = true;
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
  ids_.clear();
  id_writes_.clear();
  profiles_.clear();
  dedup_.clear();
  dedup_writes_.clear();
  event_writes_.clear();
}

}  // namespace profiled::ingest
