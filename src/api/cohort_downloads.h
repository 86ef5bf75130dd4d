// CohortDownloads: the asynchronous member download of Amplitude's cohort API
// (/api/5/cohorts/request/{id} -> request-status -> file), and the other work that scans a
// project's users (cohort sizes, member exports), run on one worker thread so that no I/O
// thread ever waits on a scan.
//
// A request queues a job that lists the cohort's members (ProfileReader::ForEachMember, a
// scan of the project's users) into a CSV held in memory. Finished files are kept for an
// hour, at most kKeptFiles of them (the oldest go first); they do not survive a restart,
// and a client whose file is gone asks again. Thread-safe; Stop (or the destructor) ends the
// worker, and must run before the store closes.
//
// The server runs two of them (api::Endpoints): one for the Amplitude-facing cohort API and
// the admin exports, one for the console's log scans, so that console clicks never make the
// cohort API busy. Stop sets StopFlag() first, which a long task checks (ScanLimits::stop) to
// end early.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "core/clock.h"
#include "core/status.h"
#include "read/profile_reader.h"

namespace profiled::api {

class CohortDownloads {
 public:
  static constexpr size_t kMaxQueued = 8;  // waiting tasks (Amplitude allows 4 per app)
  static constexpr size_t kKeptFiles = 16;

  // `work`: what the busy message calls the tasks ("cohort scans" when none given).
  CohortDownloads(const read::ProfileReader& reader, const Clock& clock,
                  std::string work = "cohort scans");
  ~CohortDownloads();
  CohortDownloads(const CohortDownloads&) = delete;
  CohortDownloads& operator=(const CohortDownloads&) = delete;

  // Sets StopFlag() only: the running task and those still waiting (which go on running)
  // end early and answer, while the server can still send their answers (a shutdown calls it
  // before the server stops, then Stop).
  void BeginStop() { stop_flag_.store(true); }
  // Sets StopFlag(), drops the tasks still waiting (they never run), and waits for the running
  // one to return.
  void Stop();
  // True from the start of Stop on; a task reads it to end early.
  const std::atomic<bool>& StopFlag() const { return stop_flag_; }

  // Runs `task` on the worker thread, after the tasks queued before it. Throttled when
  // kMaxQueued tasks wait; Unavailable after Stop (then `task` never runs).
  Status Post(std::function<void()> task);

  // Queues a download of served cohort `cohort_id`; *request_id names it. Throttled when
  // kMaxQueued are waiting; Unavailable after Stop.
  Status Request(const std::string& project, const std::string& cohort_id, std::string* request_id);

  enum class State { kUnknown, kRunning, kDone, kFailed };
  // The state of a request of `project` (kUnknown for another project's, or an expired one).
  State Find(std::string_view project, std::string_view request_id, std::string* cohort_id) const;
  // The CSV (header amplitude_id,user_id) of a finished request. False if not done.
  bool File(std::string_view project, std::string_view request_id, std::string* csv) const;

 private:
  struct Job {
    std::string project;
    std::string cohort_id;
    State state = State::kRunning;
    std::string csv;
    int64_t finished_ms = 0;
  };
  void Run();
  void Download(const std::string& request_id);
  void Expire();  // REQUIRES: mu_ held

  const read::ProfileReader& reader_;
  const Clock& clock_;
  const std::string work_;
  std::atomic<bool> stop_flag_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Job> jobs_;          // GUARDED_BY mu_; by request id
  std::deque<std::function<void()>> queue_;  // GUARDED_BY mu_
  bool stopping_ = false;                    // GUARDED_BY mu_
  std::thread worker_;
};

// Appends `value` to *out as one CSV field (quoted when it holds a comma, quote or newline).
void AppendCsvField(std::string_view value, std::string* out);

}  // namespace profiled::api
