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
  return out;
}

Status DecodeModelHead(std::string_view bytes, ModelHead* head) {
  ModelHead h;
  RecTrainingStatus& st = h.status;
  uint64_t chunks = 0;
  const bool ok = !bytes.empty() && bytes[0] == kHeadVersion && [&] {
    bytes.remove_prefix(1);
    if (!GetVarint64(&bytes, &h.generation) || !GetVarint64(&bytes, &chunks) ||
        chunks > UINT32_MAX || !GetString(&bytes, &h.training_key) ||
        !GetString(&bytes, &h.request_seen) || bytes.empty()) {
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
           GetInt(&bytes, &st.failures) && bytes.empty();
  }();
  if (!ok) return Status::Corruption("a recommendation model head does not decode");
  h.chunks = static_cast<uint32_t>(chunks);
  *head = std::move(h);
  return Status::Ok();
}

Status WriteModelChunks(store::Store& store, std::string_view project, std::string_view rec_id,
                        uint64_t generation, std::string_view bytes, uint32_t* chunks) {
  const size_t count =
      std::max<size_t>(1, (bytes.size() + kModelChunkBytes - 1) / kModelChunkBytes);
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

Status DeleteOtherGenerations(store::Store& store, std::string_view project,
                              std::string_view rec_id, uint64_t keep) {
  const std::string prefix = store::ModelChunkPrefix(project, rec_id);
  PROFILED_RETURN_IF_ERROR(store.DeleteRange(store::Table::kMeta, prefix,
                                             store::ModelChunkKey(project, rec_id, keep, 0)));
  if (keep == UINT64_MAX) return Status::Ok();
  return store.DeleteRange(store::Table::kMeta, store::ModelChunkKey(project, rec_id, keep + 1, 0),
                           store::PrefixEnd(prefix));
}

}  // namespace profiled::ingest
