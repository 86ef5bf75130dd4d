#include "ingest/model_store.h"

#include <algorithm>
#include <bit>
#include <vector>

#include "core/coding.h"
#include "recs/model_codec.h"
#include "store/keys.h"

namespace profiled::ingest {

namespace {

constexpr char kHeadVersion = 1;
// Chunks written per commit.
constexpr uint32_t kChunksPerCommit = 4;
// Chunks read per MultiGet.
constexpr uint32_t kChunksPerRead = 16;
// Chunk deletes per commit.
constexpr size_t kDeletesPerCommit = 64;

void PutInt(std::string* out, int64_t v) { PutVarint64(out, static_cast<uint64_t>(v)); }
void PutDouble(std::string* out, double v) { PutFixed64BE(out, std::bit_cast<uint64_t>(v)); }

bool GetInt(std::string_view* in, int64_t* v) {
  uint64_t u = 0;
  if (!GetVarint64(in, &u)) return false;
  *v = static_cast<int64_t>(u);
  return true;
}
bool GetDouble(std::string_view* in, double* v) {
  uint64_t u = 0;
  if (!GetFixed64BE(in, &u)) return false;
  *v = std::bit_cast<double>(u);
  return true;
}
bool GetString(std::string_view* in, std::string* s) {
  std::string_view v;
  if (!GetLengthPrefixed(in, &v)) return false;
  s->assign(v);
  return true;
}

}  // namespace

std::string_view StateName(RecTrainingStatus::State state) {
  switch (state) {
    case RecTrainingStatus::State::kPending: return "pending";
    case RecTrainingStatus::State::kTraining: return "training";
    case RecTrainingStatus::State::kReady: return "ready";
    case RecTrainingStatus::State::kFailed: return "failed";
  }
  return "pending";
}

std::string EncodeModelHead(const ModelHead& head) {
  std::string out(1, kHeadVersion);
  PutVarint64(&out, head.generation);
  PutVarint64(&out, head.chunks);
  PutVarint64(&out, head.pending_generation);
  PutVarint64(&out, head.pending_chunks);
  PutLengthPrefixed(&out, head.training_key);
  PutLengthPrefixed(&out, head.request_seen);
  const RecTrainingStatus& st = head.status;
  out.push_back(static_cast<char>(st.state));
  PutDouble(&out, st.progress);
  PutInt(&out, st.last_trained_ms);
  PutDouble(&out, st.last_duration_seconds);
  PutInt(&out, st.users);
  PutInt(&out, st.items);
  PutInt(&out, st.interactions);
  PutLengthPrefixed(&out, st.model);
  PutLengthPrefixed(&out, st.note);
  PutLengthPrefixed(&out, st.error);
  PutInt(&out, st.trainings);
  PutInt(&out, st.failures);
  // Added after the first release of the head: a head without it decodes with none.
  out.push_back(st.offline.has_value() ? 1 : 0);
  if (st.offline.has_value()) {
    PutDouble(&out, st.offline->hit_rate);
    PutDouble(&out, st.offline->ndcg);
    PutInt(&out, static_cast<int64_t>(st.offline->k));
    PutInt(&out, st.offline->users);
  }
  return out;
}

Status DecodeModelHead(std::string_view bytes, ModelHead* head) {
  ModelHead h;
  RecTrainingStatus& st = h.status;
  uint64_t chunks = 0;
  uint64_t pending_chunks = 0;
  const bool ok = !bytes.empty() && bytes[0] == kHeadVersion && [&] {
    bytes.remove_prefix(1);
    if (!GetVarint64(&bytes, &h.generation) || !GetVarint64(&bytes, &chunks) ||
        chunks > UINT32_MAX || !GetVarint64(&bytes, &h.pending_generation) ||
        !GetVarint64(&bytes, &pending_chunks) || pending_chunks > UINT32_MAX ||
        !GetString(&bytes, &h.training_key) || !GetString(&bytes, &h.request_seen) ||
        bytes.empty()) {
      return false;
    }
    const auto state = static_cast<uint8_t>(bytes[0]);
    bytes.remove_prefix(1);
    if (state > static_cast<uint8_t>(RecTrainingStatus::State::kFailed)) return false;
    st.state = static_cast<RecTrainingStatus::State>(state);
    return GetDouble(&bytes, &st.progress) && GetInt(&bytes, &st.last_trained_ms) &&
           GetDouble(&bytes, &st.last_duration_seconds) && GetInt(&bytes, &st.users) &&
           GetInt(&bytes, &st.items) && GetInt(&bytes, &st.interactions) &&
           GetString(&bytes, &st.model) && GetString(&bytes, &st.note) &&
           GetString(&bytes, &st.error) && GetInt(&bytes, &st.trainings) &&
           GetInt(&bytes, &st.failures) && [&] {
             if (bytes.empty()) return true;  // written before the offline figures
             const char has = bytes[0];
             bytes.remove_prefix(1);
             if (has == 0) return bytes.empty();
             if (has != 1) return false;
             recs::OfflineFigures f;
             int64_t k = 0;
             if (!GetDouble(&bytes, &f.hit_rate) || !GetDouble(&bytes, &f.ndcg) ||
                 !GetInt(&bytes, &k) || k < 1 || !GetInt(&bytes, &f.users) || !bytes.empty()) {
               return false;
             }
             f.k = static_cast<size_t>(k);
             st.offline = f;
             return true;
           }();
  }();
  if (!ok) return Status::Corruption("a recommendation model head does not decode");
  h.chunks = static_cast<uint32_t>(chunks);
  h.pending_chunks = static_cast<uint32_t>(pending_chunks);
  *head = std::move(h);
  return Status::Ok();
}

uint64_t ChunkCount(size_t bytes) {
  return std::max<uint64_t>(1, (bytes + kModelChunkBytes - 1) / kModelChunkBytes);
}

Status WriteModelChunks(store::Store& store, std::string_view project, std::string_view rec_id,
                        uint64_t generation, std::string_view bytes, uint32_t* chunks) {
  const uint64_t count = ChunkCount(bytes.size());
  if (count > UINT32_MAX) return Status::InvalidArgument("a model too large to store");
  store::WriteSet writes;
  for (uint32_t i = 0; i < count; ++i) {
    std::string_view piece =
        bytes.substr(std::min(bytes.size(), i * kModelChunkBytes), kModelChunkBytes);
    writes.Put(store::Table::kMeta, store::ModelChunkKey(project, rec_id, generation, i),
               std::string(piece));
    if (writes.ops().size() == kChunksPerCommit || i + 1 == count) {
      PROFILED_RETURN_IF_ERROR(store.Commit(writes, true));
      writes.Clear();
    }
  }
  *chunks = static_cast<uint32_t>(count);
  return Status::Ok();
}

Result<std::shared_ptr<const recs::ServingModel>> ReadModel(store::Store& store,
                                                            std::string_view project,
                                                            std::string_view rec_id,
                                                            const ModelHead& head) {
  std::string bytes;
  bytes.reserve(uint64_t{head.chunks} * kModelChunkBytes);
  std::vector<std::string> keys;
  std::vector<std::string> values;
  std::vector<Status> statuses;
  for (uint32_t first = 0; first < head.chunks; first += kChunksPerRead) {
    keys.clear();
    for (uint32_t i = first; i < std::min(head.chunks, first + kChunksPerRead); ++i) {
      keys.push_back(store::ModelChunkKey(project, rec_id, head.generation, i));
    }
    PROFILED_RETURN_IF_ERROR(store.MultiGet(store::Table::kMeta, keys, &values, &statuses));
    for (size_t i = 0; i < keys.size(); ++i) {
      PROFILED_RETURN_IF_ERROR(statuses[i]);
      bytes += values[i];
    }
  }
  return recs::DecodeServingModel(bytes);
}

Status DeleteChunks(store::Store& store, std::string_view project, std::string_view rec_id,
                    uint64_t generation, uint32_t chunks) {
  store::WriteSet writes;
  for (uint32_t i = 0; i < chunks; ++i) {
    writes.Delete(store::Table::kMeta, store::ModelChunkKey(project, rec_id, generation, i));
    if (writes.ops().size() == kDeletesPerCommit || i + 1 == chunks) {
      PROFILED_RETURN_IF_ERROR(store.Commit(writes, true));
      writes.Clear();
    }
  }
  return Status::Ok();
}

Status DeleteModel(store::Store& store, std::string_view project, std::string_view rec_id) {
  const std::string head_key = store::ModelHeadKey(project, rec_id);
  std::string value;
  Status s = store.Get(store::Table::kMeta, head_key, &value);
  ModelHead head;
  if (s.ok() && DecodeModelHead(value, &head).ok()) {
    if (head.generation != 0) {
      PROFILED_RETURN_IF_ERROR(DeleteChunks(store, project, rec_id, head.generation, head.chunks));
    }
    if (head.pending_generation != 0) {
      PROFILED_RETURN_IF_ERROR(
          DeleteChunks(store, project, rec_id, head.pending_generation, head.pending_chunks));
    }
  } else if (!s.ok() && !s.IsNotFound()) {
    return s;
  }
  store::WriteSet writes;
  writes.Delete(store::Table::kMeta, head_key);
  writes.Delete(store::Table::kMeta, store::ModelRequestKey(project, rec_id));
  return store.Commit(writes, true);
}

}  // namespace profiled::ingest
