#include "ingest/commit_pipeline.h"

#include <cassert>
#include <utility>

namespace profiled::ingest {

CommitPipeline::~CommitPipeline() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void CommitPipeline::Start(store::WriteSet writes, bool sync, Done done) {
  assert(!in_flight_);
  if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
  {
    std::lock_guard<std::mutex> lock(mu_);
    writes_ = std::move(writes);
    sync_ = sync;
    done_ = std::move(done);
    pending_ = true;
  }
  in_flight_ = true;
  cv_.notify_all();
}

Status CommitPipeline::Wait() {
  if (!in_flight_) return Status::Ok();
  in_flight_ = false;
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return !pending_; });
  return result_;
}

void CommitPipeline::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    // A job started before the destructor ran is still committed: it holds acknowledgements.
    cv_.wait(lock, [this] { return pending_ || stopping_; });
    if (!pending_) return;
    store::WriteSet writes = std::move(writes_);
    Done done = std::move(done_);
    const bool sync = sync_;
    lock.unlock();
    Status s = store_.Commit(writes, sync);
    done(s);
    // Freed here, off the writer's thread and before Wait returns to it.
    done = nullptr;
    writes = store::WriteSet();
    lock.lock();
    result_ = std::move(s);
    pending_ = false;
    cv_.notify_all();
  }
}

}  // namespace profiled::ingest
