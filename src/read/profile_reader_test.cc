#include "read/profile_reader.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <tuple>

#include "core/temp_dir.h"
#include "store/fault_store.h"
#include "store/keys.h"
#include "store/records.h"

namespace profiled::read {
namespace {

constexpr int64_t kNow = 1767225600000;  // 2026-01-01T00:00:00Z
constexpr int64_t kDay = 86400000;

compute::AggregateSpec PurchasesIn30Days() {
  compute::AggregateSpec spec;
  spec.event_type = "Purchase";
  spec.scope.kind = compute::TimeScope::Kind::kRolling;
  spec.scope.days = 30;
  return spec;
}

// A store with users written as the writer writes them, and a catalog with one computation
// (id 7, purchases in 30 days over spec 1) and two cohorts: "buyers" (>= 2 of them) and the
// static "vip".
class ProfileReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::RocksDbOptions options;
    options.path = dir_.path();
    disk_ = std::move(store::OpenRocksDbStore(options).value());
    store_ = std::make_unique<store::FaultStore>(*disk_);
    reader_ = std::make_unique<ProfileReader>(*store_, catalogs_, clock_);
    SetCatalog(/*with_static_cohort=*/true);
  }

  // Project "p": computation 7 (purchases in 30 days), cohort "buyers" (2 of them), and the
  // static cohort "vip" when `with_static_cohort`.
  void SetCatalog(bool with_static_cohort) {
    compute::Computation purchases{7, "purchases", PurchasesIn30Days()};
    compute::Cohort buyers;
    buyers.id = "buyers";
    compute::CohortCondition condition;
    condition.spec = PurchasesIn30Days();
    condition.operand = 2;
    buyers.all_of.push_back({false, {condition}});
    std::vector<compute::ServedCohort> cohorts = {{buyers, {{1}}}};
    if (with_static_cohort) {
      compute::Cohort vip;
      vip.id = "vip";
      vip.is_static = true;
      cohorts.push_back({vip, {}});
    }
    catalogs_.Set("p",
                  std::make_shared<const compute::ProjectCatalog>(
                      std::vector<compute::SpecEntry>{{1, PurchasesIn30Days(), true}},
                      std::vector<compute::ServedComputation>{{purchases, 1}}, std::move(cohorts)));
  }

  // The record keys a read of user `id` by user_id asks the store for.
  size_t RecordKeysRead(uint64_t id) {
    PreparedRead prepared;
    reader_->Prepare("p", "user-" + std::to_string(id), "", Everything(), &prepared);
    EXPECT_TRUE(reader_->Resolve(store::EncodeId(id), &prepared).ok());
    return prepared.keys.size();
  }

  // User `id` ("user-<id>"), with `purchases` purchase events at times `when`, in the given
  // static cohorts.
  void PutUser(uint64_t id, const std::vector<int64_t>& when,
               const std::vector<std::string>& static_cohorts = {}) {
    std::string user_id = "user-" + std::to_string(id);
    store::WriteSet w;
    w.Put(store::Table::kIdentity, store::UserKey("p", user_id), store::EncodeId(id));
    store::ProfileRecord profile;
    profile.user_id = user_id;
    profile.properties_json = R"({"plan":"pro"})";
    w.Put(store::Table::kProfiles, store::ProfileKey("p", id), store::EncodeProfile(profile));
    if (!when.empty()) {
      compute::UserAggregates aggregates;
      for (int64_t t : when) {
        aggregates.states[1].Add(PurchasesIn30Days(), {"Purchase", t, nullptr, nullptr}, kNow);
      }
      w.Put(store::Table::kProfiles, store::UserRecordKey("p", id, store::UserRecord::kAggregates),
            aggregates.Encode());
    }
    if (!static_cohorts.empty()) {
      w.Put(store::Table::kProfiles,
            store::UserRecordKey("p", id, store::UserRecord::kStaticCohorts),
            store::EncodeStaticCohorts(static_cohorts));
    }
    ASSERT_TRUE(store_->Commit(w, false).ok());
  }

  Status Read(const std::string& user_id, const ReadOptions& options, UserData* out) {
    return reader_->Read("p", user_id, "", options, out);
  }

  static ReadOptions Everything() {
    ReadOptions o;
    o.computations = true;
    o.cohorts = true;
    return o;
  }

  TempDir dir_;
  ManualClock clock_{kNow};
  std::unique_ptr<store::Store> disk_;
  std::unique_ptr<store::FaultStore> store_;
  compute::CatalogHolder catalogs_;
  std::unique_ptr<ProfileReader> reader_;
};

TEST_F(ProfileReaderTest, ReadsTheProfileComputedValuesAndCohortsWithOneMultiGet) {
  PutUser(1, {kNow, kNow - kDay}, {"vip"});
  UserData user;
  size_t multi_gets = store_->MultiGetCalls(store::Table::kProfiles);
  ASSERT_TRUE(Read("user-1", Everything(), &user).ok());
  EXPECT_EQ(store_->MultiGetCalls(store::Table::kProfiles), multi_gets + 1);
  EXPECT_EQ(store_->GetCalls(store::Table::kProfiles), 0u);
  EXPECT_EQ(user.amplitude_id, 1u);
  EXPECT_EQ(user.profile.properties_json, R"({"plan":"pro"})");
  ASSERT_EQ(user.computed.size(), 1u);
  EXPECT_EQ(user.computed[0].first, 7u);
  EXPECT_EQ(std::get<int64_t>(user.computed[0].second), 2);
  EXPECT_EQ(user.cohort_ids, (std::vector<std::string>{"buyers", "vip"}));
}

TEST_F(ProfileReaderTest, OnASharedStoreARepeatedReadByUserIdCostsOneStoreRead) {
  PutUser(1, {kNow});
  store::FaultStore shared(*disk_, /*shared=*/true);
  ProfileReader reader(shared, catalogs_, clock_);
  UserData user;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(reader.Read("p", "user-1", "", Everything(), &user).ok());
    EXPECT_EQ(user.amplitude_id, 1u);
  }
  EXPECT_EQ(shared.GetCalls(store::Table::kIdentity), 1u) << "the mapping is read once";
  EXPECT_EQ(shared.MultiGetCalls(store::Table::kProfiles), 3u);
  // Another user's first read asks the store.
  PutUser(2, {kNow});
  ASSERT_TRUE(reader.Read("p", "user-2", "", Everything(), &user).ok());
  EXPECT_EQ(shared.GetCalls(store::Table::kIdentity), 2u);
  // Not on a store one process owns: its own caches do this.
  size_t before = store_->GetCalls(store::Table::kIdentity);
  ASSERT_TRUE(Read("user-1", Everything(), &user).ok());
  ASSERT_TRUE(Read("user-1", Everything(), &user).ok());
  EXPECT_EQ(store_->GetCalls(store::Table::kIdentity), before + 2);
}

TEST_F(ProfileReaderTest, MembershipIsEvaluatedAtTheReadersClock) {
  PutUser(1, {kNow - 29 * kDay, kNow});
  UserData user;
  ASSERT_TRUE(Read("user-1", Everything(), &user).ok());
  EXPECT_EQ(user.cohort_ids, (std::vector<std::string>{"buyers"}));
  clock_.Advance(kDay);
  ASSERT_TRUE(Read("user-1", Everything(), &user).ok());
  EXPECT_TRUE(user.cohort_ids.empty());
  EXPECT_EQ(std::get<int64_t>(user.computed[0].second), 1);
}

TEST_F(ProfileReaderTest, AUserWithoutAggregatesCountsZero) {
  PutUser(1, {});
  UserData user;
  ASSERT_TRUE(Read("user-1", Everything(), &user).ok());
  ASSERT_EQ(user.computed.size(), 1u);
  EXPECT_EQ(std::get<int64_t>(user.computed[0].second), 0);
  EXPECT_TRUE(user.cohort_ids.empty());
}

TEST_F(ProfileReaderTest, ReadsTheStaticMembershipsOnlyWhenAStaticCohortIsServed) {
  PutUser(1, {kNow, kNow - kDay}, {"vip"});
  EXPECT_EQ(RecordKeysRead(1), 3u);  // the profile, the aggregates, the static memberships
  SetCatalog(/*with_static_cohort=*/false);
  EXPECT_EQ(RecordKeysRead(1), 2u);
  UserData user;
  ASSERT_TRUE(Read("user-1", Everything(), &user).ok());
  ASSERT_EQ(user.computed.size(), 1u);
  EXPECT_EQ(std::get<int64_t>(user.computed[0].second), 2);
  EXPECT_EQ(user.cohort_ids, (std::vector<std::string>{"buyers"}));
}

TEST_F(ProfileReaderTest, ReadsOnlyTheProfileWhenNoSectionIsAskedFor) {
  PutUser(1, {kNow});
  UserData user;
  ASSERT_TRUE(Read("user-1", ReadOptions{}, &user).ok());
  EXPECT_TRUE(user.computed.empty());
  EXPECT_TRUE(user.cohort_ids.empty());
  EXPECT_EQ(user.profile.user_id, "user-1");
}

// A project whose only definition is a recommendation: a read that does not ask for
// recommendations has nothing to evaluate, so it reads the profile alone (not the
// aggregates record, which holds the item histories).
TEST_F(ProfileReaderTest, ARecommendationAloneCostsReadsWithoutRecsNothing) {
  compute::ServedRecommendation rec;
  rec.definition.id = "r1";
  rec.definition.model = "ease";
  rec.definition.item_event = "Purchase";
  rec.definition.item_property = "sku";
  rec.definition.history = compute::HistorySpecOf(rec.definition);
  rec.spec_id = 2;
  catalogs_.Set("p",
                std::make_shared<const compute::ProjectCatalog>(
                    std::vector<compute::SpecEntry>{{2, rec.definition.history, true}},
                    std::vector<compute::ServedComputation>{}, std::vector<compute::ServedCohort>{},
                    std::vector<compute::ServedRecommendation>{rec}));
  PutUser(1, {kNow});
  bool aggregates_read = false;
  store_->BeforeGet(store::Table::kProfiles,
                    store::UserRecordKey("p", 1, store::UserRecord::kAggregates),
                    [&] { aggregates_read = true; });
  UserData user;
  ASSERT_TRUE(Read("user-1", Everything(), &user).ok());
  EXPECT_FALSE(aggregates_read);
  EXPECT_EQ(user.profile.user_id, "user-1");
  EXPECT_TRUE(user.computed.empty());
  EXPECT_TRUE(user.cohort_ids.empty());
  EXPECT_TRUE(user.recommendations.empty());
}

TEST_F(ProfileReaderTest, NarrowsComputationsToTheIdsAskedFor) {
  PutUser(1, {kNow});
  UserData user;
  ReadOptions o = Everything();
  o.computation_ids = {8};
  ASSERT_TRUE(Read("user-1", o, &user).ok());
  EXPECT_TRUE(user.computed.empty());
}

TEST_F(ProfileReaderTest, ReadByIdFindsAUserMergedAwayBetweenTheMergeRecordsAndTheProfile) {
  PutUser(9, {kNow});
  store::WriteSet anonymous;
  store::ProfileRecord profile;
  profile.device_id = "device-5";
  anonymous.Put(store::Table::kProfiles, store::ProfileKey("p", 5), store::EncodeProfile(profile));
  ASSERT_TRUE(store_->Commit(anonymous, false).ok());
  // The merge of 5 into 9 commits just before the profile read of 5.
  store_->BeforeGet(store::Table::kProfiles, store::ProfileKey("p", 5), [&] {
    store::WriteSet merge;
    merge.Put(store::Table::kIdentity, store::MergeKey("p", 5), store::EncodeId(9));
    merge.Delete(store::Table::kProfiles, store::ProfileKey("p", 5));
    ASSERT_TRUE(store_->Commit(merge, false).ok());
  });
  UserData user;
  ASSERT_TRUE(reader_->ReadById("p", 5, Everything(), &user).ok());
  EXPECT_EQ(user.amplitude_id, 9u);
  EXPECT_EQ(user.profile.user_id, "user-9");
}

TEST_F(ProfileReaderTest, UnknownUsersAndOtherProjectsAreNotFound) {
  PutUser(1, {kNow});
  UserData user;
  EXPECT_TRUE(Read("user-2", Everything(), &user).IsNotFound());
  EXPECT_TRUE(reader_->Read("q", "user-1", "", Everything(), &user).IsNotFound());
}

TEST_F(ProfileReaderTest, ADamagedAggregatesRecordIsCorruption) {
  PutUser(1, {kNow});
  store::WriteSet w;
  w.Put(store::Table::kProfiles, store::UserRecordKey("p", 1, store::UserRecord::kAggregates),
        "\x07garbage");
  ASSERT_TRUE(store_->Commit(w, false).ok());
  UserData user;
  EXPECT_EQ(Read("user-1", Everything(), &user).code(), ErrorCode::kCorruption);
  EXPECT_TRUE(Read("user-1", ReadOptions{}, &user).ok());  // the profile alone still reads
}

TEST_F(ProfileReaderTest, ADamagedStateIsCorruptionForReadsAndScans) {
  PutUser(1, {kNow});
  // A valid header (version 1, one state, spec id 1) around state bytes that do not decode.
  store::WriteSet w;
  w.Put(store::Table::kProfiles, store::UserRecordKey("p", 1, store::UserRecord::kAggregates),
        std::string("\x01\x01\x01\x02\x01\x7f", 6));
  ASSERT_TRUE(store_->Commit(w, false).ok());
  UserData user;
  EXPECT_EQ(Read("user-1", Everything(), &user).code(), ErrorCode::kCorruption);
  std::map<std::string, uint64_t, std::less<>> sizes;
  EXPECT_EQ(reader_->CohortSizes("p", &sizes).code(), ErrorCode::kCorruption);
  EXPECT_EQ(
      reader_->ForEachMember("p", "buyers", [](uint64_t, std::string_view) { return true; }).code(),
      ErrorCode::kCorruption);
}

TEST_F(ProfileReaderTest, CountsTheMembersOfEveryCohort) {
  PutUser(1, {kNow, kNow});
  PutUser(2, {kNow});
  PutUser(3, {kNow, kNow, kNow}, {"vip"});
  std::map<std::string, uint64_t, std::less<>> sizes;
  ASSERT_TRUE(reader_->CohortSizes("p", &sizes).ok());
  EXPECT_EQ(sizes, (std::map<std::string, uint64_t, std::less<>>{{"buyers", 2}, {"vip", 1}}));
}

TEST_F(ProfileReaderTest, ACancelledCohortCountStopsUnavailable) {
  PutUser(1, {kNow, kNow});
  std::map<std::string, uint64_t, std::less<>> sizes;
  std::atomic<bool> cancel{false};
  ASSERT_TRUE(reader_->CohortSizes("p", &sizes, &cancel).ok());
  EXPECT_EQ(sizes.at("buyers"), 1u);
  cancel = true;
  EXPECT_EQ(reader_->CohortSizes("p", &sizes, &cancel).code(), ErrorCode::kUnavailable);
}

// A catalog with a cohort "by_NAME" on each user property NAME (is VALUE), in this order.
std::shared_ptr<const compute::ProjectCatalog> PropertyCohorts(
    const std::vector<std::pair<std::string, std::string>>& conditions) {
  std::vector<compute::ServedCohort> cohorts;
  for (const auto& [name, value] : conditions) {
    compute::Cohort cohort;
    cohort.id = "by_" + name;
    compute::CohortCondition condition;
    condition.kind = compute::CohortCondition::Kind::kUserProperty;
    condition.filter.prop = name;
    condition.filter.values = {value};
    cohort.all_of.push_back({false, {condition}});
    cohorts.push_back({cohort, {{0}}});
  }
  return std::make_shared<const compute::ProjectCatalog>(std::vector<compute::SpecEntry>{},
                                                         std::vector<compute::ServedComputation>{},
                                                         std::move(cohorts));
}

std::shared_ptr<const compute::ProjectCatalog> PropertyCohort(const std::string& name,
                                                              const std::string& value) {
  return PropertyCohorts({{name, value}});
}

TEST_F(ProfileReaderTest, UserPropertyConditionsReadCustomPropertiesThenBuiltIns) {
  store::ProfileRecord profile;
  profile.user_id = "user-1";
  profile.properties_json = R"({"plan":"pro","skip":{"a":[1,"}"]},"country":null})";
  profile.builtins_json = R"({"country":"Germany","platform":"Web"})";
  store::WriteSet w;
  w.Put(store::Table::kIdentity, store::UserKey("p", "user-1"), store::EncodeId(1));
  w.Put(store::Table::kProfiles, store::ProfileKey("p", 1), store::EncodeProfile(profile));
  ASSERT_TRUE(store_->Commit(w, false).ok());
  UserData user;
  for (auto [name, value, in] : {std::tuple{"plan", "pro", true},
                                 {"plan", "free", false},
                                 {"country", "Germany", true},
                                 {"platform", "Web", true}}) {
    catalogs_.Set("p", PropertyCohort(name, value));
    ASSERT_TRUE(Read("user-1", Everything(), &user).ok()) << name;
    EXPECT_EQ(user.cohort_ids.size(), in ? 1u : 0u) << name << " " << value;
  }
}

TEST_F(ProfileReaderTest, EachUserPropertyConditionReadsItsOwnProperty) {
  // Properties are picked by their place among the names the catalog reads (sorted), which
  // is not the order of the cohorts: each condition must still find its own.
  store::ProfileRecord profile;
  profile.user_id = "user-1";
  profile.properties_json = R"({"age":30,"plan":"pro","zone":"eu"})";
  profile.builtins_json = R"({"country":"Germany","platform":"Web"})";
  store::WriteSet w;
  w.Put(store::Table::kIdentity, store::UserKey("p", "user-1"), store::EncodeId(1));
  w.Put(store::Table::kProfiles, store::ProfileKey("p", 1), store::EncodeProfile(profile));
  ASSERT_TRUE(store_->Commit(w, false).ok());
  catalogs_.Set("p", PropertyCohorts({{"zone", "eu"},
                                      {"plan", "free"},
                                      {"platform", "Web"},
                                      {"missing", "x"},
                                      {"age", "30"},
                                      {"country", "Germany"}}));
  UserData user;
  ASSERT_TRUE(Read("user-1", Everything(), &user).ok());
  EXPECT_EQ(user.cohort_ids,
            (std::vector<std::string>{"by_zone", "by_platform", "by_age", "by_country"}));
}

TEST_F(ProfileReaderTest, DamagedPropertiesAreCorruptionWhenACohortReadsThem) {
  store::ProfileRecord profile;
  profile.user_id = "user-1";
  profile.properties_json = R"({"plan":"pro",)";
  profile.builtins_json = "{}";
  store::WriteSet w;
  w.Put(store::Table::kIdentity, store::UserKey("p", "user-1"), store::EncodeId(1));
  w.Put(store::Table::kProfiles, store::ProfileKey("p", 1), store::EncodeProfile(profile));
  ASSERT_TRUE(store_->Commit(w, false).ok());
  catalogs_.Set("p", PropertyCohort("plan", "pro"));
  UserData user;
  EXPECT_EQ(Read("user-1", Everything(), &user).code(), ErrorCode::kCorruption);
}

TEST_F(ProfileReaderTest, AStoreFailureIsReturned) {
  PutUser(1, {kNow});
  store_->FailNextGets(2, Status::IoError("disk"));
  UserData user;
  EXPECT_EQ(Read("user-1", Everything(), &user).code(), ErrorCode::kIoError);
}

TEST_F(ProfileReaderTest, ListsTheMembersOfACohortInIdOrder) {
  PutUser(1, {kNow, kNow});
  PutUser(2, {kNow});
  PutUser(3, {kNow, kNow, kNow}, {"vip"});
  std::vector<std::pair<uint64_t, std::string>> members;
  auto collect = [&](uint64_t id, std::string_view user_id) {
    members.emplace_back(id, user_id);
    return true;
  };
  ASSERT_TRUE(reader_->ForEachMember("p", "buyers", collect).ok());
  EXPECT_EQ(members, (std::vector<std::pair<uint64_t, std::string>>{{1, "user-1"}, {3, "user-3"}}));
  members.clear();
  ASSERT_TRUE(reader_->ForEachMember("p", "vip", collect).ok());
  EXPECT_EQ(members, (std::vector<std::pair<uint64_t, std::string>>{{3, "user-3"}}));
  EXPECT_TRUE(reader_->ForEachMember("p", "nothing", collect).IsNotFound());
  EXPECT_TRUE(reader_->ForEachMember("q", "buyers", collect).IsNotFound());
}

TEST_F(ProfileReaderTest, AMemberListStopsWhenAsked) {
  PutUser(1, {kNow, kNow});
  PutUser(3, {kNow, kNow});
  int calls = 0;
  ASSERT_TRUE(reader_
                  ->ForEachMember("p", "buyers",
                                  [&](uint64_t, std::string_view) {
                                    ++calls;
                                    return false;
                                  })
                  .ok());
  EXPECT_EQ(calls, 1);
}

// ---- Groups

// User 1 in groups org/acme (properties {"plan":"pro"}) and org/none (no record), team/red.
void PutGroups(store::Store& store) {
  store::WriteSet w;
  w.Put(store::Table::kProfiles, store::UserRecordKey("p", 1, store::UserRecord::kGroups),
        R"({"org":["acme","none"],"team":["red"]})");
  w.Put(store::Table::kMeta, store::GroupKey("p", "org", "acme"),
        store::EncodeGroup(R"({"plan":"pro"})"));
  ASSERT_TRUE(store.Commit(w, false).ok());
}

TEST_F(ProfileReaderTest, AReadAskingForGroupsGivesEachGroupWithItsProperties) {
  PutUser(1, {});
  PutGroups(*store_);
  ReadOptions options;
  options.groups = true;
  UserData user;
  ASSERT_TRUE(Read("user-1", options, &user).ok());
  ASSERT_EQ(user.groups.size(), 3u);
  EXPECT_EQ(std::tie(user.groups[0].type, user.groups[0].name, user.groups[0].properties_json),
            std::tie("org", "acme", R"({"plan":"pro"})"));
  EXPECT_EQ(user.groups[1].name, "none");
  EXPECT_EQ(user.groups[1].properties_json, "{}");
  EXPECT_EQ(user.groups[2].type, "team");
  // Without asking, none.
  ASSERT_TRUE(Read("user-1", ReadOptions{}, &user).ok());
  EXPECT_TRUE(user.groups.empty());
}

// A catalog whose one cohort, "pro_orgs", holds users in an org whose plan is pro.
void ServeProOrgsCohort(compute::CatalogHolder& catalogs) {
  compute::Cohort cohort;
  cohort.id = "pro_orgs";
  compute::CohortCondition condition;
  condition.kind = compute::CohortCondition::Kind::kGroupProperty;
  condition.group_type = "org";
  condition.filter.prop = "plan";
  condition.filter.values = {"pro"};
  cohort.all_of.push_back({false, {condition}});
  catalogs.Set("p",
               std::make_shared<const compute::ProjectCatalog>(
                   std::vector<compute::SpecEntry>{}, std::vector<compute::ServedComputation>{},
                   std::vector<compute::ServedCohort>{{cohort, {{0}}}}));
}

TEST_F(ProfileReaderTest, AGroupPropertyCohortReadsTheUsersGroupsInReadsAndScans) {
  ServeProOrgsCohort(catalogs_);
  PutUser(1, {});
  PutUser(2, {});
  PutGroups(*store_);
  UserData user;
  size_t group_reads = store_->MultiGetCalls(store::Table::kMeta);
  ASSERT_TRUE(Read("user-1", Everything(), &user).ok());
  EXPECT_EQ(user.cohort_ids, std::vector<std::string>{"pro_orgs"});
  // Only the org groups a condition reads, all at once.
  EXPECT_EQ(store_->MultiGetCalls(store::Table::kMeta), group_reads + 1);
  ASSERT_TRUE(Read("user-2", Everything(), &user).ok());
  EXPECT_TRUE(user.cohort_ids.empty());
  std::vector<uint64_t> members;
  ASSERT_TRUE(reader_
                  ->ForEachMember("p", "pro_orgs",
                                  [&](uint64_t id, std::string_view) {
                                    members.push_back(id);
                                    return true;
                                  })
                  .ok());
  EXPECT_EQ(members, std::vector<uint64_t>{1});
}

TEST_F(ProfileReaderTest, AScanReadsTheGroupsOfManyUsersWithOneMultiGet) {
  ServeProOrgsCohort(catalogs_);
  store::WriteSet w;
  w.Put(store::Table::kMeta, store::GroupKey("p", "org", "acme"),
        store::EncodeGroup(R"({"plan":"pro"})"));
  w.Put(store::Table::kMeta, store::GroupKey("p", "org", "globex"),
        store::EncodeGroup(R"({"plan":"free"})"));
  // Users naming the same groups share them: far more users than a chunk has distinct groups
  // (ProfileReader::kScanChunkGroups) still make one chunk.
  const uint64_t users = 3 * ProfileReader::kScanChunkGroups;
  ASSERT_LT(users, ProfileReader::kScanChunkUsers);
  for (uint64_t id = 1; id <= users; ++id) {
    PutUser(id, {});
    w.Put(store::Table::kProfiles, store::UserRecordKey("p", id, store::UserRecord::kGroups),
          id % 2 == 0 ? R"({"org":["acme"],"team":["t"]})" : R"({"org":["globex"]})");
  }
  ASSERT_TRUE(store_->Commit(w, false).ok());
  size_t group_reads = store_->MultiGetCalls(store::Table::kMeta);
  std::map<std::string, uint64_t, std::less<>> sizes;
  ASSERT_TRUE(reader_->CohortSizes("p", &sizes).ok());
  EXPECT_EQ(sizes.at("pro_orgs"), users / 2);
  EXPECT_EQ(store_->MultiGetCalls(store::Table::kMeta), group_reads + 1);
  std::vector<uint64_t> members;
  ASSERT_TRUE(reader_
                  ->ForEachMember("p", "pro_orgs",
                                  [&](uint64_t id, std::string_view) {
                                    members.push_back(id);
                                    return members.size() < 3;  // stops at the third
                                  })
                  .ok());
  EXPECT_EQ(members, (std::vector<uint64_t>{2, 4, 6}));
}

TEST_F(ProfileReaderTest, AScanChunkEndsAtItsCountOfDistinctGroupsAndAtItsBytes) {
  ServeProOrgsCohort(catalogs_);
  // Every user in a group of its own: a chunk of kScanChunkGroups users each.
  const uint64_t users = 2 * ProfileReader::kScanChunkGroups + 2;
  store::WriteSet w;
  for (uint64_t id = 1; id <= users; ++id) {
    PutUser(id, {});
    const std::string name = "org" + std::to_string(id);
    w.Put(store::Table::kMeta, store::GroupKey("p", "org", name),
          store::EncodeGroup(R"({"plan":"pro"})"));
    w.Put(store::Table::kProfiles, store::UserRecordKey("p", id, store::UserRecord::kGroups),
          R"({"org":[")" + name + R"("]})");
  }
  ASSERT_TRUE(store_->Commit(w, false).ok());
  size_t group_reads = store_->MultiGetCalls(store::Table::kMeta);
  std::map<std::string, uint64_t, std::less<>> sizes;
  ASSERT_TRUE(reader_->CohortSizes("p", &sizes).ok());
  EXPECT_EQ(sizes.at("pro_orgs"), users);
  EXPECT_EQ(store_->MultiGetCalls(store::Table::kMeta), group_reads + 3);

  // Users whose records are large, all in one group: a chunk ends at kScanChunkBytes.
  store::WriteSet big;
  const size_t record_bytes = 1u << 20;
  const uint64_t per_chunk = ProfileReader::kScanChunkBytes / record_bytes;
  for (uint64_t id = 1; id <= users; ++id) {
    if (id > per_chunk + 2) {
      big.Delete(store::Table::kProfiles,
                 store::UserRecordKey("p", id, store::UserRecord::kGroups));
      continue;
    }
    // A type no condition reads pads the record.
    big.Put(store::Table::kProfiles, store::UserRecordKey("p", id, store::UserRecord::kGroups),
            R"({"org":["org1"],"pad":[")" + std::string(record_bytes, 'x') + R"("]})");
  }
  ASSERT_TRUE(store_->Commit(big, false).ok());
  group_reads = store_->MultiGetCalls(store::Table::kMeta);
  ASSERT_TRUE(reader_->CohortSizes("p", &sizes).ok());
  EXPECT_EQ(sizes.at("pro_orgs"), per_chunk + 2);
  EXPECT_EQ(store_->MultiGetCalls(store::Table::kMeta), group_reads + 2);
}

TEST_F(ProfileReaderTest, ADamagedGroupRecordReadsAsAGroupWithoutPropertiesAndFailsNoRead) {
  ServeProOrgsCohort(catalogs_);
  PutUser(1, {});
  PutUser(2, {});
  PutGroups(*store_);
  store::WriteSet w;
  w.Put(store::Table::kMeta, store::GroupKey("p", "org", "acme"), "bad");
  // User 2 in a group whose record decodes but whose text is not JSON.
  w.Put(store::Table::kMeta, store::GroupKey("p", "org", "torn"), store::EncodeGroup("{torn"));
  w.Put(store::Table::kMeta, store::GroupKey("p", "org", "fine"),
        store::EncodeGroup(R"({"plan":"pro"})"));
  w.Put(store::Table::kProfiles, store::UserRecordKey("p", 2, store::UserRecord::kGroups),
        R"({"org":["torn","fine"]})");
  ASSERT_TRUE(store_->Commit(w, false).ok());
  UserData user;
  ASSERT_TRUE(Read("user-1", Everything(), &user).ok());
  EXPECT_TRUE(user.cohort_ids.empty());
  ASSERT_TRUE(Read("user-2", Everything(), &user).ok());
  EXPECT_EQ(user.cohort_ids, std::vector<std::string>{"pro_orgs"});
  std::map<std::string, uint64_t, std::less<>> sizes;
  ASSERT_TRUE(reader_->CohortSizes("p", &sizes).ok());
  EXPECT_EQ(sizes.at("pro_orgs"), 1u);
  ReadOptions groups;
  groups.groups = true;
  ASSERT_TRUE(Read("user-2", groups, &user).ok());
  ASSERT_EQ(user.groups.size(), 2u);
  EXPECT_EQ(user.groups[0].properties_json, "{}");
  EXPECT_EQ(user.groups[1].properties_json, R"({"plan":"pro"})");
  ASSERT_TRUE(Read("user-1", groups, &user).ok());
  EXPECT_EQ(user.groups[0].properties_json, "{}");
}

TEST_F(ProfileReaderTest, ADamagedMembershipRecordReadsAsNoGroup) {
  ServeProOrgsCohort(catalogs_);
  PutUser(1, {});
  PutGroups(*store_);
  store::WriteSet w;
  w.Put(store::Table::kProfiles, store::UserRecordKey("p", 1, store::UserRecord::kGroups),
        "{not json");
  ASSERT_TRUE(store_->Commit(w, false).ok());
  UserData user;
  ReadOptions options = Everything();
  options.groups = true;
  ASSERT_TRUE(Read("user-1", options, &user).ok());
  EXPECT_TRUE(user.cohort_ids.empty());
  EXPECT_TRUE(user.groups.empty());
  std::map<std::string, uint64_t, std::less<>> sizes;
  ASSERT_TRUE(reader_->CohortSizes("p", &sizes).ok());
  EXPECT_EQ(sizes.at("pro_orgs"), 0u);
}

TEST_F(ProfileReaderTest, AReadServesAtMostFiveGroupTypesOfTenNames) {
  PutUser(1, {});
  std::string record = "{";
  for (int t = 0; t < 7; ++t) {
    record += (t > 0 ? ",\"t" : "\"t") + std::to_string(t) + "\":[";
    for (int n = 0; n < 12; ++n) record += (n > 0 ? ",\"n" : "\"n") + std::to_string(n) + "\"";
    record += "]";
  }
  record += "}";
  store::WriteSet w;
  w.Put(store::Table::kProfiles, store::UserRecordKey("p", 1, store::UserRecord::kGroups), record);
  ASSERT_TRUE(store_->Commit(w, false).ok());
  UserData user;
  ReadOptions options;
  options.groups = true;
  ASSERT_TRUE(Read("user-1", options, &user).ok());
  ASSERT_EQ(user.groups.size(), 50u);
  EXPECT_EQ(user.groups.back().type, "t4");
  EXPECT_EQ(user.groups.back().name, "n9");
}

}  // namespace
}  // namespace profiled::read
