// Test fixture: a real RocksDB store in a temp dir, seen through a FaultStore (which
// records every commit and injects failures on demand), behind a running Ingestor, with a
// manual clock and metrics, plus builders for domain events. For the ingest unit tests only.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <future>
#include <map>

#include "core/temp_dir.h"
#include "ingest/ingestor.h"
#include "ingest/property_ops.h"
#include "store/fault_store.h"
#include "store/keys.h"
#include "store/profile_lookup.h"

namespace profiled::ingest {

inline constexpr int64_t kTestNow = 1767225600000;  // 2026-01-01T00:00:00Z

inline Event Track(std::string user_id, std::string device_id, std::string type = "click") {
  Event e;
  e.user_id = std::move(user_id);
  e.device_id = std::move(device_id);
  e.event_type = std::move(type);
  e.time_ms = kTestNow;
  e.json = "{}";
  return e;
}

// `e` with e.json set to what the writer logs of it: its top-level fields, event_type and
// event_properties (as src/api gives them from the received JSON), so that a backfill or the
// trainer reads back from the log what the writer read.
inline Event WithLoggedJson(Event e) {
  boost::json::object logged = e.fields;
  logged["event_type"] = e.event_type;
  logged["event_properties"] = e.event_properties;
  e.json = boost::json::serialize(logged);
  return e;
}

// A valid aggregates record: spec id 1 (an all-time count of every event) at `count`.
inline std::string AggregatesRecord(int count) {
  compute::AggregateSpec spec;
  spec.event_type = compute::kAnyEvent;
  compute::UserAggregates aggregates;
  compute::EventFields event{"click", kTestNow, nullptr, nullptr};
  for (int i = 0; i < count; ++i) aggregates.states[1].Add(spec, event, kTestNow);
  return aggregates.Encode();
}

inline Event WithOps(Event e, std::vector<PropertyOp> ops) {
  e.property_ops = std::move(ops);
  SortPropertyOps(&e.property_ops);
  return e;
}

inline Event SetProps(std::string user_id, std::string device_id,
                      const boost::json::object& props) {
  std::vector<PropertyOp> ops;
  for (const auto& kv : props)
    ops.push_back({PropertyOpKind::kSet, std::string(kv.key()), kv.value()});
  Event e = WithOps(Track(std::move(user_id), std::move(device_id), "$identify"), std::move(ops));
  e.origin = EventOrigin::kIdentify;
  return e;
}

class IngestFixture : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void TearDown() override { Close(); }

  void Open(IngestorOptions options = {}) {
    store::RocksDbOptions so;
    so.path = dir_.path();
    so.block_cache_bytes = 8 << 20;
    so.clock = &clock_;
    auto r = store::OpenRocksDbStore(so);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    disk_ = std::move(r.value());
    store_ = std::make_unique<store::FaultStore>(*disk_);
    // Tests that are not about durability skip the fsync, which is slow on CI disks.
    if (!fsync_) options.sync = false;
    if (options.projects.empty()) options.projects = {"p"};
    if (with_definitions_) {
      // The parser finds the typed definition by its source text, as the real one (src/api)
      // rebuilds it from the JSON.
      DefinitionParser parser = [this](DefinitionKind, std::string_view id, std::string_view source,
                                       Definition* out) {
        auto it = sources_.find(std::string(source));
        if (it == sources_.end()) return Status::InvalidArgument("unknown source");
        *out = it->second;
        out->id = std::string(id);
        return Status::Ok();
      };
      catalogs_ = std::make_unique<compute::CatalogHolder>();
      registry_ = std::make_unique<DefinitionRegistry>(*store_, *catalogs_, parser, clock_);
      Status loaded = registry_->Load(options.projects);
      ASSERT_TRUE(loaded.ok()) << loaded.ToString();
    }
    ingestor_ = std::make_unique<Ingestor>(*store_, options, clock_, &metrics_, registry_.get());
    ingestor_->Start();
  }

  // Restarts the ingestor with a writer cache of `bytes` (IngestorOptions::
  // writer_cache_bytes; 0 = none), over the same store.
  // Reopens with every commit on the writer (IngestorOptions::pipeline_commits false): a
  // writer parked in a stalled commit (FaultStore::StallCommits) then takes nothing more from
  // the queue, as the tests of queue bounds and commit groups need.
  void ReopenWithoutCommitsInFlight() {
    Close();
    IngestorOptions options;
    options.pipeline_commits = false;
    Open(options);
  }

  void ReopenWithWriterCache(size_t bytes) {
    Close();
    IngestorOptions options;
    options.writer_cache_bytes = bytes;
    Open(options);
  }

  // Creates or replaces a definition through the writer, as the admin API does.
  Status PutDefinition(TypedDefinition typed, const std::string& project = "p") {
    Definition d;
    d.typed = std::move(typed);
    if (const auto* c = std::get_if<compute::Computation>(&d.typed)) {
      d.id = std::to_string(c->id);
    } else if (const auto* h = std::get_if<compute::Cohort>(&d.typed)) {
      d.id = h->id;
    } else {
      d.id = std::get<compute::Recommendation>(d.typed).id;
    }
    d.source = "source " + std::to_string(sources_.size());
    sources_[d.source] = d;
    std::promise<Status> done;
    ingestor_->PutDefinition(project, std::move(d),
                             [&done](const Status& s) { done.set_value(s); });
    return done.get_future().get();
  }

  void Close() {
    if (ingestor_) ingestor_->Stop();
    ingestor_.reset();
    registry_.reset();
    catalogs_.reset();
    store_.reset();
    disk_.reset();
  }

  IngestResult Apply(std::vector<Event> events, const std::string& project = "p") {
    std::promise<IngestResult> done;
    auto future = done.get_future();
    ingestor_->Submit(IngestBatch{project, std::move(events)},
                      [&done](IngestResult r) { done.set_value(std::move(r)); });
    return future.get();
  }

  void ApplyOk(std::vector<Event> events, const std::string& project = "p") {
    IngestResult r = Apply(std::move(events), project);
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  }

  struct Found {
    bool found = false;
    uint64_t amplitude_id = 0;
    std::string user_id;
    std::string device_id;
    boost::json::object builtins;
    boost::json::object properties;
  };

  Found Read(const std::string& user_id, const std::string& device_id = "",
             const std::string& project = "p") {
    Found f;
    std::string buffer;
    store::ProfileView view;
    Status s =
        store::FindProfile(*store_, project, user_id, device_id, &f.amplitude_id, &buffer, &view);
    if (!s.ok()) {
      EXPECT_TRUE(s.IsNotFound()) << s.ToString();
      return f;
    }
    f.found = true;
    f.user_id = view.user_id;
    f.device_id = view.device_id;
    f.builtins = boost::json::parse(view.builtins_json).as_object();
    f.properties = boost::json::parse(view.properties_json).as_object();
    return f;
  }

  // Writes a raw per-user record straight to the store (between commit groups).
  void PutUserRecord(uint64_t amplitude_id, store::UserRecord record, const std::string& bytes,
                     const std::string& project = "p") {
    store::WriteSet w;
    w.Put(store::Table::kProfiles, store::UserRecordKey(project, amplitude_id, record), bytes);
    ASSERT_TRUE(store_->Commit(w, false).ok());
  }

  // Every stored record of one user, by tag.
  std::map<char, std::string> UserRecords(uint64_t amplitude_id, const std::string& project = "p") {
    std::map<char, std::string> records;
    Status s = store_->Scan(store::Table::kProfiles, store::UserKeyPrefix(project, amplitude_id),
                            store::UserKeyPrefix(project, amplitude_id + 1),
                            [&](std::string_view key, std::string_view value) {
                              records.emplace(key.back(), value);
                              return true;
                            });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return records;
  }

  TempDir dir_;
  ManualClock clock_{kTestNow};
  Metrics metrics_;
  bool fsync_ = false;                        // when false, Open forces options.sync off
  std::unique_ptr<store::Store> disk_;        // the RocksDB store
  std::unique_ptr<store::FaultStore> store_;  // what the Ingestor and reads see
  std::unique_ptr<Ingestor> ingestor_;
  // With with_definitions_ set before Open: a DefinitionRegistry behind the Ingestor.
  bool with_definitions_ = false;
  std::map<std::string, Definition> sources_;
  std::unique_ptr<compute::CatalogHolder> catalogs_;
  std::unique_ptr<DefinitionRegistry> registry_;
};

}  // namespace profiled::ingest
