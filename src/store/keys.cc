#include "store/keys.h"

#include "core/coding.h"

namespace profiled::store {

namespace {
std::string WithPrefix(std::string_view project, char tag) {
  std::string k = ProjectPrefix(project);
  k.push_back(tag);
  return k;
}
}  // namespace

std::string ProjectPrefix(std::string_view project) {
  std::string k;
  PutLengthPrefixed(&k, project);
  return k;
}

std::string UserKey(std::string_view project, std::string_view user_id) {
  std::string k = WithPrefix(project, 'u');
  k.append(user_id);
  return k;
}

std::string DeviceKey(std::string_view project, std::string_view device_id) {
  std::string k = WithPrefix(project, 'd');
  k.append(device_id);
  return k;
}

std::string MergeKey(std::string_view project, uint64_t merged_amplitude_id) {
  std::string k = WithPrefix(project, 'm');
  PutFixed64BE(&k, merged_amplitude_id);
  return k;
}

std::string UserKeyPrefix(std::string_view project, uint64_t amplitude_id) {
  std::string k = ProjectPrefix(project);
  PutFixed64BE(&k, amplitude_id);
  return k;
}

std::string UserRecordKey(std::string_view project, uint64_t amplitude_id, UserRecord record) {
  std::string k = UserKeyPrefix(project, amplitude_id);
  k.push_back(static_cast<char>(record));
  return k;
}

std::string ProfileKey(std::string_view project, uint64_t amplitude_id) {
  return UserRecordKey(project, amplitude_id, UserRecord::kProfile);
}

bool ParseUserKey(std::string_view key, UserKeyParts* parts) {
  if (!GetLengthPrefixed(&key, &parts->project)) return false;
  if (!GetFixed64BE(&key, &parts->amplitude_id)) return false;
  parts->tail = key;
  return true;
}

std::string DedupKey(std::string_view project, std::string_view scope, std::string_view insert_id) {
  std::string k = ProjectPrefix(project);
  PutLengthPrefixed(&k, scope);
  k.append(insert_id);
  return k;
}

std::string EventKey(std::string_view project, int64_t ingest_ms, uint64_t seq) {
  std::string k = ProjectPrefix(project);
  PutFixed64BE(&k, static_cast<uint64_t>(ingest_ms));
  PutFixed64BE(&k, seq);
  return k;
}

std::string EventKeyLowerBound(std::string_view project, int64_t ingest_ms) {
  std::string k = ProjectPrefix(project);
  PutFixed64BE(&k, static_cast<uint64_t>(ingest_ms < 0 ? 0 : ingest_ms));
  return k;
}

std::string NextAmplitudeIdKey(std::string_view project) {
  std::string k = WithPrefix(project, 'a');
  return k;
}

std::string EventSeqKey() { return std::string("\0event_seq", 10); }
std::string SchemaVersionKey() { return std::string("\0schema_version", 15); }

std::string DefinitionKey(std::string_view project, char kind, std::string_view id) {
  std::string k = DefinitionKeyPrefix(project);
  k.push_back(kind);
  k.append(id);
  return k;
}

std::string DefinitionKeyPrefix(std::string_view project) { return WithPrefix(project, 'D'); }

std::string SpecKey(std::string_view project, uint64_t spec_id) {
  std::string k = SpecKeyPrefix(project);
  PutFixed64BE(&k, spec_id);
  return k;
}

std::string SpecKeyPrefix(std::string_view project) { return WithPrefix(project, 'S'); }

std::string NextSpecIdKey(std::string_view project) { return WithPrefix(project, 'N'); }

std::string DefinitionsVersionKey(std::string_view project) { return WithPrefix(project, 'V'); }

std::string StaticMemberKey(std::string_view project, std::string_view cohort_id,
                            uint64_t amplitude_id) {
  std::string k = StaticMemberPrefix(project, cohort_id);
  PutFixed64BE(&k, amplitude_id);
  return k;
}

std::string StaticMemberPrefix(std::string_view project, std::string_view cohort_id) {
  std::string k = WithPrefix(project, 'M');
  PutLengthPrefixed(&k, cohort_id);
  return k;
}

std::string ModelKeyPrefix(std::string_view project, std::string_view rec_id) {
  std::string k = WithPrefix(project, 'R');
  PutLengthPrefixed(&k, rec_id);
  return k;
}

std::string ModelHeadKey(std::string_view project, std::string_view rec_id) {
  return ModelKeyPrefix(project, rec_id) + 'h';
}

std::string ModelRequestKey(std::string_view project, std::string_view rec_id) {
  return ModelKeyPrefix(project, rec_id) + 'r';
}

std::string ModelChunkKey(std::string_view project, std::string_view rec_id, uint64_t generation,
                          uint32_t index) {
  std::string k = ModelKeyPrefix(project, rec_id) + 'c';
  PutFixed64BE(&k, generation);
  PutFixed64BE(&k, index);
  return k;
}

std::string TrainerLeaseKey(std::string_view project) { return WithPrefix(project, 'L'); }

std::string DeletionJobKey(std::string_view project, uint64_t job_id) {
  std::string k = DeletionJobPrefix(project);
  PutFixed64BE(&k, job_id);
  return k;
}

std::string DeletionJobPrefix(std::string_view project) { return WithPrefix(project, 'X'); }

std::string GroupKey(std::string_view project, std::string_view group_type,
                     std::string_view group_name) {
  std::string k = GroupKeyPrefix(project);
  PutLengthPrefixed(&k, group_type);
  PutLengthPrefixed(&k, group_name);
  return k;
}

std::string GroupKeyPrefix(std::string_view project) { return WithPrefix(project, 'G'); }

std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
  if (!end.empty()) end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
}

}  // namespace profiled::store
