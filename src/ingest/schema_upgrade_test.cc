#include "ingest/schema_upgrade.h"

#include <gtest/gtest.h>

#include "core/temp_dir.h"
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

  // A profile as the first version wrote it for {"$set":{"big":1e309,"x":0.1}}.
  void PutVersion1Profile(uint64_t amplitude_id, std::string properties_json) {
    store::ProfileRecord r;
    r.user_id = "user-" + std::to_string(amplitude_id);
    r.properties_json = std::move(properties_json);
    store::WriteSet w;
    w.Put(Table::kProfiles, store::ProfileKey("p", amplitude_id), store::EncodeProfile(r));
    ASSERT_TRUE(store_->Commit(w, false).ok());
  }

  std::string Properties(uint64_t amplitude_id) {
    std::string bytes;
    EXPECT_TRUE(store_->Get(Table::kProfiles, store::ProfileKey("p", amplitude_id), &bytes).ok());
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
  PutVersion1Profile(1, R"({"big":Infinity,"neg":-Infinity,"x":1E-1,"s":"Infinity"})");
  store::EventRecord event{1, 5, R"({"event_type":"a","event_properties":{"v":NaN}})"};
  store::WriteSet w;
  w.Put(Table::kEvents, store::EventKey("p", 5, 0), store::EncodeEvent(event));
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
  EXPECT_EQ(Version(), kSchemaVersion);
}

TEST_F(SchemaUpgradeTest, RewritesEveryRecordAcrossChunks) {
  for (uint64_t id = 1; id <= 2500; ++id) PutVersion1Profile(id, R"({"n":2.5E0})");
  ASSERT_TRUE(UpgradeStore(*store_).ok());
  for (uint64_t id : {1u, 1000u, 1001u, 2000u, 2500u}) EXPECT_EQ(Properties(id), R"({"n":2.5})");
}

TEST_F(SchemaUpgradeTest, LoggedEventsWithoutNonFiniteNumbersAreNotRewritten) {
  // Boost's spelling, as the log keeps it: not the profiles' format, and left as it is.
  std::string bytes = store::EncodeEvent({1, 5, R"({"event_type":"a","v":1E-1})"});
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
  // Written after the upgrade; a second start must not touch it.
  PutVersion1Profile(1, R"({"n":1E0})");
  ASSERT_TRUE(UpgradeStore(*store_).ok());
  EXPECT_EQ(Properties(1), R"({"n":1E0})");
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
  w.Put(Table::kProfiles, store::ProfileKey("p", 1), "\x01garbage");
  ASSERT_TRUE(store_->Commit(w, false).ok());
  PutVersion1Profile(2, R"({"n":Infinity})");
  ASSERT_TRUE(UpgradeStore(*store_).ok());
  std::string bytes;
  ASSERT_TRUE(store_->Get(Table::kProfiles, store::ProfileKey("p", 1), &bytes).ok());
  EXPECT_EQ(bytes, "\x01garbage");
  EXPECT_EQ(Properties(2), R"({"n":1.7976931348623157e+308})");
  EXPECT_EQ(Version(), kSchemaVersion);
}

}  // namespace
}  // namespace profiled::ingest
