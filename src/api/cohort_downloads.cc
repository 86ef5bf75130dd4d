#include "api/cohort_downloads.h"

#include <random>

#include "core/log.h"

namespace profiled::api {

namespace {
constexpr int64_t kKeepMs = int64_t{3600} * 1000;

std::string NewRequestId() {
  static constexpr char kHex[] = "0123456789abcdef";
  std::random_device random;
  std::string id;
  for (int i = 0; i < 4; ++i) {
    uint32_t bits = random();
    for (int j = 0; j < 8; ++j, bits >>= 4) id.push_back(kHex[bits & 15]);
  }
  return id;
}
}  // namespace

void AppendCsvField(std::string_view value, std::string* out) {
  if (value.find_first_of(",\"\r\n") == std::string_view::npos) {
    out->append(value);
    return;
  }
  out->push_back('"');
  for (char c : value) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

CohortDownloads::CohortDownloads(const read::ProfileReader& reader, const Clock& clock,
                                 std::string work)
    : reader_(reader), clock_(clock), work_(std::move(work)), worker_([this] { Run(); }) {}

CohortDownloads::~CohortDownloads() { Stop(); }

void CohortDownloads::Stop() {
  stop_flag_.store(true);
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

Status CohortDownloads::Post(std::function<void()> task) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return Status::Unavailable("server is shutting down");
  if (queue_.size() >= kMaxQueued) {
    return Status::Throttled("too many " + work_ + " are waiting; retry later");
  }
  queue_.push_back(std::move(task));
  cv_.notify_one();
  return Status::Ok();
}

Status CohortDownloads::Request(const std::string& project, const std::string& cohort_id,
                                std::string* request_id) {
  std::string id = NewRequestId();
  {
    std::lock_guard<std::mutex> lock(mu_);
    Expire();
    jobs_[id] = Job{project, cohort_id, State::kRunning, {}, 0};
  }
  Status s = Post([this, id] { Download(id); });
  if (!s.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.erase(id);
    return s;
  }
  *request_id = id;
  return Status::Ok();
}

CohortDownloads::State CohortDownloads::Find(std::string_view project, std::string_view request_id,
                                             std::string* cohort_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(std::string(request_id));
  if (it == jobs_.end() || it->second.project != project) return State::kUnknown;
  *cohort_id = it->second.cohort_id;
  return it->second.state;
}

bool CohortDownloads::File(std::string_view project, std::string_view request_id,
                           std::string* csv) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(std::string(request_id));
  if (it == jobs_.end() || it->second.project != project || it->second.state != State::kDone) {
    return false;
  }
  *csv = it->second.csv;
  return true;
}

void CohortDownloads::Expire() {
  int64_t now = clock_.NowMs();
  size_t finished = 0;
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    if (it->second.state != State::kRunning && now - it->second.finished_ms > kKeepMs) {
      it = jobs_.erase(it);
      continue;
    }
    finished += it->second.state != State::kRunning ? 1 : 0;
    ++it;
  }
  while (finished >= kKeptFiles) {
    auto oldest = jobs_.end();
    for (auto it = jobs_.begin(); it != jobs_.end(); ++it) {
      if (it->second.state == State::kRunning) continue;
      if (oldest == jobs_.end() || it->second.finished_ms < oldest->second.finished_ms) oldest = it;
    }
    if (oldest == jobs_.end()) break;
    jobs_.erase(oldest);
    --finished;
  }
}

void CohortDownloads::Run() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

void CohortDownloads::Download(const std::string& request_id) {
  std::string project, cohort_id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const Job& job = jobs_[request_id];
    project = job.project;
    cohort_id = job.cohort_id;
  }
  std::string csv = "amplitude_id,user_id\n";
  Status s = reader_.ForEachMember(project, cohort_id, [&](uint64_t id, std::string_view user) {
    csv.append(std::to_string(id));
    csv.push_back(',');
    AppendCsvField(user, &csv);
    csv.push_back('\n');
    return true;
  });
  if (!s.ok()) LogError("cohort download " + cohort_id + " failed: " + s.ToString());
  std::lock_guard<std::mutex> lock(mu_);
  Job& job = jobs_[request_id];
  job.state = s.ok() ? State::kDone : State::kFailed;
  job.csv = std::move(csv);
  job.finished_ms = clock_.NowMs();
}

}  // namespace profiled::api
