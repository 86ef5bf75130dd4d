#include "ingest/rec_trainer.h"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <new>
#include <unordered_map>

#include "compute/aggregate.h"
#include "core/coding.h"
#include "core/log.h"
#include "ingest/logged_event.h"
#include "recs/model.h"
#include "store/keys.h"
#include "store/records.h"

namespace profiled::ingest {

namespace {

constexpr int64_t kDayMs = 86'400'000;
// A failed training is not retried sooner than this (unless asked or its definition changes).
constexpr int64_t kRetryAfterFailureMs = 60'000;
// The loop looks for due trainings at least this often.
constexpr auto kPollInterval = std::chrono::seconds(1);

// The ingest time of an event key (ProjectPrefix || be64(ingest_ms) || be64(seq)).
int64_t IngestMsOfEventKey(std::string_view key) {
  if (key.size() < 16) return 0;
  std::string_view field = key.substr(key.size() - 16, 8);
  uint64_t ms = 0;
  return GetFixed64BE(&field, &ms) ? static_cast<int64_t>(ms) : 0;
}

}  // namespace

std::string_view StateName(RecTrainingStatus::State state) {
  switch (state) {
    case RecTrainingStatus::State::kPending: return "pending";
    case RecTrainingStatus::State::kTraining: return "training";
    case RecTrainingStatus::State::kReady: return "ready";
    case RecTrainingStatus::State::kFailed: return "failed";
  }
  return "pending";
}

RecTrainer::RecTrainer(store::Store& store, const compute::CatalogHolder& catalogs,
                       recs::ModelShelf& shelf, const Clock& clock,
                       std::vector<std::string> projects)
    : store_(store),
      catalogs_(catalogs),
      shelf_(shelf),
      clock_(clock),
      projects_(std::move(projects)) {}

RecTrainer::~RecTrainer() { Stop(); }

void RecTrainer::Start() {
  thread_ = std::thread([this] { Run(); });
}

void RecTrainer::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stop_.store(true);
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::string RecTrainer::KeyOf(std::string_view project, std::string_view id) {
  std::string key(project);
  key.push_back('\0');
  key.append(id);
  return key;
}

std::string RecTrainer::Fingerprint(const compute::Recommendation& rec) {
  return compute::TrainingKey(rec);
}

Status RecTrainer::RequestTraining(std::string_view project, std::string_view id) {
  std::shared_ptr<const compute::ProjectCatalog> catalog = catalogs_.Get(project);
  if (catalog->FindRecommendation(id) == compute::ProjectCatalog::kUnresolved) {
    return Status::NotFound("no served recommendation " + std::string(id));
  }
  {
    std::lock_guard lock(mu_);
    entries_[KeyOf(project, id)].requested = true;
  }
  cv_.notify_all();
  return Status::Ok();
}

RecTrainingStatus RecTrainer::StatusOf(std::string_view project, std::string_view id) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(KeyOf(project, id));
  return it == entries_.end() ? RecTrainingStatus{} : it->second.status;
}

bool RecTrainer::NextDue(std::string* project, compute::Recommendation* rec) {
  int64_t now = clock_.NowMs();
  std::lock_guard lock(mu_);
  std::map<std::string, Entry> kept;
  bool found = false;
  for (const std::string& p : projects_) {
    std::shared_ptr<const compute::ProjectCatalog> catalog = catalogs_.Get(p);
    for (const compute::ServedRecommendation& served : catalog->recommendations()) {
      const compute::Recommendation& r = served.definition;
      std::string key = KeyOf(p, r.id);
      auto it = entries_.find(key);
      Entry entry = it == entries_.end() ? Entry{} : std::move(it->second);
      if (it != entries_.end()) entries_.erase(it);
      std::string fingerprint = Fingerprint(r);
      bool failed_recently = entry.tried == fingerprint && entry.tried_ms != 0 &&
                             entry.status.state == RecTrainingStatus::State::kFailed &&
                             now - entry.tried_ms < kRetryAfterFailureMs;
      bool due = entry.requested || (entry.fingerprint != fingerprint && !failed_recently) ||
                 (r.retrain_every_minutes > 0 && entry.status.last_trained_ms != 0 &&
                  now - entry.status.last_trained_ms >= int64_t{r.retrain_every_minutes} * 60'000 &&
                  !failed_recently);
      if (due && !found) {
        found = true;
        *project = p;
        *rec = r;
        entry.requested = false;
        entry.tried = fingerprint;
        entry.tried_ms = now;
        entry.status.state = RecTrainingStatus::State::kTraining;
        entry.status.progress = 0;
      }
      kept.emplace(std::move(key), std::move(entry));
    }
  }
  // What is no longer served (deleted, or its project gone) leaves the shelf too.
  for (const auto& [key, entry] : entries_) {
    size_t zero = key.find('\0');
    shelf_.Erase(key.substr(0, zero), key.substr(zero + 1));
  }
  entries_ = std::move(kept);
  return found;
}

void RecTrainer::Run() {
  while (true) {
    {
      std::unique_lock lock(mu_);
      if (stopping_) return;
    }
    std::string project;
    compute::Recommendation rec;
    if (!NextDue(&project, &rec)) {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, kPollInterval, [this] {
        if (stopping_) return true;
        for (const auto& [key, entry] : entries_) {
          if (entry.requested) return true;
        }
        return false;
      });
      continue;
    }
    std::string key = KeyOf(project, rec.id);
    auto started = std::chrono::steady_clock::now();
    auto report = [this, &key](double progress) {
      std::lock_guard lock(mu_);
      if (auto it = entries_.find(key); it != entries_.end()) it->second.status.progress = progress;
    };
    // Memory can run out while reading a large log (JSON parsing, the training set): that
    // fails this training, not the server.
    auto trained = [&]() -> Result<std::shared_ptr<const recs::ServingModel>> {
      try {
        return Train(project, rec, report);
      } catch (const std::bad_alloc&) {
        return Status::Internal("out of memory while training");
      }
    }();
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::lock_guard lock(mu_);
    // Only NextDue, on this thread, removes entries: the one it picked is still there.
    Entry& entry = entries_[key];
    if (!trained.ok()) {
      if (!stop_.load()) {
        LogError("recommendations: project " + project + ": training " + rec.id +
                 " failed: " + trained.status().ToString());
      }
      entry.status.state = RecTrainingStatus::State::kFailed;
      entry.status.error = trained.status().message();
      ++entry.status.failures;
      continue;
    }
    const recs::ServingModel& model = **trained;
    shelf_.Set(project, rec.id, *trained, entry.tried);
    RecTrainingStatus& st = entry.status;
    st.state = RecTrainingStatus::State::kReady;
    st.progress = 1;
    st.last_trained_ms = model.trained_at_ms;
    st.last_duration_seconds = seconds;
    st.users = model.users;
    st.items = static_cast<int64_t>(model.items.size());
    st.interactions = model.interactions;
    st.model = std::string(recs::ModelName(model.used));
    st.note = model.note;
    st.error.clear();
    ++st.trainings;
    entry.fingerprint = entry.tried;
    LogInfo("recommendations: project " + project + ": trained " + rec.id + " (" + st.model + ", " +
            std::to_string(st.items) + " items, " + std::to_string(st.users) + " users) in " +
            std::to_string(seconds) + " s");
  }
}

Result<std::shared_ptr<const recs::ServingModel>> RecTrainer::Train(
    const std::string& project, const compute::Recommendation& rec,
    const std::function<void(double)>& progress) const {
  Result<recs::ModelKind> kind = recs::ParseModelKind(rec.model);
  if (!kind.ok()) return kind.status();
  Result<recs::ModelOptions> options = recs::ModelOptionsFrom(*kind, rec.params);
  if (!options.ok()) return options.status();

  const int64_t now = clock_.NowMs();
  // The events the item history (rec.history, compute/aggregate.h) holds at `now`: the
  // writer added each when it arrived, keeping it when its day was in the window ending on
  // that day or the day after (compute::InRollingWindow at the ingest time); a read keeps those
  // still in the window ending today. So an event of the window arrived at the earliest on
  // the day before the window's first day: the scan starts there.
  const compute::AggregateSpec& spec = rec.history;
  const int64_t scan_from =
      (compute::DayOf(now) - spec.scope.days) * kDayMs;  // the window's first day, minus one
  recs::TrainingSet data;
  std::unordered_map<uint64_t, uint64_t> merged_into;  // amplitude_id -> the id it now is
  Status failure;
  uint64_t seen = 0;
  std::string item;
  Status s = store_.Scan(
      store::Table::kEvents, store::EventKeyLowerBound(project, scan_from),
      store::PrefixEnd(store::ProjectPrefix(project)),
      [&](std::string_view key, std::string_view value) {
        const int64_t ingest_ms = IngestMsOfEventKey(key);
        if ((++seen & 4095) == 0) {
          if (stop_.load()) {
            failure = Status::Unavailable("the server is stopping");
            return false;
          }
          if (progress) {
            progress(0.5 *
                     static_cast<double>(
                         std::clamp<int64_t>(ingest_ms - scan_from, 0, now - scan_from)) /
                     static_cast<double>(std::max<int64_t>(1, now - scan_from)));
          }
        }
        store::EventRecord record;
        if (!store::DecodeEvent(value, &record).ok()) return true;  // the backfill logs these
        if (!compute::InRollingWindow(spec.scope, record.time_ms, ingest_ms) ||
            !compute::InRollingWindow(spec.scope, record.time_ms, now)) {
          return true;
        }
        // Most events are of other types: skip them before parsing (a version 1 record has
        // its type only in the JSON).
        if (!record.event_type.empty() && (!IsTracked(record.event_type) ||
                                           !compute::MatchesEventType(spec, record.event_type))) {
          return true;
        }
        // A fresh arena per event, over a stack buffer (an event is usually smaller): a
        // monotonic_resource reused after release() threw bad_alloc in Boost 1.81.
        unsigned char buffer[4096];
        boost::json::monotonic_resource resource(buffer, sizeof(buffer));
        LoggedEvent logged(&resource);
        if (!ParseLoggedEvent(record, &logged)) return true;
        const compute::EventFields fields = FieldsOfLoggedEvent(record, &logged);
        if (!IsTracked(fields.event_type) || !compute::ItemOfEvent(spec, fields, &item)) {
          return true;
        }
        auto [it, inserted] = merged_into.try_emplace(record.amplitude_id, record.amplitude_id);
        if (inserted) {
          // Merges only go from an anonymous id into another, so a chain is short; the
          // bound guards against a damaged store looping.
          for (int hops = 0; hops < 64; ++hops) {
            std::string into;
            Status g =
                store_.Get(store::Table::kIdentity, store::MergeKey(project, it->second), &into);
            if (g.IsNotFound()) break;
            uint64_t id = 0;
            if (!g.ok() || !store::DecodeId(into, &id).ok()) {
              failure = g.ok() ? Status::Corruption("a merge entry does not decode") : g;
              return false;
            }
            it->second = id;
          }
        }
        data.Add(it->second, item);
        return true;
      });
  if (s.ok()) s = failure;
  if (!s.ok()) return s;
  if (progress) progress(0.5);
  auto model = recs::TrainServingModel(*options, data, now);
  if (model.ok() && progress) progress(1);
  return model;
}

}  // namespace profiled::ingest
