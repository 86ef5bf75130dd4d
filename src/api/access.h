// Access: who may call what, as one immutable snapshot of the configuration's projects, their
// keys and the admin token (docs/API.md, "Keys"). The endpoints read the current snapshot
// once per request and keep it until the request is answered; a configuration reload
// (SIGHUP) publishes a new one without waiting for them.
//
// Every lookup by a key goes through a SecretIndex (api/auth.h): its time depends on the
// presented key's length only, whichever key it is compared with. Immutable after
// construction, so thread-safe; the ProjectConfig pointers it returns live as long as it does.
// The one mutable part is each project's Profile API read limit (profile_reads_per_minute), a
// lock-free TokenBucket that the snapshot owns; a reload's snapshot continues what the
// previous one's buckets counted.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "api/auth.h"
#include "core/config.h"
#include "core/token_bucket.h"

namespace profiled::api {

class Access {
 public:
  // REQUIRES: ValidateConfig(config) is OK (no key belongs to two projects). With `previous`
  // (the snapshot this one replaces), each project's read limit goes on from what `previous`
  // counted for the project up to `now_ms`.
  explicit Access(const Config& config, const Access* previous = nullptr, int64_t now_ms = 0);
  Access(const Access&) = delete;
  Access& operator=(const Access&) = delete;

  // The project whose api_key is `key`; null when none.
  const ProjectConfig* ByApiKey(std::string_view key) const;
  // The project one of whose secret keys is `key`; null when none.
  const ProjectConfig* BySecretKey(std::string_view key) const;
  // The project of HTTP Basic `api_key:secret_key` credentials: both keys must be the same
  // project's (any of its secret keys); null otherwise. Both are looked up whatever the first
  // answers, so the time says nothing of which one was wrong.
  const ProjectConfig* ByKeyPair(std::string_view api_key, std::string_view secret_key) const;
  // The project of an `Authorization: Basic base64(api_key:secret_key)` header (the cohort and
  // privacy APIs), as ByKeyPair finds it. Null when there is none, with *problem set to the
  // 401's message: "Missing Basic credentials (api_key:secret_key)" or "Invalid API key or
  // secret key".
  const ProjectConfig* ByBasicAuth(std::string_view authorization, std::string_view* problem) const;
  // The project with this id; null when none (ids are not secret).
  const ProjectConfig* ById(std::string_view id) const;
  // Every project, in the configuration's order.
  const std::vector<ProjectConfig>& projects() const { return projects_; }
  // Whether `token` is the admin token; always false when the admin API is off (no token).
  bool IsAdminToken(std::string_view token) const;
  // The bucket of `project`'s Profile API reads (thread-safe). REQUIRES: `project` came from
  // this snapshot and has profile_reads_per_minute > 0.
  TokenBucket& ProfileReads(const ProjectConfig& project) const {
    return *profile_reads_[static_cast<size_t>(&project - projects_.data())];
  }

 private:
  std::vector<ProjectConfig> projects_;
  SecretIndex api_keys_;                                // -> index in projects_
  SecretIndex secret_keys_;                             // -> index in projects_
  SecretIndex admin_token_;                             // -> 0
  std::unordered_map<std::string_view, size_t> by_id_;  // views into projects_
  // Per project (index in projects_); null where reads are not limited.
  std::vector<std::unique_ptr<TokenBucket>> profile_reads_;
};

}  // namespace profiled::api
