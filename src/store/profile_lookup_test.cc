#include "store/profile_lookup.h"

#include <gtest/gtest.h>

#include "core/temp_dir.h"
#include "store/fault_store.h"
#include "store/keys.h"

namespace profiled::store {
namespace {

class ProfileLookupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RocksDbOptions o;
    o.path = dir_.path();
    o.block_cache_bytes = 8 << 20;
    store_ = std::move(OpenRocksDbStore(o).value());
    WriteSet w;
    w.Put(Table::kIdentity, UserKey("p", "alice"), EncodeId(7));
    w.Put(Table::kIdentity, DeviceKey("p", "dev-1"), EncodeId(7));
    w.Put(Table::kIdentity, DeviceKey("p", "dev-2"), EncodeId(8));
    w.Put(Table::kProfiles, ProfileKey("p", 7),
          EncodeProfile({"alice", "dev-1", "{}", R"({"a":1})"}));
    w.Put(Table::kProfiles, ProfileKey("p", 8), EncodeProfile({"", "dev-2", "{}", R"({"b":2})"}));
    ASSERT_TRUE(store_->Commit(w, false).ok());
  }
  TempDir dir_;
  std::unique_ptr<Store> store_;
  std::string buffer_;
  ProfileView view_;
  uint64_t id_ = 0;
};

TEST_F(ProfileLookupTest, FindsByUserId) {
  ASSERT_TRUE(FindProfile(*store_, "p", "alice", "", &id_, &buffer_, &view_).ok());
  EXPECT_EQ(id_, 7u);
  EXPECT_EQ(view_.properties_json, R"({"a":1})");
}

TEST_F(ProfileLookupTest, FindsByDeviceId) {
  ASSERT_TRUE(FindProfile(*store_, "p", "", "dev-2", &id_, &buffer_, &view_).ok());
  EXPECT_EQ(id_, 8u);
  EXPECT_EQ(view_.user_id, "");
}

TEST_F(ProfileLookupTest, UserIdTakesPrecedenceOverDeviceId) {
  ASSERT_TRUE(FindProfile(*store_, "p", "alice", "dev-2", &id_, &buffer_, &view_).ok());
  EXPECT_EQ(id_, 7u);
  EXPECT_TRUE(FindProfile(*store_, "p", "nobody", "dev-2", &id_, &buffer_, &view_).IsNotFound());
}

TEST_F(ProfileLookupTest, OtherProjectsSeeNothing) {
  EXPECT_TRUE(FindProfile(*store_, "q", "alice", "", &id_, &buffer_, &view_).IsNotFound());
  EXPECT_TRUE(FindProfile(*store_, "q", "", "dev-1", &id_, &buffer_, &view_).IsNotFound());
}

// What the ingest writer commits when dev-2's anonymous profile 8 merges into alice (7).
WriteSet MergeDev2IntoAlice() {
  WriteSet w;
  w.Put(Table::kIdentity, DeviceKey("p", "dev-2"), EncodeId(7));
  w.Put(Table::kIdentity, MergeKey("p", 8), EncodeId(7));
  w.Delete(Table::kProfiles, ProfileKey("p", 8));
  w.Put(Table::kProfiles, ProfileKey("p", 7),
        EncodeProfile({"alice", "dev-2", "{}", R"({"a":1,"b":2})"}));
  return w;
}

TEST_F(ProfileLookupTest, ADeviceReadRacingAMergeFindsTheMergedProfile) {
  FaultStore faults(*store_);
  // The merge commits between the device lookup (-> 8) and the read of profile 8.
  faults.BeforeGet(Table::kProfiles, ProfileKey("p", 8),
                   [&] { ASSERT_TRUE(store_->Commit(MergeDev2IntoAlice(), false).ok()); });
  ASSERT_TRUE(FindProfile(faults, "p", "", "dev-2", &id_, &buffer_, &view_).ok());
  EXPECT_EQ(id_, 7u);
  EXPECT_EQ(view_.user_id, "alice");
  EXPECT_EQ(view_.properties_json, R"({"a":1,"b":2})");
}

TEST_F(ProfileLookupTest, AReadErrorIsReportedNotTakenForAnUnknownId) {
  FaultStore faults(*store_);
  faults.FailNextGets(1, Status::IoError("injected"));
  Status s = FindProfile(faults, "p", "", "dev-2", &id_, &buffer_, &view_);
  EXPECT_EQ(s.code(), ErrorCode::kIoError);
}

TEST_F(ProfileLookupTest, ARecordThatDoesNotDecodeIsCorruption) {
  WriteSet w;
  w.Put(Table::kProfiles, ProfileKey("p", 8), "\x09garbage");
  ASSERT_TRUE(store_->Commit(w, false).ok());
  Status s = FindProfile(*store_, "p", "", "dev-2", &id_, &buffer_, &view_);
  EXPECT_EQ(s.code(), ErrorCode::kCorruption);
}

}  // namespace
}  // namespace profiled::store
