// Amplitude's identity rules ("Track unique users"), through the real writer and store.
#include "ingest/identity.h"

#include "ingest/test_util.h"
#include "store/keys.h"

namespace profiled::ingest {
namespace {

namespace json = boost::json;
using json::object;

class Identity : public IngestFixture {};

TEST_F(Identity, FirstSeenIdsGetDistinctAmplitudeIds) {
  ApplyOk({Track("user-one", ""), Track("", "device-one"), Track("user-two", "device-two")});
  auto a = Read("user-one"), b = Read("", "device-one"), c = Read("user-two");
  ASSERT_TRUE(a.found && b.found && c.found);
  EXPECT_EQ(a.amplitude_id, 1u);
  EXPECT_EQ(b.amplitude_id, 2u);
  EXPECT_EQ(c.amplitude_id, 3u);
  EXPECT_EQ(Read("", "device-two").amplitude_id, 3u);
}

TEST_F(Identity, AnonymousDeviceIsAdoptedByItsFirstUser) {
  ApplyOk({SetProps("", "device-1", {{"anon", true}})});
  uint64_t anon = Read("", "device-1").amplitude_id;
  ApplyOk({Track("alice", "device-1")});
  auto alice = Read("alice");
  EXPECT_EQ(alice.amplitude_id, anon);
  EXPECT_EQ(alice.user_id, "alice");
  EXPECT_EQ(alice.properties, (object{{"anon", true}}));
}

TEST_F(Identity, KnownUserOnANewDeviceKeepsTheirId) {
  ApplyOk({Track("alice", "device-1")});
  ApplyOk({Track("alice", "device-2")});
  EXPECT_EQ(Read("", "device-2").amplitude_id, Read("alice").amplitude_id);
  EXPECT_EQ(Read("alice").device_id, "device-2");
}

TEST_F(Identity, DeviceOnlyEventsGoToTheLastKnownUser) {
  ApplyOk({Track("alice", "device-1"), SetProps("", "device-1", {{"after_login", 1}})});
  auto alice = Read("alice");
  EXPECT_EQ(alice.properties, (object{{"after_login", 1}}));
  EXPECT_EQ(Read("", "device-1").amplitude_id, alice.amplitude_id);
}

TEST_F(Identity, ANewUserOnAnIdentifiedDeviceGetsANewIdAndTheDeviceFollows) {
  ApplyOk({Track("alice", "device-1")});
  ApplyOk({Track("bob", "device-1"), SetProps("", "device-1", {{"who", "bob"}})});
  auto alice = Read("alice"), bob = Read("bob");
  EXPECT_NE(alice.amplitude_id, bob.amplitude_id);
  EXPECT_EQ(Read("", "device-1").amplitude_id, bob.amplitude_id);
  EXPECT_EQ(bob.properties, (object{{"who", "bob"}}));
  EXPECT_TRUE(alice.properties.empty());
}

TEST_F(Identity, AnonymousDeviceMergesIntoAKnownUser) {
  ApplyOk({SetProps("alice", "device-1", {{"plan", "pro"}, {"shared", "user"}})});
  ApplyOk({SetProps("", "device-9", {{"shared", "anon"}, {"utm", "ad"}})});
  uint64_t anon = Read("", "device-9").amplitude_id;
  uint64_t alice_id = Read("alice").amplitude_id;
  ASSERT_NE(anon, alice_id);
  ApplyOk({Track("alice", "device-9")});
  auto alice = Read("alice");
  EXPECT_EQ(alice.amplitude_id, alice_id);
  EXPECT_EQ(Read("", "device-9").amplitude_id, alice_id);
  // The anonymous profile fills in what the user lacked; the user's own values win.
  EXPECT_EQ(alice.properties, (object{{"plan", "pro"}, {"shared", "user"}, {"utm", "ad"}}));
  // The merged id keeps a record for the event log, and its profile is gone.
  std::string value;
  ASSERT_TRUE(store_->Get(store::Table::kIdentity, store::MergeKey("p", anon), &value).ok());
  uint64_t into = 0;
  ASSERT_TRUE(store::DecodeId(value, &into).ok());
  EXPECT_EQ(into, alice_id);
  EXPECT_TRUE(
      store_->Get(store::Table::kProfiles, store::ProfileKey("p", anon), &value).IsNotFound());
}

TEST_F(Identity, UserIdsNeverMerge) {
  ApplyOk({Track("alice", "device-1")});
  ApplyOk({Track("bob", "device-2")});
  // bob shows up on alice's device: the device moves to bob, the users stay apart.
  ApplyOk({Track("bob", "device-1")});
  EXPECT_NE(Read("alice").amplitude_id, Read("bob").amplitude_id);
  EXPECT_EQ(Read("", "device-1").amplitude_id, Read("bob").amplitude_id);
  EXPECT_EQ(Read("alice").user_id, "alice");
}

TEST_F(Identity, UserOnlyEventsNeedNoDevice) {
  ApplyOk({SetProps("alice", "", {{"a", 1}})});
  auto alice = Read("alice");
  ASSERT_TRUE(alice.found);
  EXPECT_EQ(alice.device_id, "");
}

TEST_F(Identity, RulesApplyInOrderWithinOneBatch) {
  // Anonymous, then login, then anonymous again: all one user.
  ApplyOk({SetProps("", "device-1", {{"step", 1}}), Track("alice", "device-1"),
           SetProps("", "device-1", {{"step", 3}})});
  auto alice = Read("alice");
  EXPECT_EQ(alice.properties, (object{{"step", 3}}));
  EXPECT_EQ(alice.amplitude_id, 1u);
}

TEST_F(Identity, ProjectsHaveSeparateIdSpaces) {
  ApplyOk({Track("alice", "device-1")}, "p");
  ApplyOk({SetProps("alice", "device-1", {{"q", true}})}, "q");
  EXPECT_EQ(Read("alice", "", "p").amplitude_id, 1u);
  EXPECT_EQ(Read("alice", "", "q").amplitude_id, 1u);
  EXPECT_TRUE(Read("alice", "", "p").properties.empty());
  EXPECT_EQ(Read("alice", "", "q").properties, (object{{"q", true}}));
}

TEST_F(Identity, AmplitudeIdsContinueAfterRestart) {
  ApplyOk({Track("alice", ""), Track("bob", "")});
  Close();
  Open();
  ApplyOk({Track("carol", "")});
  EXPECT_EQ(Read("carol").amplitude_id, 3u);
}

}  // namespace
}  // namespace profiled::ingest
