// Trained recommendation models in the store, so that one node trains a model and every node
// serves it (docs/RECS.md, "Models in the store").
//
// One recommendation's model lives in kMeta under store::ModelKeyPrefix(project, rec id):
//  - its head (ModelHead): the generation serving, the training key it was trained for, its
//    size in chunks, the last training request honoured, and the training status every node
//    reports;
//  - its chunks: the bytes of recs::EncodeServingModel cut into kModelChunkBytes pieces, under
//    (generation, index). A generation's chunks are all written before a head names it and
//    never change after, so a reader that takes the head and then the chunks gets the whole
//    model, or finds a chunk missing or damaged (the encoding's checksum) and tries again
//    later: a newer head has replaced it;
//  - its training request: a token any node writes (the admin API's POST .../train).
// The functions are stateless; errors are the store's, or Corruption for undecodable bytes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "recs/offline.h"
#include "recs/serving.h"
#include "store/store.h"

namespace profiled::ingest {

// What the admin API reports of a recommendation's model.
struct RecTrainingStatus {
  enum class State { kPending, kTraining, kReady, kFailed };
  State state = State::kPending;  // kPending: never trained yet
  double progress = 0;            // 0..1 while training
  int64_t last_trained_ms = 0;    // when the serving model finished training; 0 = none
  double last_duration_seconds = 0;
  int64_t users = 0;  // of the serving model
  int64_t items = 0;
  int64_t interactions = 0;
  std::string model;      // the serving model's kind ("ease", ...)
  std::string note;       // e.g. why ease fell back to itemknn
  std::string error;      // the last failure, when state is kFailed
  int64_t trainings = 0;  // trainings that ended with a model, kept in the store
  int64_t failures = 0;   // trainings that failed, kept in the store
  // The serving model's offline figures (recs::MeasureOffline), measured at its training;
  // none when not measurable (or trained by a version that did not measure them).
  std::optional<recs::OfflineFigures> offline;
};
std::string_view StateName(RecTrainingStatus::State state);

struct ModelHead {
  uint64_t generation = 0;  // of the serving model's chunks; 0 = no model yet
  uint32_t chunks = 0;      // of that generation
  // A generation being written (or left half-written by a trainer that stopped): the next
  // trainer deletes its chunks. 0 = none.
  uint64_t pending_generation = 0;
  uint32_t pending_chunks = 0;
  std::string training_key;  // compute::TrainingKey of the definition it was trained for
  std::string request_seen;  // the last training request (token) the model answers
  RecTrainingStatus status;
};

// Pieces of an encoded model: small enough for one store write each, large enough that a
// 160 MB ease model is 160 writes.
inline constexpr size_t kModelChunkBytes = 1 << 20;

std::string EncodeModelHead(const ModelHead& head);
// Corruption when `bytes` is not an EncodeModelHead value.
Status DecodeModelHead(std::string_view bytes, ModelHead* head);

// The number of chunks WriteModelChunks cuts `bytes` bytes into (at least 1).
uint64_t ChunkCount(size_t bytes);

// Writes `bytes` as the chunks of `generation` of the model of (project, rec_id), a few
// chunks per commit; sets *chunks to their number. Nothing names them until a head does.
Status WriteModelChunks(store::Store& store, std::string_view project, std::string_view rec_id,
                        uint64_t generation, std::string_view bytes, uint32_t* chunks);

// Reads and decodes the model `head` names. NotFound when a chunk is missing (the generation
// was replaced meanwhile), Corruption when the bytes do not decode, else the store's error.
// REQUIRES: head.generation != 0.
Result<std::shared_ptr<const recs::ServingModel>> ReadModel(store::Store& store,
                                                            std::string_view project,
                                                            std::string_view rec_id,
                                                            const ModelHead& head);

// Deletes chunks [0, chunks) of `generation` of (project, rec_id), by name (no scan).
Status DeleteChunks(store::Store& store, std::string_view project, std::string_view rec_id,
                    uint64_t generation, uint32_t chunks);

// Deletes what the store holds of the model of (project, rec_id): the chunks its head names
// (serving and pending), the head and the training request.
Status DeleteModel(store::Store& store, std::string_view project, std::string_view rec_id);

}  // namespace profiled::ingest
