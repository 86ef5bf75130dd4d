#include "store/fault_store.h"

namespace profiled::store {

void FaultStore::FailNextCommits(int n, Status error) {
  std::lock_guard<std::mutex> lock(mu_);
  failing_commits_ = n;
  commit_error_ = std::move(error);
}

void FaultStore::FailNextGets(int n, Status error) {
  std::lock_guard<std::mutex> lock(mu_);
  failing_gets_ = n;
  get_error_ = std::move(error);
}

void FaultStore::SetHealth(Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  if (status.ok()) {
    health_.reset();
  } else {
    health_ = std::move(status);
  }
}

void FaultStore::BeforeGet(Table table, std::string key, std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  hook_table_ = table;
  hook_key_ = std::move(key);
  hook_ = std::move(fn);
}

void FaultStore::StallCommits() {
  std::lock_guard<std::mutex> lock(mu_);
  stalled_ = true;
}

void FaultStore::ResumeCommits() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stalled_ = false;
  }
  cv_.notify_all();
}

void FaultStore::WaitForStalledCommit() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return parked_ > 0; });
}

std::vector<FaultStore::CommitRecord> FaultStore::commits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return commits_;
}

bool FaultStore::SyncedWrite(Table table, std::string_view key) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& c : commits_) {
    if (!c.sync || !c.status.ok()) continue;
    for (const auto& op : c.writes.ops()) {
      if (op.table == table && !op.is_delete && op.key == key) return true;
    }
  }
  return false;
}

size_t FaultStore::GetCalls(Table table) const {
  std::lock_guard<std::mutex> lock(mu_);
  return get_calls_[static_cast<size_t>(table)];
}

size_t FaultStore::MultiGetCalls(Table table) const {
  std::lock_guard<std::mutex> lock(mu_);
  return multi_get_calls_[static_cast<size_t>(table)];
}

Status FaultStore::MultiGet(Table table, const std::vector<std::string>& keys,
                            std::vector<std::string>* values, std::vector<Status>* statuses) {
  std::function<void()> hook;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++multi_get_calls_[static_cast<size_t>(table)];
    if (failing_gets_ > 0) {
      --failing_gets_;
      return get_error_;
    }
    if (hook_ && hook_table_ == table) {
      for (const auto& key : keys) {
        if (key == hook_key_) {
          hook = std::move(hook_);
          hook_ = nullptr;
          break;
        }
      }
    }
  }
  if (hook) hook();
  return inner_.MultiGet(table, keys, values, statuses);
}

Status FaultStore::Get(Table table, std::string_view key, std::string* value) {
  std::function<void()> hook;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++get_calls_[static_cast<size_t>(table)];
    if (failing_gets_ > 0) {
      --failing_gets_;
      return get_error_;
    }
    if (hook_ && hook_table_ == table && hook_key_ == key) hook = std::move(hook_);
    if (hook) hook_ = nullptr;
  }
  if (hook) hook();
  return inner_.Get(table, key, value);
}

Status FaultStore::Commit(const WriteSet& writes, bool sync) {
  std::unique_lock<std::mutex> lock(mu_);
  if (stalled_) {
    ++parked_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return !stalled_; });
    --parked_;
  }
  Status result;
  if (failing_commits_ > 0) {
    --failing_commits_;
    result = commit_error_;
  } else {
    // Held across the write so the record order is the commit order.
    result = inner_.Commit(writes, sync);
  }
  commits_.push_back(CommitRecord{writes, sync, result});
  return result;
}

Status FaultStore::Scan(Table table, std::string_view begin, std::string_view end,
                        const std::function<bool(std::string_view, std::string_view)>& fn) {
  return inner_.Scan(table, begin, end, [&](std::string_view key, std::string_view value) {
    const bool more = fn(key, value);
    std::function<void()> hook;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++scan_entries_;
      if (scan_hook_ran_ && more) ++taken_after_hook_;
      if (scan_hook_ && scan_entries_ == scan_hook_at_) {
        hook = std::move(scan_hook_);
        scan_hook_ = nullptr;
        scan_hook_ran_ = true;
      }
    }
    if (hook) hook();
    return more;
  });
}

void FaultStore::AfterScanEntries(uint64_t n, std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  scan_entries_ = 0;
  scan_hook_at_ = n;
  scan_hook_ = std::move(fn);
  scan_hook_ran_ = false;
  taken_after_hook_ = 0;
}

uint64_t FaultStore::EntriesTakenAfterScanHook() const {
  std::lock_guard<std::mutex> lock(mu_);
  return taken_after_hook_;
}

Status FaultStore::DeleteRange(Table table, std::string_view begin, std::string_view end) {
  return inner_.DeleteRange(table, begin, end);
}

Status FaultStore::Health() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (health_) return *health_;
  }
  return inner_.Health();
}

}  // namespace profiled::store
