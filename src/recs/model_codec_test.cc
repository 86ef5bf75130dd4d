#include "recs/model_codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "core/coding.h"
#include "core/hash.h"
#include "recs/ease.h"
#include "recs/item_knn.h"
#include "recs/popular.h"
#include "recs/test_util.h"

namespace profiled::recs {
namespace {

using testing::ClusteredData;
using testing::ClusteredDataOptions;

std::string Key(int32_t item) { return "item-" + std::to_string(item); }

TrainingSet ClusteredSet() {
  Interactions data = ClusteredData({});
  TrainingSet set;
  for (int32_t u = 0; u < data.num_users(); ++u) {
    for (int32_t i : data.items_of(u)) set.Add(1000 + static_cast<uint64_t>(u), Key(i));
  }
  return set;
}

std::shared_ptr<const ServingModel> Train(ModelKind kind, int32_t max_dense_items = 20'000) {
  ModelOptions options;
  options.kind = kind;
  options.lambda = 10;
  options.neighbours = 8;
  options.max_dense_items = max_dense_items;
  Result<std::shared_ptr<const ServingModel>> model =
      TrainServingModel(options, ClusteredSet(), 1'700'000'000'123);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return model.ok() ? *model : nullptr;
}

std::shared_ptr<const ServingModel> MustDecode(std::string_view bytes) {
  Result<std::shared_ptr<const ServingModel>> decoded = DecodeServingModel(bytes);
  EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
  return decoded.ok() ? *decoded : nullptr;
}

// Replaces the trailing checksum with the right one, so that only the structure is wrong.
void Rechecksum(std::string* bytes) {
  bytes->resize(bytes->size() - 8);
  PutFixed64LE(bytes, StableHash(*bytes));
}

void ExpectCorruption(std::string_view bytes, std::string_view what) {
  Result<std::shared_ptr<const ServingModel>> decoded = DecodeServingModel(bytes);
  ASSERT_FALSE(decoded.ok()) << what;
  EXPECT_EQ(decoded.status().code(), ErrorCode::kCorruption) << decoded.status().ToString();
  EXPECT_NE(decoded.status().message().find(what), std::string::npos)
      << decoded.status().ToString() << " should name " << what;
}

Served MustServe(const ServingModel& model, const ServeRequest& request) {
  Served out;
  Status s = Serve(model, request, &out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

void ExpectSameAnswers(const ServingModel& a, const ServingModel& b) {
  EXPECT_EQ(a.requested, b.requested);
  EXPECT_EQ(a.used, b.used);
  EXPECT_EQ(a.note, b.note);
  EXPECT_EQ(a.items, b.items);
  EXPECT_EQ(a.by_popularity, b.by_popularity);
  EXPECT_EQ(a.users, b.users);
  EXPECT_EQ(a.interactions, b.interactions);
  EXPECT_EQ(a.trained_at_ms, b.trained_at_ms);
  EXPECT_EQ(a.train_seconds, b.train_seconds);
  EXPECT_EQ(a.memory_bytes, b.memory_bytes);
  for (size_t i = 0; i < b.items.size(); ++i)
    EXPECT_EQ(b.Find(b.items[i]), static_cast<int32_t>(i));
  ASSERT_EQ(a.model == nullptr, b.model == nullptr);
  if (a.model == nullptr) return;
  ASSERT_EQ(a.model->kind(), b.model->kind());
  ASSERT_EQ(a.model->num_items(), b.model->num_items());
  const int32_t n = a.model->num_items();
  std::vector<int32_t> all(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) all[static_cast<size_t>(i)] = n - 1 - i;

  const std::vector<std::vector<int32_t>> histories = {
      {}, {0}, {5, 6, 7}, {n - 1, 3, 20}, {1, 2, 3, 4, 30, 31, 40, 41}};
  for (const std::vector<int32_t>& history : histories) {
    if (std::any_of(history.begin(), history.end(), [n](int32_t i) { return i >= n; })) continue;
    std::vector<float> sa(static_cast<size_t>(n));
    std::vector<float> sb(static_cast<size_t>(n));
    a.model->Score(history, sa);
    b.model->Score(history, sb);
    EXPECT_EQ(sa, sb);
    a.model->ScoreItems(history, all, sa);
    b.model->ScoreItems(history, all, sb);
    EXPECT_EQ(sa, sb);

    std::vector<std::string_view> keys;
    keys.reserve(history.size() + 1);
    for (int32_t i : history) keys.emplace_back(a.items[static_cast<size_t>(i)]);
    keys.emplace_back("not-an-item");
    std::vector<std::string> candidates = {"unknown"};
    for (size_t i : {10, 2, 44}) {
      if (i < a.items.size()) candidates.push_back(a.items[i]);
    }
    for (uint64_t id : {1ULL, 2ULL, 77ULL}) {
      ServeRequest request;
      request.amplitude_id = id;
      request.rec_id = "r1";
      request.control_percentage = 30;
      request.history = keys;
      request.limit = 12;
      const Served ta = MustServe(a, request);
      const Served tb = MustServe(b, request);
      EXPECT_EQ(ta.items, tb.items);
      EXPECT_EQ(ta.is_control, tb.is_control);
      EXPECT_EQ(ta.random, tb.random);
      request.override = ServeRequest::Override::kModel;
      request.candidate_items = candidates;
      EXPECT_EQ(MustServe(a, request).items, MustServe(b, request).items);
    }
  }
}

void ExpectRoundTrip(const ServingModel& model) {
  const std::string bytes = EncodeServingModel(model);
  std::shared_ptr<const ServingModel> decoded = MustDecode(bytes);
  ASSERT_NE(decoded, nullptr);
  ExpectSameAnswers(model, *decoded);
  EXPECT_EQ(EncodeServingModel(*decoded), bytes);
}

TEST(ModelCodec, EaseRoundTripsAndServesTheSame) {
  std::shared_ptr<const ServingModel> model = Train(ModelKind::kEase);
  ASSERT_NE(model, nullptr);
  ASSERT_EQ(model->model->kind(), ModelKind::kEase);
  ExpectRoundTrip(*model);
}

TEST(ModelCodec, ItemKnnRoundTripsAndServesTheSame) {
  std::shared_ptr<const ServingModel> model = Train(ModelKind::kItemKnn);
  ASSERT_NE(model, nullptr);
  ExpectRoundTrip(*model);
}

TEST(ModelCodec, PopularRoundTripsAndServesTheSame) {
  std::shared_ptr<const ServingModel> model = Train(ModelKind::kPopular);
  ASSERT_NE(model, nullptr);
  ExpectRoundTrip(*model);
}

TEST(ModelCodec, EaseFallenBackToItemKnnKeepsItsKindsAndNote) {
  std::shared_ptr<const ServingModel> model = Train(ModelKind::kEase, 20);
  ASSERT_NE(model, nullptr);
  ASSERT_EQ(model->used, ModelKind::kItemKnn);
  ASSERT_FALSE(model->note.empty());
  ExpectRoundTrip(*model);
}

TEST(ModelCodec, EaseWithUntrainedItemsRoundTrips) {
  // Items 51..59 have no interaction: their B rows and columns are implicit zeros.
  Interactions data = ClusteredData({});
  std::vector<std::vector<int32_t>> user_items;
  for (int32_t u = 0; u < data.num_users(); ++u) {
    std::span<const int32_t> items = data.items_of(u);
    user_items.emplace_back(items.begin(), items.end());
  }
  Result<Interactions> wider = Interactions::FromUserItems(60, std::move(user_items));
  ASSERT_TRUE(wider.ok());
  Result<std::unique_ptr<EaseModel>> ease = EaseModel::Train(*wider, 10, 1000);
  ASSERT_TRUE(ease.ok()) << ease.status().ToString();
  ASSERT_LT((*ease)->trained_items(), 60);
  ServingModel model;
  model.requested = model.used = ModelKind::kEase;
  for (int32_t i = 0; i < 60; ++i) {
    model.items.push_back(Key(i));
    model.by_popularity.push_back(i);
  }
  model.model = std::move(ease.value());
  model.IndexItems();
  ExpectRoundTrip(model);
}

TEST(ModelCodec, ModelsOfNoItemsRoundTrip) {
  ServingModel model;
  model.model = std::make_unique<EaseModel>();
  ExpectRoundTrip(model);
  model.model = std::make_unique<ItemKnnModel>();
  ExpectRoundTrip(model);
  model.model = std::make_unique<PopularModel>(std::vector<float>{});
  ExpectRoundTrip(model);
}

TEST(ModelCodec, NullItemModelRoundTripsAsNull) {
  ServingModel model;
  model.requested = ModelKind::kEase;
  model.used = ModelKind::kItemKnn;
  model.note = "why";
  model.items = {"a", "b"};
  model.by_popularity = {1, 0};
  model.users = 3;
  model.interactions = -4;
  model.trained_at_ms = 5;
  model.train_seconds = 0.25;
  model.memory_bytes = 6;
  model.IndexItems();
  const std::string bytes = EncodeServingModel(model);
  std::shared_ptr<const ServingModel> decoded = MustDecode(bytes);
  ASSERT_NE(decoded, nullptr);
  EXPECT_EQ(decoded->model, nullptr);
  ExpectSameAnswers(model, *decoded);
  EXPECT_EQ(decoded->Find("b"), 1);
  EXPECT_EQ(EncodeServingModel(*decoded), bytes);
}

TEST(ModelCodec, StartsWithMagicAndVersion) {
  const std::string bytes = EncodeServingModel(ServingModel());
  EXPECT_EQ(bytes.substr(0, 4), std::string("PRM\x01", 4));
}

TEST(ModelCodec, EveryTruncationFailsWithCorruption) {
  for (ModelKind kind : {ModelKind::kEase, ModelKind::kItemKnn, ModelKind::kPopular}) {
    std::shared_ptr<const ServingModel> model = Train(kind);
    ASSERT_NE(model, nullptr);
    const std::string bytes = EncodeServingModel(*model);
    for (size_t length = 0; length < bytes.size(); ++length) {
      Result<std::shared_ptr<const ServingModel>> decoded =
          DecodeServingModel(std::string_view(bytes).substr(0, length));
      ASSERT_FALSE(decoded.ok()) << ModelName(kind) << " " << length;
      ASSERT_EQ(decoded.status().code(), ErrorCode::kCorruption) << decoded.status().ToString();
    }
  }
}

TEST(ModelCodec, EveryFlippedByteFails) {
  for (ModelKind kind : {ModelKind::kEase, ModelKind::kItemKnn, ModelKind::kPopular}) {
    std::shared_ptr<const ServingModel> model = Train(kind);
    ASSERT_NE(model, nullptr);
    const std::string bytes = EncodeServingModel(*model);
    std::string damaged = bytes;
    for (size_t at = 0; at < bytes.size(); ++at) {
      for (char flip : {'\x01', '\x80'}) {
        damaged[at] = static_cast<char>(bytes[at] ^ flip);
        Result<std::shared_ptr<const ServingModel>> decoded = DecodeServingModel(damaged);
        ASSERT_FALSE(decoded.ok()) << ModelName(kind) << " " << at;
        ASSERT_EQ(decoded.status().code(), ErrorCode::kCorruption) << decoded.status().ToString();
      }
      damaged[at] = bytes[at];
    }
  }
}

TEST(ModelCodec, FlippedWeightFailsTheChecksum) {
  std::shared_ptr<const ServingModel> model = Train(ModelKind::kEase);
  ASSERT_NE(model, nullptr);
  std::string bytes = EncodeServingModel(*model);
  bytes[bytes.size() - 20] ^= 0x10;  // inside B
  ExpectCorruption(bytes, "checksum");
}

TEST(ModelCodec, TrailingBytesFail) {
  std::shared_ptr<const ServingModel> model = Train(ModelKind::kPopular);
  ASSERT_NE(model, nullptr);
  std::string bytes = EncodeServingModel(*model);
  bytes.push_back('\0');
  ExpectCorruption(bytes, "trailing");
  Rechecksum(&bytes);  // a checksum over the extra byte does not make it fit
  ExpectCorruption(bytes, "trailing");
}

TEST(ModelCodec, TruncatedBytesSaySo) {
  std::shared_ptr<const ServingModel> model = Train(ModelKind::kItemKnn);
  ASSERT_NE(model, nullptr);
  const std::string bytes = EncodeServingModel(*model);
  ExpectCorruption(std::string_view(bytes).substr(0, bytes.size() - 1), "truncated");
  ExpectCorruption(std::string_view(bytes).substr(0, bytes.size() / 2), "truncated");
  ExpectCorruption("", "truncated");
}

TEST(ModelCodec, UnknownVersionFails) {
  std::string bytes = EncodeServingModel(ServingModel());
  bytes[3] = 2;
  Rechecksum(&bytes);
  ExpectCorruption(bytes, "unknown format version 2");
  bytes[0] = 'X';
  ExpectCorruption(bytes, "magic");
}

// The bytes of `model` without its item model: what precedes the item model kind.
std::string MetadataOf(const ServingModel& model) {
  std::string bytes = EncodeServingModel(model);  // a null item model: one kind byte, 0
  bytes.resize(bytes.size() - 9);
  return bytes;
}

// `metadata`, then an item model of kind `tag` whose body is `body`, then the checksum.
std::string WithItemModel(std::string metadata, uint64_t tag, std::string_view body) {
  PutVarint64(&metadata, tag);
  metadata.append(body);
  PutFixed64LE(&metadata, StableHash(metadata));
  return metadata;
}

ServingModel ThreeItems() {
  ServingModel model;
  model.items = {"a", "b", "c"};
  model.by_popularity = {0, 1, 2};
  return model;
}

constexpr uint64_t kPopularTag = 1;
constexpr uint64_t kItemKnnTag = 2;
constexpr uint64_t kEaseTag = 3;

std::string EaseBody(uint64_t num_items, const std::vector<int32_t>& trained) {
  std::string body;
  PutVarint64(&body, num_items);
  PutVarint64(&body, trained.size());
  PutArrayLE(&body, std::span<const int32_t>(trained));
  const std::vector<float> weights(trained.size() * trained.size(), 0.5F);
  PutArrayLE(&body, std::span<const float>(weights));
  return body;
}

std::string ItemKnnBody(uint64_t num_items, uint64_t kept, const std::vector<int64_t>& offsets,
                        const std::vector<int32_t>& neighbours) {
  std::string body;
  PutVarint64(&body, num_items);
  PutVarint64(&body, kept);
  PutArrayLE(&body, std::span<const int64_t>(offsets));
  PutArrayLE(&body, std::span<const int32_t>(neighbours));
  const std::vector<float> sims(neighbours.size(), 0.5F);
  PutArrayLE(&body, std::span<const float>(sims));
  return body;
}

TEST(ModelCodec, HandBuiltBodiesDecodeWhenTheyFit) {
  // The helpers below write the real format: these decode, so the failures that follow are
  // failures of one thing each.
  const std::string metadata = MetadataOf(ThreeItems());
  EXPECT_NE(MustDecode(WithItemModel(metadata, kEaseTag, EaseBody(3, {0, 2}))), nullptr);
  EXPECT_NE(
      MustDecode(WithItemModel(metadata, kItemKnnTag, ItemKnnBody(3, 3, {0, 2, 2, 3}, {1, 2, 0}))),
      nullptr);
}

TEST(ModelCodec, EaseTrainedItemOutOfRangeOrOrderFails) {
  const std::string metadata = MetadataOf(ThreeItems());
  ExpectCorruption(WithItemModel(metadata, kEaseTag, EaseBody(3, {0, 3})), "trained item 3");
  ExpectCorruption(WithItemModel(metadata, kEaseTag, EaseBody(3, {0, -1})), "trained item -1");
  ExpectCorruption(WithItemModel(metadata, kEaseTag, EaseBody(3, {2, 1})), "trained item 1");
  ExpectCorruption(WithItemModel(metadata, kEaseTag, EaseBody(3, {1, 1})), "trained item 1");
  ExpectCorruption(WithItemModel(metadata, kEaseTag, EaseBody(3, {0, 1, 2, 2})),
                   "4 trained items of 3");
}

TEST(ModelCodec, ItemModelOverAnotherItemCountFails) {
  const std::string metadata = MetadataOf(ThreeItems());
  ExpectCorruption(WithItemModel(metadata, kEaseTag, EaseBody(4, {0, 2})),
                   "ease model over 4 items, expected 3");
  // A huge item count must not be allocated for.
  ExpectCorruption(WithItemModel(metadata, kEaseTag, EaseBody(uint64_t{1} << 31, {})),
                   "expected 3");
  ExpectCorruption(WithItemModel(metadata, kItemKnnTag, ItemKnnBody(2, 0, {0, 0, 0}, {})),
                   "itemknn model over 2 items, expected 3");
  std::string popular;
  PutVarint64(&popular, 2);
  PutArrayLE(&popular, std::span<const float>(std::vector<float>{1, 2}));
  ExpectCorruption(WithItemModel(metadata, kPopularTag, popular), "popular model over 2 items");
}

TEST(ModelCodec, ItemKnnBadOffsetsOrNeighboursFail) {
  const std::string metadata = MetadataOf(ThreeItems());
  ExpectCorruption(WithItemModel(metadata, kItemKnnTag, ItemKnnBody(3, 3, {0, 2, 1, 3}, {1, 2, 0})),
                   "decrease at item 1");
  ExpectCorruption(WithItemModel(metadata, kItemKnnTag, ItemKnnBody(3, 3, {0, 2, 2, 4}, {1, 2, 0})),
                   "offsets do not span");
  ExpectCorruption(WithItemModel(metadata, kItemKnnTag, ItemKnnBody(3, 3, {1, 2, 2, 3}, {1, 2, 0})),
                   "offsets do not span");
  ExpectCorruption(WithItemModel(metadata, kItemKnnTag, ItemKnnBody(3, 3, {0, 2, 2, 3}, {1, 3, 0})),
                   "neighbour 3");
  ExpectCorruption(
      WithItemModel(metadata, kItemKnnTag, ItemKnnBody(3, 3, {0, 2, 2, 3}, {1, -2, 0})),
      "neighbour -2");
  // A kept count past the bytes is truncation, not an allocation.
  ExpectCorruption(WithItemModel(metadata, kItemKnnTag,
                                 ItemKnnBody(3, uint64_t{1} << 40, {0, 2, 2, 3}, {1, 2, 0})),
                   "truncated");
}

TEST(ModelCodec, UnknownOrUnservableItemModelKindFails) {
  const std::string metadata = MetadataOf(ThreeItems());
  ExpectCorruption(WithItemModel(metadata, 4, ""), "unknown item model kind 4");  // ials
  ExpectCorruption(WithItemModel(metadata, 5, ""), "unknown item model kind 5");  // blend
  ExpectCorruption(WithItemModel(metadata, 99, ""), "unknown item model kind 99");
}

TEST(ModelCodec, ByPopularityOutOfRangeOrRepeatedFails) {
  ServingModel model = ThreeItems();
  model.model = std::make_unique<PopularModel>(std::vector<float>{3, 2, 1});
  model.by_popularity = {0, 3};
  ExpectCorruption(EncodeServingModel(model), "by_popularity entry 3");
  model.by_popularity = {0, -1};
  ExpectCorruption(EncodeServingModel(model), "by_popularity entry -1");
  model.by_popularity = {0, 1, 0};
  ExpectCorruption(EncodeServingModel(model), "by_popularity entry 0");
}

TEST(ModelCodec, RepeatedItemKeyFails) {
  ServingModel model = ThreeItems();
  model.items = {"a", "b", "a"};
  ExpectCorruption(EncodeServingModel(model), "item key \"a\" repeated");
}

TEST(ModelCodec, UnknownModelKindFails) {
  std::string bytes = EncodeServingModel(ServingModel());
  bytes[4] = 9;  // requested
  Rechecksum(&bytes);
  ExpectCorruption(bytes, "unknown model kind 9");
}

TEST(ModelCodec, HugeCountsAreTruncationNotAllocation) {
  std::string bytes = "PRM\x01";
  bytes.append({0, 0, 0});                 // requested, used, empty note
  PutVarint64(&bytes, uint64_t{1} << 60);  // items
  PutFixed64LE(&bytes, StableHash(bytes));
  ExpectCorruption(bytes, "truncated in the items");
  bytes = EncodeServingModel(ServingModel());
  bytes.resize(7);
  bytes.push_back(0);                      // no items
  PutVarint64(&bytes, uint64_t{1} << 60);  // by_popularity
  PutFixed64LE(&bytes, StableHash(bytes));
  ExpectCorruption(bytes, "truncated in by_popularity");
}

// Not a time limit: prints what a large ease model costs (docs/RECS.md quotes it).
TEST(ModelCodec, LargeEaseModelCodesAtAboutCopySpeed) {
  constexpr int32_t kItems = 3000;
  ServingModel model;
  for (int32_t i = 0; i < kItems; ++i) {
    model.items.push_back(Key(i));
    model.by_popularity.push_back(i);
  }
  std::vector<int32_t> trained(kItems);
  for (int32_t i = 0; i < kItems; ++i) trained[static_cast<size_t>(i)] = i;
  std::string body = EaseBody(kItems, trained);
  std::mt19937 engine(1);
  std::uniform_real_distribution<float> weight(-1, 1);
  const size_t weights_at = body.size() - size_t{4} * kItems * kItems;
  for (size_t at = weights_at; at < body.size(); at += 4) {
    const float w = weight(engine);
    std::memcpy(body.data() + at, &w, 4);
  }
  const std::string bytes = WithItemModel(MetadataOf(model), kEaseTag, body);

  using Clock = std::chrono::steady_clock;
  auto seconds = [](Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
  };
  Clock::time_point start = Clock::now();
  std::shared_ptr<const ServingModel> decoded = MustDecode(bytes);
  const double decode_seconds = seconds(start);
  ASSERT_NE(decoded, nullptr);
  start = Clock::now();
  const std::string again = EncodeServingModel(*decoded);
  const double encode_seconds = seconds(start);
  EXPECT_EQ(again, bytes);
  start = Clock::now();
  const uint64_t hash = StableHash(bytes);
  const double hash_seconds = seconds(start);
  const double mb = static_cast<double>(bytes.size()) / 1e6;
  std::printf(
      "ease over %d items, %.0f MB: decode %.3f s, encode %.3f s (checksum alone %.3f s, "
      "%llx)\n",
      kItems, mb, decode_seconds, encode_seconds, hash_seconds,
      static_cast<unsigned long long>(hash));
}

}  // namespace
}  // namespace profiled::recs
