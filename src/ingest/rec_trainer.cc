#include "ingest/rec_trainer.h"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <limits>
#include <new>
#include <random>
#include <unordered_map>

#include "compute/aggregate.h"
#include "core/coding.h"
#include "core/log.h"
#include "ingest/logged_event.h"
#include "ingest/merged_ids.h"
#include "recs/model.h"
#include "recs/model_codec.h"
#include "store/keys.h"
#include "store/records.h"

namespace profiled::ingest {

namespace {

constexpr int64_t kDayMs = 86'400'000;
// A failed training is not retried sooner than this (unless asked or its definition changes).
constexpr int64_t kRetryAfterFailureMs = 60'000;

// The ingest time of an event key (ProjectPrefix || be64(ingest_ms) || be64(seq)).
int64_t IngestMsOfEventKey(std::string_view key) {
  if (key.size() < 16) return 0;
  std::string_view field = key.substr(key.size() - 16, 8);
  uint64_t ms = 0;
  return GetFixed64BE(&field, &ms) ? static_cast<int64_t>(ms) : 0;
}

constexpr auto kProgressEvery = std::chrono::seconds(1);
// A model that failed to load for a passing reason (the store, memory) is tried again after.
constexpr int64_t kLoadRetryMs = 5'000;

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A trainer lease's value: the holder and when the lease ends (wall-clock ms).
std::string EncodeLease(std::string_view holder, int64_t until_ms) {
  std::string out;
  PutLengthPrefixed(&out, holder);
  PutVarint64(&out, static_cast<uint64_t>(until_ms));
  return out;
}
bool DecodeLease(std::string_view in, std::string* holder, int64_t* until_ms) {
  std::string_view h;
  uint64_t until = 0;
  if (!GetLengthPrefixed(&in, &h) || !GetVarint64(&in, &until) || !in.empty()) return false;
  holder->assign(h);
  *until_ms = static_cast<int64_t>(until);
  return true;
}

uint64_t RandomGeneration() {
  static std::mutex mu;
  static std::mt19937_64 engine{std::random_device{}()};
  std::lock_guard lock(mu);
  uint64_t g = 0;
  while (g == 0 || g == UINT64_MAX) g = engine();
  return g;
}

std::string RandomHex() {
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(RandomGeneration()));
  return text;
}

}  // namespace

RecTrainer::RecTrainer(store::Store& store, const compute::CatalogHolder& catalogs,
                       recs::ModelShelf& shelf, const Clock& clock,
                       std::vector<std::string> projects, RecTrainerOptions options)
    : store_(store),
      locking_(options.locking_store != nullptr ? *options.locking_store : store),
      catalogs_(catalogs),
      shelf_(shelf),
      clock_(clock),
      projects_(std::move(projects)),
      options_(std::move(options)),
      shared_(store.Shared()),
      node_id_(options_.node_id.empty() ? RandomHex() : options_.node_id) {}

RecTrainer::~RecTrainer() { Stop(); }

void RecTrainer::Start() {
  thread_ = std::thread([this] { Run(); });
  poller_ = std::thread([this] { Poll(); });
}

void RecTrainer::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stop_.store(true);
  cv_.notify_all();
  poll_cv_.notify_all();
  if (poller_.joinable()) poller_.join();
  if (thread_.joinable()) thread_.join();
}

std::string RecTrainer::KeyOf(std::string_view project, std::string_view id) {
  std::string key(project);
  key.push_back('\0');
  key.append(id);
  return key;
}

Status RecTrainer::RequestTraining(std::string_view project, std::string_view id) {
  std::shared_ptr<const compute::ProjectCatalog> catalog = catalogs_.Get(project);
  if (catalog->FindRecommendation(id) == compute::ProjectCatalog::kUnresolved) {
    return Status::NotFound("no served recommendation " + std::string(id));
  }
  // The trainer, on this node or another, answers a token it has not answered yet.
  store::WriteSet writes;
  writes.Put(store::Table::kMeta, store::ModelRequestKey(project, id), RandomHex());
  PROFILED_RETURN_IF_ERROR(store_.Commit(writes, true));
  {
    std::lock_guard lock(mu_);
    wake_ = true;
  }
  poll_cv_.notify_all();
  return Status::Ok();
}

RecTrainingStatus RecTrainer::StatusOf(std::string_view project, std::string_view id) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(KeyOf(project, id));
  return it == entries_.end() ? RecTrainingStatus{} : it->second.status;
}

void RecTrainer::AddProjects(const std::vector<std::string>& projects) {
  {
    std::lock_guard lock(mu_);
    for (const std::string& p : projects) {
      if (std::find(projects_.begin(), projects_.end(), p) == projects_.end()) {
        projects_.push_back(p);
      }
    }
    wake_ = true;
  }
  poll_cv_.notify_all();
}

void RecTrainer::Poll() {
  while (true) {
    std::map<std::string, std::string> served_keys;  // key -> project
    std::vector<std::pair<std::string, std::shared_ptr<const compute::ProjectCatalog>>> with_recs;
    std::vector<std::string> projects;
    {
      std::lock_guard lock(mu_);
      projects = projects_;
    }
    for (const std::string& p : projects) {
      std::shared_ptr<const compute::ProjectCatalog> catalog = catalogs_.Get(p);
      if (catalog->recommendations().empty()) continue;
      for (const compute::ServedRecommendation& s : catalog->recommendations()) {
        served_keys.emplace(KeyOf(p, s.definition.id), p);
      }
      // Leases first: loading models can take seconds, a lease must not wait for it.
      KeepLease(p);
      with_recs.emplace_back(p, std::move(catalog));
    }
    for (const auto& [p, catalog] : with_recs) Refresh(p, catalog->recommendations());
    Forget(served_keys);
    std::unique_lock lock(mu_);
    if (stopping_) return;
    if (!busy_ && jobs_.empty()) {
      Job job;
      if (PickDue(&job)) {
        jobs_.push_back(std::move(job));
        cv_.notify_all();
      }
    }
    poll_cv_.wait_for(lock, std::chrono::milliseconds(options_.poll_ms),
                      [this] { return stopping_ || wake_; });
    wake_ = false;
  }
}

void RecTrainer::Refresh(const std::string& project,
                         const std::vector<compute::ServedRecommendation>& served) {
  std::vector<std::string> keys;
  std::vector<uint64_t> epochs;
  {
    std::lock_guard lock(mu_);
    for (const compute::ServedRecommendation& s : served) {
      keys.push_back(store::ModelHeadKey(project, s.definition.id));
      keys.push_back(store::ModelRequestKey(project, s.definition.id));
      epochs.push_back(entries_[KeyOf(project, s.definition.id)].epoch);
    }
  }
  std::vector<std::string> values;
  std::vector<Status> statuses;
  if (Status s = store_.MultiGet(store::Table::kMeta, keys, &values, &statuses); !s.ok()) {
    return;  // the store is down: /healthz says so; the next poll tries again
  }
  for (size_t i = 0; i < served.size(); ++i) {
    const compute::Recommendation& rec = served[i].definition;
    const std::string key = KeyOf(project, rec.id);
    ModelHead head;
    if (statuses[2 * i].ok()) {
      // A head that does not decode counts as none: the holder trains and writes a new one.
      if (!DecodeModelHead(values[2 * i], &head).ok()) head = ModelHead{};
    } else if (!statuses[2 * i].IsNotFound()) {
      continue;
    }
    const std::string fingerprint = compute::TrainingKey(rec);
    const int64_t now = SteadyMs();
    uint64_t loaded = 0;
    bool load = false;
    {
      std::lock_guard lock(mu_);
      Entry& entry = entries_[key];
      // Read before a job here began or ended: what the job wrote is newer.
      if (entry.training || entry.epoch != epochs[i]) continue;
      if (entry.local_status && EncodeModelHead(head) != EncodeModelHead(entry.head)) {
        entry.local_status = false;
      }
      entry.head = head;
      if (statuses[2 * i + 1].ok()) entry.request = values[2 * i + 1];
      if (!entry.local_status) entry.status = head.status;
      loaded = entry.loaded;
      load = head.generation != 0 && head.generation != entry.loaded &&
             head.generation != entry.unloadable && head.training_key == fingerprint &&
             now >= entry.load_after;
    }
    if (!load) continue;
    Result<std::shared_ptr<const recs::ServingModel>> model = [&] {
      try {
        return ReadModel(store_, project, rec.id, head);
      } catch (const std::bad_alloc&) {
        return Result<std::shared_ptr<const recs::ServingModel>>(
            Status::Internal("out of memory while loading the model"));
      }
    }();
    std::lock_guard lock(mu_);
    Entry& entry = entries_[key];
    if (!model.ok()) {
      const Status& s = model.status();
      // A missing chunk: the generation was replaced meanwhile (the next poll reads the new
      // head), unless it is missing again, when it is lost. A damaged model stays damaged.
      // Anything else (the store, memory) is tried again a few seconds later.
      const bool lost = s.code() == ErrorCode::kCorruption ||
                        (s.IsNotFound() && entry.missing == head.generation);
      if (s.IsNotFound()) entry.missing = head.generation;
      if (lost) entry.unloadable = head.generation;
      entry.load_after = SteadyMs() + (s.IsNotFound() ? kLoadRetryMs / 5 : kLoadRetryMs);
      if (lost || !s.IsNotFound()) {
        LogError("recommendations: project " + project + ": cannot load the model of " + rec.id +
                 ": " + s.ToString());
      }
      continue;
    }
    // The trainer here put a newer one meanwhile.
    if (entry.loaded != loaded || entry.epoch != epochs[i] || entry.training) continue;
    shelf_.Set(project, rec.id, std::move(model.value()), fingerprint);
    entry.loaded = head.generation;
  }
}

void RecTrainer::Forget(const std::map<std::string, std::string>& served_keys) {
  std::vector<std::pair<std::string, std::string>> dropped;  // project, id
  {
    std::lock_guard lock(mu_);
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (served_keys.contains(it->first) || it->second.training) {
        ++it;
        continue;
      }
      const size_t zero = it->first.find('\0');
      std::string project = it->first.substr(0, zero);
      std::string id = it->first.substr(zero + 1);
      shelf_.Erase(project, id);
      if (Holds(project)) dropped.emplace_back(std::move(project), std::move(id));
      it = entries_.erase(it);
    }
  }
  // The lease holder deletes the stored model of a recommendation no longer served.
  for (const auto& [project, id] : dropped) {
    if (Status s = DeleteModel(store_, project, id); !s.ok()) {
      std::string message = "recommendations: project ";
      message.append(project).append(": cannot delete the model of ").append(id);
      LogError(message.append(": ").append(s.ToString()));
    }
  }
}

bool RecTrainer::KeepLease(const std::string& project) {
  if (!shared_) return true;
  const int64_t now = SystemClock::Instance().NowMs();
  {
    std::lock_guard lock(mu_);
    // Renewed once 40 % of it has passed.
    if (lease_until_[project] - now > options_.lease_ms * 6 / 10) return true;
  }
  const std::string lease_key = store::TrainerLeaseKey(project);
  // A read without locks first: another node's live lease needs no transaction. A lease that
  // does not decode counts as ended.
  std::string value;
  std::string holder;
  int64_t until = 0;
  Status s = store_.Get(store::Table::kMeta, lease_key, &value);
  bool held = false;
  if (s.ok() && DecodeLease(value, &holder, &until) && holder != node_id_ && until >= now) {
    // Another node holds it.
  } else if (s.ok() || s.IsNotFound()) {
    std::lock_guard txn(txn_mu_);
    s = locking_.Get(store::Table::kMeta, lease_key, &value);
    if (s.ok() && !DecodeLease(value, &holder, &until)) until = 0;
    if ((s.ok() && (holder == node_id_ || until < now)) || s.IsNotFound()) {
      store::WriteSet writes;
      writes.Put(store::Table::kMeta, lease_key, EncodeLease(node_id_, now + options_.lease_ms));
      held = locking_.Commit(writes, true).ok();
      if (held && holder != node_id_) {
        LogInfo("recommendations: project " + project + ": this node trains its models now");
      }
    }
    locking_.EndTransaction();
  }
  std::lock_guard lock(mu_);
  if (held) {
    lease_until_[project] = now + options_.lease_ms;
  } else if (s.ok() || lease_until_[project] <= now) {
    lease_until_[project] = 0;  // another node's, or ours ran out
  }
  return held;
}

bool RecTrainer::Holds(const std::string& project) const {
  if (!shared_) return true;
  auto it = lease_until_.find(project);
  // A second's margin for clocks that differ between nodes.
  return it != lease_until_.end() && it->second > SystemClock::Instance().NowMs() + 1000;
}

bool RecTrainer::PickDue(Job* job) {
  const int64_t now = clock_.NowMs();
  const int64_t steady = SteadyMs();
  for (const std::string& p : projects_) {
    if (!Holds(p)) continue;
    std::shared_ptr<const compute::ProjectCatalog> catalog = catalogs_.Get(p);
    for (const compute::ServedRecommendation& served : catalog->recommendations()) {
      const compute::Recommendation& r = served.definition;
      auto it = entries_.find(KeyOf(p, r.id));
      if (it == entries_.end()) continue;  // not read from the store yet
      const Entry& entry = it->second;
      // A job whose outcome the store did not take is not tried again at once, asked or not.
      if (entry.unpublished != 0 && steady - entry.unpublished < kRetryAfterFailureMs) continue;
      const std::string fingerprint = compute::TrainingKey(r);
      const bool failed_recently = entry.tried == fingerprint && entry.tried_ms != 0 &&
                                   entry.head.status.state == RecTrainingStatus::State::kFailed &&
                                   now - entry.tried_ms < kRetryAfterFailureMs;
      const bool requested = !entry.request.empty() && entry.request != entry.head.request_seen;
      const bool stale = entry.head.generation == 0 || entry.head.training_key != fingerprint ||
                         entry.unloadable == entry.head.generation;
      const int64_t last = entry.head.status.last_trained_ms;
      const bool scheduled = r.retrain_every_minutes > 0 && last != 0 &&
                             now - last >= int64_t{r.retrain_every_minutes} * 60'000;
      if (requested || ((stale || scheduled) && !failed_recently)) {
        *job = Job{p, r, entry.request};
        return true;
      }
    }
  }
  return false;
}

void RecTrainer::Run() {
  while (true) {
    Job job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.clear();
      busy_ = true;
    }
    RunJob(job);
    {
      std::lock_guard lock(mu_);
      busy_ = false;
      wake_ = true;
    }
    poll_cv_.notify_all();
  }
}

void RecTrainer::SetStatus(const std::string& key, const RecTrainingStatus& status) {
  std::lock_guard lock(mu_);
  entries_[key].status = status;
}

void RecTrainer::RunJob(const Job& job) {
  const std::string& project = job.project;
  const std::string& id = job.rec.id;
  const std::string key = KeyOf(project, id);
  const std::string fingerprint = compute::TrainingKey(job.rec);
  RecTrainingStatus status;
  {
    std::lock_guard lock(mu_);
    Entry& entry = entries_[key];
    entry.training = true;
    ++entry.epoch;
    entry.tried = fingerprint;
    entry.tried_ms = clock_.NowMs();
    entry.status.state = RecTrainingStatus::State::kTraining;
    entry.status.progress = 0;
    entry.status.error.clear();
    status = entry.status;
  }
  // Ends the job: `head` is what the store holds now when `published`.
  auto finish = [&](bool published, const ModelHead& head,
                    std::shared_ptr<const recs::ServingModel> model) {
    std::lock_guard lock(mu_);
    Entry& entry = entries_[key];
    entry.training = false;
    ++entry.epoch;
    if (published) {
      entry.head = head;
      entry.status = head.status;
      entry.local_status = false;
      entry.unpublished = 0;
    } else {
      entry.status = status;
      entry.local_status = true;
      entry.unpublished = SteadyMs();
    }
    if (model != nullptr) {
      // It serves here even when the store did not take it, and stays until a newer one.
      shelf_.Set(project, id, std::move(model), fingerprint);
      entry.loaded =
          published && head.training_key == fingerprint ? head.generation : entry.head.generation;
    }
  };
  ModelHead head;
  // Only the state, progress and error: the rest of the head is what the store holds.
  auto publish_status = [&] {
    return UpdateHead(
        project, id,
        [&](ModelHead* h) {
          h->status.state = status.state;
          h->status.progress = status.progress;
          h->status.error = status.error;
        },
        &head);
  };
  if (Status s = publish_status(); !s.ok()) {
    status.state = RecTrainingStatus::State::kFailed;
    status.error = "the training could not start: " + s.message();
    finish(false, head, nullptr);
    return;  // no longer the lease holder, or the store is down: tried again later
  }
  auto started = std::chrono::steady_clock::now();
  auto last_published = started;
  auto report = [&](double progress) {
    status.progress = progress;
    SetStatus(key, status);
    if (auto now = std::chrono::steady_clock::now(); now - last_published > kProgressEvery) {
      last_published = now;
      (void)publish_status();  // best effort: other nodes see the progress
    }
  };
  recs::OfflineInput offline;
  // Memory can run out while reading a large log (JSON parsing, the training set): that
  // fails this training, not the server.
  Result<std::shared_ptr<const recs::ServingModel>> trained = [&] {
    try {
      return Train(project, job.rec, report, &offline);
    } catch (const std::bad_alloc&) {
      return Result<std::shared_ptr<const recs::ServingModel>>(
          Status::Internal("out of memory while training"));
    }
  }();
  if (stop_.load()) {
    // Stopping: the outcome is nobody's; the request stays unanswered for the next trainer.
    finish(false, head, nullptr);
    return;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const uint64_t generation = trained.ok() ? RandomGeneration() : 0;
  Status stored = trained.status();
  uint32_t chunks = 0;
  if (stored.ok()) stored = StoreModel(project, id, **trained, generation, &chunks);
  ModelHead replaced;  // the generation the new head replaces
  Status published = UpdateHead(
      project, id,
      [&](ModelHead* h) {
        h->request_seen = job.request;
        RecTrainingStatus& st = h->status;
        st.progress = 1;
        if (!stored.ok()) {
          st.state = RecTrainingStatus::State::kFailed;
          st.error = trained.ok()
                         ? "trained, but the model could not be stored: " + stored.message()
                         : stored.message();
          ++st.failures;
          return;
        }
        const recs::ServingModel& model = **trained;
        replaced.generation = h->generation;
        replaced.chunks = h->chunks;
        h->generation = generation;
        h->chunks = chunks;
        if (h->pending_generation == generation) {
          h->pending_generation = 0;
          h->pending_chunks = 0;
        }
        h->training_key = fingerprint;
        st.state = RecTrainingStatus::State::kReady;
        st.last_trained_ms = model.trained_at_ms;
        st.last_duration_seconds = seconds;
        st.users = model.users;
        st.items = static_cast<int64_t>(model.items.size());
        st.interactions = model.interactions;
        st.model = std::string(recs::ModelName(model.used));
        st.note = model.note;
        st.offline.reset();  // measured below, once the model serves
        st.error.clear();
        ++st.trainings;
      },
      &head);
  if (!stored.ok()) {
    LogError("recommendations: project " + project + ": training " + id +
             " failed: " + stored.ToString());
  }
  if (!published.ok()) {
    LogError("recommendations: project " + project + ": the training of " + id +
             " was not published: " + published.ToString());
    status.state = RecTrainingStatus::State::kFailed;
    status.error = "the training's outcome could not be stored: " + published.message();
  }
  finish(published.ok(), head, trained.ok() ? *trained : nullptr);
  if (!published.ok() || !stored.ok()) return;
  if (replaced.generation != 0 && replaced.generation != generation) {
    if (Status s = DeleteChunks(store_, project, id, replaced.generation, replaced.chunks);
        !s.ok()) {
      LogError("recommendations: project " + project + ": cannot delete the model of " + id +
               " replaced: " + s.ToString());
    }
  }
  const recs::ServingModel& model = **trained;
  LogInfo("recommendations: project " + project + ": trained " + id + " (" +
          std::string(recs::ModelName(model.used)) + ", " + std::to_string(model.items.size()) +
          " items, " + std::to_string(model.users) + " users) in " + std::to_string(seconds) +
          " s");
  // After the model serves, so that a training takes no longer to serve its model.
  MeasureOffline(project, id, generation, model.used, offline);
}

void RecTrainer::MeasureOffline(const std::string& project, const std::string& id,
                                uint64_t generation, recs::ModelKind used,
                                const recs::OfflineInput& input) {
  if (stop_.load()) return;
  const auto started = std::chrono::steady_clock::now();
  const uint64_t shelved = shelf_.MemoryBytes();
  const uint64_t budget = options_.memory_budget_bytes;
  Result<std::optional<recs::OfflineFigures>> figures = [&] {
    try {
      // A shutdown ends the measurement between two users (Stop sets stop_).
      return recs::MeasureOffline(input.options, input.data, input.newest, input.now_ms,
                                  shelved < budget ? budget - shelved : 0,
                                  [this] { return stop_.load(); });
    } catch (const std::bad_alloc&) {
      return Result<std::optional<recs::OfflineFigures>>(
          Status::Internal("out of memory while measuring"));
    }
  }();
  const std::string what = "recommendations: project " + project + ": offline figures of " + id;
  if (!figures.ok()) {
    if (stop_.load()) return;  // cancelled by the shutdown: nothing went wrong
    LogError(what + " not measured: " + figures.status().ToString());
    return;
  }
  if (!figures->has_value()) return;  // not measurable: offline stays null
  if ((*figures)->model != used) {
    // Memory made the measured training fall back to another model than the one serving.
    LogInfo(what + " not kept: measured " + std::string(recs::ModelName((*figures)->model)) +
            ", serving " + std::string(recs::ModelName(used)));
    return;
  }
  ModelHead head;
  Status s = UpdateHead(
      project, id,
      [&](ModelHead* h) {
        if (h->generation == generation) h->status.offline = **figures;
      },
      &head);
  if (!s.ok()) {
    LogError(what + " not stored: " + s.ToString());
    return;
  }
  {
    std::lock_guard lock(mu_);
    Entry& entry = entries_[KeyOf(project, id)];
    ++entry.epoch;  // a head read before this one is stale
    entry.head = head;
    if (!entry.local_status) entry.status = head.status;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  LogInfo(what + ": hit rate " + std::to_string((*figures)->hit_rate) + ", ndcg " +
          std::to_string((*figures)->ndcg) + " at 10 over " + std::to_string((*figures)->users) +
          " users, measured in " + std::to_string(seconds) + " s");
}

Status RecTrainer::StoreModel(const std::string& project, const std::string& id,
                              const recs::ServingModel& model, uint64_t generation,
                              uint32_t* chunks) {
  try {
    const std::string bytes = recs::EncodeServingModel(model);
    // The head names the generation before its chunks are written, so that if this node
    // stops half-way the next trainer deletes them; it deletes what an earlier one left.
    ModelHead left;
    ModelHead head;
    PROFILED_RETURN_IF_ERROR(UpdateHead(
        project, id,
        [&](ModelHead* h) {
          left.generation = h->pending_generation;
          left.chunks = h->pending_chunks;
          h->pending_generation = generation;
          h->pending_chunks = static_cast<uint32_t>(
              std::min<uint64_t>(ChunkCount(bytes.size()), std::numeric_limits<uint32_t>::max()));
        },
        &head));
    if (left.generation != 0 && left.generation != generation) {
      PROFILED_RETURN_IF_ERROR(DeleteChunks(store_, project, id, left.generation, left.chunks));
    }
    return WriteModelChunks(store_, project, id, generation, bytes, chunks);
  } catch (const std::bad_alloc&) {
    return Status::Internal("out of memory while storing the model");
  }
}

Status RecTrainer::UpdateHead(const std::string& project, const std::string& id,
                              const std::function<void(ModelHead*)>& update, ModelHead* head) {
  std::lock_guard txn(txn_mu_);
  Status s = [&] {
    if (shared_) {
      std::string value;
      Status g = locking_.Get(store::Table::kMeta, store::TrainerLeaseKey(project), &value);
      if (!g.ok() && !g.IsNotFound()) return g;
      std::string holder;
      int64_t until = 0;
      if (!g.ok() || !DecodeLease(value, &holder, &until) || holder != node_id_ ||
          until <= SystemClock::Instance().NowMs()) {
        std::lock_guard lock(mu_);
        lease_until_[project] = 0;
        return Status::Unavailable("this node no longer holds the trainer lease of project " +
                                   project);
      }
    }
    if (catalogs_.Get(project)->FindRecommendation(id) == compute::ProjectCatalog::kUnresolved) {
      return Status::NotFound("recommendation " + id + " is no longer served");
    }
    const std::string key = store::ModelHeadKey(project, id);
    std::string value;
    ModelHead h;
    Status g = locking_.Get(store::Table::kMeta, key, &value);
    if (!g.ok() && !g.IsNotFound()) return g;
    // A head that does not decode is replaced (its chunks, if any, stay behind).
    if (g.ok() && !DecodeModelHead(value, &h).ok()) h = ModelHead{};
    update(&h);
    store::WriteSet writes;
    writes.Put(store::Table::kMeta, key, EncodeModelHead(h));
    PROFILED_RETURN_IF_ERROR(locking_.Commit(writes, true));
    *head = std::move(h);
    return Status::Ok();
  }();
  locking_.EndTransaction();
  return s;
}

Result<std::shared_ptr<const recs::ServingModel>> RecTrainer::Train(
    const std::string& project, const compute::Recommendation& rec,
    const std::function<void(double)>& progress, recs::OfflineInput* offline) const {
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
  // Per user, the newest (event time, then log order) interaction: what the offline figures
  // hold out.
  struct Newest {
    int64_t time_ms;
    int32_t item;
  };
  std::unordered_map<uint64_t, Newest> newest;
  MergedIds merged(store_, project);
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
        Result<uint64_t> user = merged.Resolve(record.amplitude_id);
        if (!user.ok()) {
          failure = user.status();
          return false;
        }
        data.Add(*user, item);
        if (offline != nullptr) {
          const int32_t index = data.pairs().back().second;
          auto [n, inserted] = newest.try_emplace(*user, Newest{record.time_ms, index});
          if (!inserted && record.time_ms >= n->second.time_ms) n->second = {record.time_ms, index};
        }
        return true;
      });
  if (s.ok()) s = failure;
  if (!s.ok()) return s;
  if (progress) progress(0.5);
  const uint64_t shelved = shelf_.MemoryBytes();
  const uint64_t budget = options_.memory_budget_bytes;
  const uint64_t left = shelved < budget ? budget - shelved : 0;
  auto model = recs::TrainServingModel(*options, data, now, left);
  if (model.ok() && progress) progress(1);
  if (model.ok() && offline != nullptr) {
    offline->options = *options;
    offline->data = std::move(data);
    offline->newest.clear();
    offline->newest.reserve(newest.size());
    for (const auto& [user, n] : newest) offline->newest.emplace(user, n.item);
    offline->now_ms = now;
  }
  return model;
}

}  // namespace profiled::ingest
