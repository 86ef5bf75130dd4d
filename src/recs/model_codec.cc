#include "recs/model_codec.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstdint>
#include <iterator>
#include <new>
#include <span>
#include <string>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "core/coding.h"
#include "core/hash.h"
#include "recs/ease.h"
#include "recs/item_knn.h"
#include "recs/popular.h"

namespace profiled::recs {

namespace {

constexpr std::string_view kMagic = "PRM";
constexpr uint8_t kVersion = 1;
constexpr size_t kChecksumBytes = 8;

// ModelKind as stored: fixed codes, independent of the enum's order.
uint64_t KindCode(ModelKind kind) {
  switch (kind) {
    case ModelKind::kPopular: return 0;
    case ModelKind::kItemKnn: return 1;
    case ModelKind::kEase: return 2;
    case ModelKind::kIals: return 3;
    case ModelKind::kBlend: return 4;
  }
  return 0;
}

bool KindFromCode(uint64_t code, ModelKind* kind) {
  constexpr ModelKind kKinds[] = {ModelKind::kPopular, ModelKind::kItemKnn, ModelKind::kEase,
                                  ModelKind::kIals, ModelKind::kBlend};
  if (code >= std::size(kKinds)) return false;
  *kind = kKinds[code];
  return true;
}

// Which ItemModel follows the metadata: 0 none, else KindCode + 1 (only servable kinds).
constexpr uint64_t kNoItemModel = 0;

Status Corrupt(std::string_view what) {
  return Status::Corruption("serving model: " + std::string(what));
}

// About the encoded size, so that the output is allocated once (not a contract: a wrong guess
// costs a reallocation).
size_t EncodedSizeHint(const ServingModel& model) {
  size_t size = 128 + model.note.size() + 4 * model.by_popularity.size();
  for (const std::string& key : model.items) size += key.size() + 2;
  if (model.model == nullptr) return size;
  const auto n = static_cast<size_t>(model.model->num_items());
  if (const auto* ease = dynamic_cast<const EaseModel*>(model.model.get())) {
    const auto m = static_cast<size_t>(ease->trained_items());
    size += 4 * m + 4 * m * m;
  } else if (const auto* knn = dynamic_cast<const ItemKnnModel*>(model.model.get())) {
    size += 8 * (n + 1);
    for (int32_t i = 0; i < model.model->num_items(); ++i) size += 8 * knn->neighbours_of(i).size();
  } else {
    size += 4 * n;
  }
  return size;
}

// Asks for transparent huge pages under a fresh output buffer before its first touch: the bytes
// of an ease model are hundreds of MB written once, and faulting them in 4 KiB pages cost more
// than copying them (164 MB: 0.55 s against 0.16 s advised, on the 2-core test machine). Advice
// only: where it is refused the buffer is ordinary pages.
void AdviseHugePages(std::string* buffer) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr size_t kHugePage = size_t{2} << 20;
  char* const data = buffer->data();
  const size_t head = (kHugePage - reinterpret_cast<uintptr_t>(data) % kHugePage) % kHugePage;
  if (buffer->capacity() < head + kHugePage) return;
  const size_t length = (buffer->capacity() - head) / kHugePage * kHugePage;
  (void)madvise(data + head, length, MADV_HUGEPAGE);
#else
  (void)buffer;
#endif
}

void AppendItemModel(const ItemModel* model, std::string* out) {
  if (model == nullptr) {
    PutVarint64(out, kNoItemModel);
    return;
  }
  assert(Servable(model->kind()));
  PutVarint64(out, KindCode(model->kind()) + 1);
  if (const auto* ease = dynamic_cast<const EaseModel*>(model)) {
    ease->AppendTo(out);
  } else if (const auto* knn = dynamic_cast<const ItemKnnModel*>(model)) {
    knn->AppendTo(out);
  } else if (const auto* popular = dynamic_cast<const PopularModel*>(model)) {
    popular->AppendTo(out);
  }
}

Result<std::unique_ptr<ItemModel>> DecodeItemModel(std::string_view* in, int32_t num_items) {
  uint64_t tag = 0;
  if (!GetVarint64(in, &tag)) return Corrupt("truncated in the item model kind");
  if (tag == kNoItemModel) return std::unique_ptr<ItemModel>();
  ModelKind kind = ModelKind::kPopular;
  if (!KindFromCode(tag - 1, &kind) || !Servable(kind)) {
    return Corrupt("unknown item model kind " + std::to_string(tag));
  }
  auto upcast = [](auto decoded) -> Result<std::unique_ptr<ItemModel>> {
    if (!decoded.ok()) return decoded.status();
    return std::unique_ptr<ItemModel>(std::move(decoded.value()));
  };
  switch (kind) {
    case ModelKind::kEase: return upcast(EaseModel::DecodeFrom(in, num_items));
    case ModelKind::kItemKnn: return upcast(ItemKnnModel::DecodeFrom(in, num_items));
    case ModelKind::kPopular: return upcast(PopularModel::DecodeFrom(in, num_items));
    default: break;
  }
  return Corrupt("unknown item model kind " + std::to_string(tag));
}

Result<std::shared_ptr<const ServingModel>> Decode(std::string_view bytes) {
  std::string_view in = bytes;
  if (in.size() < kMagic.size() + 1) return Corrupt("truncated in the header");
  if (in.substr(0, kMagic.size()) != kMagic) return Corrupt("no \"PRM\" magic");
  if (const auto version = static_cast<uint8_t>(in[kMagic.size()]); version != kVersion) {
    return Corrupt("unknown format version " + std::to_string(version));
  }
  in.remove_prefix(kMagic.size() + 1);

  auto model = std::make_shared<ServingModel>();
  uint64_t requested = 0;
  uint64_t used = 0;
  if (!GetVarint64(&in, &requested) || !GetVarint64(&in, &used)) {
    return Corrupt("truncated in the model kinds");
  }
  if (!KindFromCode(requested, &model->requested) || !KindFromCode(used, &model->used)) {
    return Corrupt("unknown model kind " + std::to_string(std::max(requested, used)));
  }
  std::string_view note;
  if (!GetLengthPrefixed(&in, &note)) return Corrupt("truncated in the note");
  model->note = note;

  uint64_t count = 0;
  if (!GetVarint64(&in, &count)) return Corrupt("truncated in the item count");
  // Each key takes at least its length byte.
  if (count > in.size()) return Corrupt("truncated in the items");
  if (count > static_cast<uint64_t>(INT32_MAX)) return Corrupt("too many items");
  model->items.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    std::string_view key;
    if (!GetLengthPrefixed(&in, &key)) return Corrupt("truncated in the items");
    model->items.emplace_back(key);
  }
  const auto num_items = static_cast<int32_t>(count);

  if (!GetVarint64(&in, &count)) return Corrupt("truncated in by_popularity");
  if (!HasArrayLE<int32_t>(in, count)) return Corrupt("truncated in by_popularity");
  model->by_popularity.resize(count);
  (void)GetArrayLE(&in, std::span<int32_t>(model->by_popularity));

  uint64_t fields[5] = {};
  if (!GetArrayLE(&in, std::span<uint64_t>(fields))) return Corrupt("truncated in the counts");
  model->users = static_cast<int64_t>(fields[0]);
  model->interactions = static_cast<int64_t>(fields[1]);
  model->trained_at_ms = static_cast<int64_t>(fields[2]);
  model->train_seconds = std::bit_cast<double>(fields[3]);
  model->memory_bytes = fields[4];

  Result<std::unique_ptr<ItemModel>> item_model = DecodeItemModel(&in, num_items);
  if (!item_model.ok()) return item_model.status();
  model->model = std::move(item_model.value());

  if (in.size() < kChecksumBytes) return Corrupt("truncated in the checksum");
  if (in.size() > kChecksumBytes) {
    return Corrupt(std::to_string(in.size() - kChecksumBytes) + " trailing bytes");
  }
  const std::string_view body = bytes.substr(0, bytes.size() - kChecksumBytes);
  uint64_t checksum = 0;
  (void)GetFixed64LE(&in, &checksum);
  if (checksum != StableHash(body)) return Corrupt("checksum mismatch");

  std::vector<uint8_t> listed(model->items.size(), 0);
  for (int32_t i : model->by_popularity) {
    if (i < 0 || i >= num_items || listed[static_cast<size_t>(i)] != 0) {
      return Corrupt("by_popularity entry " + std::to_string(i) + " out of range or repeated");
    }
    listed[static_cast<size_t>(i)] = 1;
  }
  model->IndexItems();
  for (size_t i = 0; i < model->items.size(); ++i) {
    if (model->Find(model->items[i]) != static_cast<int32_t>(i)) {
      return Corrupt("item key \"" + model->items[i] + "\" repeated");
    }
  }
  return std::shared_ptr<const ServingModel>(std::move(model));
}

}  // namespace

std::string EncodeServingModel(const ServingModel& model) {
  std::string out;
  out.reserve(EncodedSizeHint(model));
  AdviseHugePages(&out);
  out.append(kMagic);
  out.push_back(static_cast<char>(kVersion));
  PutVarint64(&out, KindCode(model.requested));
  PutVarint64(&out, KindCode(model.used));
  PutLengthPrefixed(&out, model.note);
  PutVarint64(&out, model.items.size());
  for (const std::string& key : model.items) PutLengthPrefixed(&out, key);
  PutVarint64(&out, model.by_popularity.size());
  PutArrayLE(&out, std::span<const int32_t>(model.by_popularity));
  const uint64_t fields[5] = {static_cast<uint64_t>(model.users),
                              static_cast<uint64_t>(model.interactions),
                              static_cast<uint64_t>(model.trained_at_ms),
                              std::bit_cast<uint64_t>(model.train_seconds), model.memory_bytes};
  PutArrayLE(&out, std::span<const uint64_t>(fields));
  AppendItemModel(model.model.get(), &out);
  PutFixed64LE(&out, StableHash(out));
  return out;
}

Result<std::shared_ptr<const ServingModel>> DecodeServingModel(std::string_view bytes) {
  try {
    return Decode(bytes);
  } catch (const std::bad_alloc&) {
    return Status::Internal("serving model: out of memory decoding " +
                            std::to_string(bytes.size()) + " bytes");
  }
}

}  // namespace profiled::recs
