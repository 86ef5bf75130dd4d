#include "ingest/schema_upgrade.h"

#include <gtest/gtest.h>

#include "core/coding.h"
#include "core/temp_dir.h"
#include "store/fault_store.h"
#include "store/keys.h"
#include "store/records.h"

namespace profiled::ingest {
namespace {

using store::Table;

class SchemaUpgradeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::RocksDbOptions o;
    o.path = dir_.path();
    o.block_cache_bytes = 8 << 20;
    auto r = store::OpenRocksDbStore(o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    store_ = std::move(r.value());
  }

  // A profile as versions 1 and 2 wrote it: under the untagged key P || be64(amplitude_id)
  // (version 1 wrote {"$set":{"big":1e309,"x":0.1}} as {"big":Infinity,"x":1E-1}).
  void PutUntaggedProfile(uint64_t amplitude_id, std::string properties_json,
                          const std::string& project = "p") {
    store::ProfileRecord r;
    r.user_id = "user-" + std::to_string(amplitude_id);
    r.properties_json = std::move(properties_json);
    store::WriteSet w;
    w.Put(Table::kProfiles, store::UserKeyPrefix(project, amplitude_id), store::EncodeProfile(r));
    ASSERT_TRUE(store_->Commit(w, false).ok());
  }

  // A logged event as the part 1 binary (schema versions 1 and 2) wrote it: EventRecord
  // version 1, without the event type.
  static std::string Version1Event(uint64_t amplitude_id, int64_t time_ms, std::string_view json) {
    std::string bytes(1, '\x01');
    PutVarint64(&bytes, amplitude_id);
    PutVarint64(&bytes, static_cast<uint64_t>(time_ms));
    bytes.append(json);
    return bytes;
  }

  void PutVersion(uint64_t version) {
    store::WriteSet w;
    w.Put(Table::kMeta, store::SchemaVersionKey(), store::EncodeId(version));
    ASSERT_TRUE(store_->Commit(w, false).ok());
  }

  // Every key of the profiles table, in order.
  std::vector<std::string> ProfileKeys() {
    std::vector<std::string> keys;
    EXPECT_TRUE(store_
                    ->Scan(Table::kProfiles, "", "\xff\xff\xff\xff",
                           [&](std::string_view key, std::string_view) {
                             keys.emplace_back(key);
                             return true;
                           })
                    .ok());
    return keys;
  }

  std::string Properties(uint64_t amplitude_id, const std::string& project = "p") {
    std::string bytes;
    EXPECT_TRUE(
        store_->Get(Table::kProfiles, store::ProfileKey(project, amplitude_id), &bytes).ok());
    store::ProfileView view;
    EXPECT_TRUE(store::DecodeProfile(bytes, &view).ok());
    return std::string(view.properties_json);
  }

  uint64_t Version() {
    std::string v;
    EXPECT_TRUE(store_->Get(Table::kMeta, store::SchemaVersionKey(), &v).ok());
    uint64_t version = 0;
    EXPECT_TRUE(store::DecodeId(v, &version).ok());
    return version;
  }

  TempDir dir_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(SchemaUpgradeTest, RepairsNonFiniteNumbersAVersion1StoreHolds) {
  PutUntaggedProfile(1, R"({"big":Infinity,"neg":-Infinity,"x":1E-1,"s":"Infinity"})");
  store::WriteSet w;
  w.Put(Table::kEvents, store::EventKey("p", 5, 0),
        Version1Event(1, 5, R"({"event_type":"a","event_properties":{"v":NaN}})"));
  ASSERT_TRUE(store_->Commit(w, false).ok());

  ASSERT_TRUE(UpgradeStore(*store_).ok());
  EXPECT_EQ(Properties(1),
            R"({"big":1.7976931348623157e+308,"neg":-1.7976931348623157e+308,"x":0.1,)"
            R"("s":"Infinity"})");
  std::string bytes;
  ASSERT_TRUE(store_->Get(Table::kEvents, store::EventKey("p", 5, 0), &bytes).ok());
  store::EventRecord read;
  ASSERT_TRUE(store::DecodeEvent(bytes, &read).ok());
  EXPECT_EQ(read.json, R"({"event_type":"a","event_properties":{"v":null}})");
  EXPECT_EQ(read.amplitude_id, 1u);
  EXPECT_EQ(read.event_type, "a") << "rewritten as version 2, which names the type";
  EXPECT_EQ(Version(), kSchemaVersion);
}

TEST_F(SchemaUpgradeTest, RewritesEveryRecordAcrossChunks) {
  for (uint64_t id = 1; id <= 2500; ++id) PutUntaggedProfile(id, R"({"n":2.5E0})");
  ASSERT_TRUE(UpgradeStore(*store_).ok());
  for (uint64_t id : {1u, 1000u, 1001u, 2000u, 2500u}) EXPECT_EQ(Properties(id), R"({"n":2.5})");
}

TEST_F(SchemaUpgradeTest, LoggedEventsWithoutNonFiniteNumbersAreNotRewritten) {
  // Boost's spelling, as the log keeps it: not the profiles' format, and left as it is.
  std::string bytes = Version1Event(1, 5, R"({"event_type":"a","v":1E-1})");
  store::WriteSet w;
  w.Put(Table::kEvents, store::EventKey("p", 5, 0), bytes);
  ASSERT_TRUE(store_->Commit(w, false).ok());
  ASSERT_TRUE(UpgradeStore(*store_).ok());
  std::string read;
  ASSERT_TRUE(store_->Get(Table::kEvents, store::EventKey("p", 5, 0), &read).ok());
  EXPECT_EQ(read, bytes);
}

TEST_F(SchemaUpgradeTest, AnUpgradedStoreIsLeftAlone) {
  ASSERT_TRUE(UpgradeStore(*store_).ok());
  EXPECT_EQ(Version(), kSchemaVersion);
  // Written after the upgrade, in forms no upgrade step leaves alone; a second start must not
  // touch them.
  store::ProfileRecord r;
  r.properties_json = R"({"n":1E0})";
  store::WriteSet w;
  w.Put(Table::kProfiles, store::ProfileKey("p", 1), store::EncodeProfile(r));
  w.Put(Table::kProfiles, store::UserKeyPrefix("p", 2), store::EncodeProfile(r));
  ASSERT_TRUE(store_->Commit(w, false).ok());
  std::vector<std::string> keys = ProfileKeys();
  ASSERT_TRUE(UpgradeStore(*store_).ok());
  EXPECT_EQ(Properties(1), R"({"n":1E0})");
  EXPECT_EQ(ProfileKeys(), keys);
}

// A store as the part 1 binary left it: version 2 stamped, profiles under untagged keys, in
// two projects (one a prefix of the other), the event log and identity untouched by the step.
TEST_F(SchemaUpgradeTest, Version2ProfilesMoveToTaggedKeys) {
  PutVersion(2);
  for (uint64_t id = 1; id <= 2500; ++id)
    PutUntaggedProfile(id, R"({"n":)" + std::to_string(id) + "}");
  PutUntaggedProfile(7, R"({"other":true})", "pp");
  store::WriteSet w;
  w.Put(Table::kIdentity, store::UserKey("p", "user-1"), store::EncodeId(1));
  std::string event = Version1Event(1, 5, R"({"event_type":"a","v":1E-1})");
  w.Put(Table::kEvents, store::EventKey("p", 5, 0), event);
  ASSERT_TRUE(store_->Commit(w, false).ok());

  ASSERT_TRUE(UpgradeStore(*store_).ok());
  EXPECT_EQ(Version(), 3u);
  for (uint64_t id : {1u, 999u, 1000u, 1001u, 2000u, 2500u}) {
    EXPECT_EQ(Properties(id), R"({"n":)" + std::to_string(id) + "}");
  }
  EXPECT_EQ(Properties(7, "pp"), R"({"other":true})");
  std::vector<std::string> keys = ProfileKeys();
  ASSERT_EQ(keys.size(), 2501u);
  for (const std::string& key : keys) {
    store::UserKeyParts parts;
    ASSERT_TRUE(store::ParseUserKey(key, &parts));
    EXPECT_EQ(parts.tail, "p") << "an untagged key is left for user " << parts.amplitude_id;
  }
  std::string read;
  ASSERT_TRUE(store_->Get(Table::kEvents, store::EventKey("p", 5, 0), &read).ok());
  EXPECT_EQ(read, event);
  ASSERT_TRUE(store_->Get(Table::kIdentity, store::UserKey("p", "user-1"), &read).ok());

  // A second start changes nothing.
  store::FaultStore watched(*store_);
  ASSERT_TRUE(UpgradeStore(watched).ok());
  EXPECT_TRUE(watched.commits().empty());
  EXPECT_EQ(ProfileKeys(), keys);
}

// A store as the first binary left it: no version key, untagged keys, version 1 JSON text.
TEST_F(SchemaUpgradeTest, Version1StoresGoThroughEveryStep) {
  PutUntaggedProfile(1, R"({"big":Infinity,"x":1E-1})");
  PutUntaggedProfile(2, R"({"n":2})");
  ASSERT_TRUE(UpgradeStore(*store_).ok());
  EXPECT_EQ(Version(), kSchemaVersion);
  EXPECT_EQ(Properties(1), R"({"big":1.7976931348623157e+308,"x":0.1})");
  EXPECT_EQ(Properties(2), R"({"n":2})");
  EXPECT_EQ(ProfileKeys(),
            (std::vector<std::string>{store::ProfileKey("p", 1), store::ProfileKey("p", 2)}));
  std::vector<std::string> keys = ProfileKeys();
  ASSERT_TRUE(UpgradeStore(*store_).ok());
  EXPECT_EQ(ProfileKeys(), keys);
  EXPECT_EQ(Properties(1), R"({"big":1.7976931348623157e+308,"x":0.1})");
}

// A crash between the two steps of a version 1 store: version 2 was stamped, some profiles
// were already moved (the first chunks) and others not. The rerun finishes the move.
TEST_F(SchemaUpgradeTest, AnInterruptedMoveResumes) {
  PutVersion(2);
  PutUntaggedProfile(1, R"({"n":1})");
  store::ProfileRecord moved;
  moved.user_id = "user-2";
  moved.properties_json = R"({"n":2})";
  store::WriteSet w;
  w.Put(Table::kProfiles, store::ProfileKey("p", 2), store::EncodeProfile(moved));
  ASSERT_TRUE(store_->Commit(w, false).ok());
  PutUntaggedProfile(3, R"({"n":3})");
  ASSERT_TRUE(UpgradeStore(*store_).ok());
  EXPECT_EQ(ProfileKeys(),
            (std::vector<std::string>{store::ProfileKey("p", 1), store::ProfileKey("p", 2),
                                      store::ProfileKey("p", 3)}));
  for (uint64_t id : {1u, 2u, 3u}) EXPECT_EQ(Properties(id), R"({"n":)" + std::to_string(id) + "}");
}

TEST_F(SchemaUpgradeTest, EachStepIsStampedDurablyWhenItIsDone) {
  PutUntaggedProfile(1, R"({"n":1E0})");
  store::FaultStore watched(*store_);
  ASSERT_TRUE(UpgradeStore(watched).ok());
  std::vector<store::FaultStore::CommitRecord> seen = watched.commits();
  // The rewrite of the profile (no logged event needs one), stamp 2, the move, stamp 3: a
  // crash after stamp 2 resumes with the move.
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[1].writes.ops()[0].key, store::SchemaVersionKey());
  EXPECT_EQ(seen[1].writes.ops()[0].value, store::EncodeId(2));
  EXPECT_EQ(seen[2].writes.ops().size(), 2u);  // the Put of the tagged key, the Delete
  EXPECT_EQ(seen[3].writes.ops()[0].value, store::EncodeId(3));
  for (const auto& c : seen) EXPECT_TRUE(c.sync);
}

TEST_F(SchemaUpgradeTest, AStoreFromANewerVersionIsRefused) {
  store::WriteSet w;
  w.Put(Table::kMeta, store::SchemaVersionKey(), store::EncodeId(kSchemaVersion + 1));
  ASSERT_TRUE(store_->Commit(w, false).ok());
  Status s = UpgradeStore(*store_);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.message().find("newer"), std::string::npos);
}

TEST_F(SchemaUpgradeTest, AnUnreadableRecordIsLeftAsItIsAndTheRestIsUpgraded) {
  store::WriteSet w;
  w.Put(Table::kProfiles, store::UserKeyPrefix("p", 1), "\x01garbage");
  w.Put(Table::kProfiles, store::ProjectPrefix("p") + "bad", "\x01garbage");
  ASSERT_TRUE(store_->Commit(w, false).ok());
  PutUntaggedProfile(2, R"({"n":Infinity})");
  ASSERT_TRUE(UpgradeStore(*store_).ok());
  std::string bytes;
  // Moved as it is: reads of it answer 500 and log it, as they did before.
  ASSERT_TRUE(store_->Get(Table::kProfiles, store::ProfileKey("p", 1), &bytes).ok());
  EXPECT_EQ(bytes, "\x01garbage");
  ASSERT_TRUE(store_->Get(Table::kProfiles, store::ProjectPrefix("p") + "bad", &bytes).ok());
  EXPECT_EQ(Properties(2), R"({"n":1.7976931348623157e+308})");
  EXPECT_EQ(Version(), kSchemaVersion);
}

}  // namespace
}  // namespace profiled::ingest
