// CommitPipeline: one store commit at a time, on a thread of its own, so the ingest writer
// applies the next commit group while the last one is written, fsynced and acknowledged.
//
// Start hands over a WriteSet and a callback: the pipeline's thread commits the writes
// (Store::Commit), then runs the callback with the commit's Status. Wait blocks until the
// commit started last and its callback are done, and returns that Status (OK when nothing
// was started since the last Wait). Commits therefore land in the order they were started,
// never two at once.
//
// Thread-safety: Start, Wait and InFlight are called by one thread (the writer). The
// callback runs on the pipeline's thread and must not call Start or Wait.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "core/status.h"
#include "store/store.h"

namespace profiled::ingest {

class CommitPipeline {
 public:
  using Done = std::function<void(const Status&)>;

  // Borrows `store`, which must outlive this object. The thread starts at the first Start.
  explicit CommitPipeline(store::Store& store) : store_(store) {}
  // Waits for the commit in flight and its callback, then joins the thread.
  ~CommitPipeline();
  CommitPipeline(const CommitPipeline&) = delete;
  CommitPipeline& operator=(const CommitPipeline&) = delete;

  // REQUIRES: !InFlight() (Wait returned since the last Start).
  void Start(store::WriteSet writes, bool sync, Done done);
  Status Wait();
  // Whether a commit was started and not waited for (it may have landed already).
  bool InFlight() const { return in_flight_; }

 private:
  void Run();

  store::Store& store_;
  bool in_flight_ = false;  // the calling thread's
  std::mutex mu_;
  std::condition_variable cv_;
  bool pending_ = false;    // guarded by mu_: a job waits for the thread, or runs
  bool stopping_ = false;   // guarded by mu_
  store::WriteSet writes_;  // guarded by mu_ until taken
  bool sync_ = false;       // guarded by mu_
  Done done_;               // guarded by mu_ until taken
  Status result_;           // guarded by mu_
  std::thread thread_;
};

}  // namespace profiled::ingest
