// FaultStore: a Store that forwards to a real Store, records what reaches it and fails or
// stalls on demand. For tests only (library profiled_store_testing); never linked into
// the server.
//
// It lets a test assert what the layers above actually asked of the store (every commit
// with its sync flag and ops), make the next N commits or reads fail with a chosen Status
// (nothing reaches the wrapped store then), run a callback just before a chosen read (to
// commit a racing write deterministically), and park commits until the test releases
// them (to fill the ingest queue behind a stalled fsync).
//
// Thread-safety: every method may be called from any thread concurrently; the wrapped
// store must be thread-safe (Store's contract). Callbacks run on the calling thread of the
// read they precede, without any FaultStore lock held.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "store/store.h"

namespace profiled::store {

class FaultStore final : public Store {
 public:
  // One Commit call that reached this wrapper.
  struct CommitRecord {
    WriteSet writes;
    bool sync = false;
    Status status;  // what Commit returned
  };

  // Borrows `inner`, which must outlive this object. `shared`: what Shared() answers, so a
  // test can put the layers above in their mode for a store several nodes share.
  explicit FaultStore(Store& inner, bool shared = false) : inner_(inner), shared_(shared) {}

  // The next `n` Commit calls return `error` without writing anything.
  void FailNextCommits(int n, Status error);
  // The next `n` Get or MultiGet calls return `error` without reading.
  void FailNextGets(int n, Status error);
  // Health() returns `status` until called again with OK (then the inner store answers).
  void SetHealth(Status status);

  // Runs `fn` once, just before the first later Get of (table, key), or MultiGet of `table`
  // with `key` among its keys, reads the inner store. One hook at a time; a new one replaces
  // the old.
  void BeforeGet(Table table, std::string key, std::function<void()> fn);

  // While stalled, Commit waits (before failing or writing) until Resume. WaitForStalledCommit
  // blocks until a Commit is waiting.
  void StallCommits();
  void ResumeCommits();
  void WaitForStalledCommit();

  // Runs `fn` once, on the scanning thread, right after the `n`-th entry (counted from now,
  // over every later Scan) was handed to a Scan's callback. EntriesTakenAfterScanHook counts
  // the entries handed afterwards that a callback took (returned true for): how far a scan
  // went on past the hook (e.g. one that sets a stop flag).
  void AfterScanEntries(uint64_t n, std::function<void()> fn);
  uint64_t EntriesTakenAfterScanHook() const;

  // How many Get / MultiGet calls of `table` reached this wrapper (failed ones included).
  size_t GetCalls(Table table) const;
  size_t MultiGetCalls(Table table) const;

  // Every Commit call so far, in order (a copy).
  std::vector<CommitRecord> commits() const;
  // Whether a Commit that returned OK with sync=true wrote `key` in `table`.
  bool SyncedWrite(Table table, std::string_view key) const;

  Status Get(Table table, std::string_view key, std::string* value) override;
  Status MultiGet(Table table, const std::vector<std::string>& keys,
                  std::vector<std::string>* values, std::vector<Status>* statuses) override;
  Status Commit(const WriteSet& writes, bool sync) override;
  Status Scan(Table table, std::string_view begin, std::string_view end,
              const std::function<bool(std::string_view, std::string_view)>& fn) override;
  Status DeleteRange(Table table, std::string_view begin, std::string_view end) override;
  uint64_t ApproximateSizeBytes() override { return inner_.ApproximateSizeBytes(); }
  Status Health() override;
  bool Shared() const override { return shared_; }

 private:
  Store& inner_;
  const bool shared_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int failing_commits_ = 0;                      // guarded by mu_
  Status commit_error_;                          // guarded by mu_
  int failing_gets_ = 0;                         // guarded by mu_
  Status get_error_;                             // guarded by mu_
  std::optional<Status> health_;                 // guarded by mu_
  bool stalled_ = false;                         // guarded by mu_
  int parked_ = 0;                               // guarded by mu_: commits waiting while stalled
  Table hook_table_ = Table::kMeta;              // guarded by mu_
  std::string hook_key_;                         // guarded by mu_
  std::function<void()> hook_;                   // guarded by mu_
  std::vector<CommitRecord> commits_;            // guarded by mu_
  uint64_t scan_entries_ = 0;                    // guarded by mu_: since the hook was set
  uint64_t scan_hook_at_ = 0;                    // guarded by mu_
  std::function<void()> scan_hook_;              // guarded by mu_
  bool scan_hook_ran_ = false;                   // guarded by mu_
  uint64_t taken_after_hook_ = 0;                // guarded by mu_
  std::array<size_t, kTableCount> get_calls_{};  // guarded by mu_
  std::array<size_t, kTableCount> multi_get_calls_{};  // guarded by mu_
};

}  // namespace profiled::store
