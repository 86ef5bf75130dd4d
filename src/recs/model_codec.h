// The bytes of a trained ServingModel, so that one process trains a model and stores it (a
// shared store holds it in chunks) and others decode and serve it. docs/RECS.md ("Model
// format") gives the layout: "PRM" and a version byte, the metadata, the item keys, the
// ItemModel's own bytes (little-endian fixed width, copied in bulk: an ease model of 20,000
// items, 1.6 GB of weights, costs about a memcpy and a checksum pass), and last a 64-bit
// StableHasher checksum of everything before it.
// Pure functions; thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"
#include "recs/serving.h"

namespace profiled::recs {

// Encodes `model` (its ItemModel included: ease, itemknn or popular) as bytes that
// DecodeServingModel turns back into a model that serves exactly the same answers, and that
// encode to the same bytes again. A null `model.model` is encoded as such.
// REQUIRES: model.model is null or Servable(model.model->kind()); model.model->num_items()
// == model.items.size(); the keys distinct; by_popularity distinct indices into items (as
// TrainServingModel builds it). May throw std::bad_alloc (the bytes are the model's size).
std::string EncodeServingModel(const ServingModel& model);

// Decodes EncodeServingModel's bytes into an indexed model (IndexItems ran). Fails with
// Corruption naming what is wrong when the bytes are truncated, have trailing bytes, fail the
// checksum, have an unknown format version or model kind, or hold sizes or indices that do not
// fit (a repeated item key, a by_popularity entry out of range or repeated, an item model over
// another number of items, …, and each ItemModel's own checks, e.g. EaseModel::DecodeFrom);
// with Internal when memory runs out. Never throws; allocates no more than the bytes' length
// justifies (plus the item index).
Result<std::shared_ptr<const ServingModel>> DecodeServingModel(std::string_view bytes);

}  // namespace profiled::recs
