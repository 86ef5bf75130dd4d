#include "api/access.h"

namespace profiled::api {

Access::Access(const Config& config, const Access* previous, int64_t now_ms)
    : projects_(config.projects), profile_reads_(projects_.size()) {
  for (size_t i = 0; i < projects_.size(); ++i) {
    const ProjectConfig& p = projects_[i];
    if (p.profile_reads_per_minute > 0) {
      profile_reads_[i] = std::make_unique<TokenBucket>(p.profile_reads_per_minute);
      const ProjectConfig* before = previous == nullptr ? nullptr : previous->ById(p.id);
      if (before != nullptr && before->profile_reads_per_minute > 0) {
        profile_reads_[i]->ContinueFrom(previous->ProfileReads(*before), now_ms);
      }
    }
    // ValidateConfig refused a key given to two projects; one listed twice in its own project
    // is refused there too, and would be harmless here.
    api_keys_.Add(p.api_key, i);
    for (std::string_view secret : SecretKeysOf(p)) secret_keys_.Add(secret, i);
    by_id_.emplace(p.id, i);
  }
  if (!config.admin_token.empty()) admin_token_.Add(config.admin_token, 0);
}

const ProjectConfig* Access::ByApiKey(std::string_view key) const {
  size_t i = api_keys_.Find(key);
  return i == SecretIndex::kNone ? nullptr : &projects_[i];
}

const ProjectConfig* Access::BySecretKey(std::string_view key) const {
  size_t i = secret_keys_.Find(key);
  return i == SecretIndex::kNone ? nullptr : &projects_[i];
}

const ProjectConfig* Access::ByKeyPair(std::string_view api_key,
                                       std::string_view secret_key) const {
  size_t by_api = api_keys_.Find(api_key);
  size_t by_secret = secret_keys_.Find(secret_key);
  return by_api == SecretIndex::kNone || by_api != by_secret ? nullptr : &projects_[by_api];
}

const ProjectConfig* Access::ByBasicAuth(std::string_view authorization,
                                         std::string_view* problem) const {
  std::string credentials;
  std::string_view basic = CredentialsOf(authorization, "basic");
  if (basic.empty() || !DecodeBase64(basic, &credentials)) {
    *problem = "Missing Basic credentials (api_key:secret_key)";
    return nullptr;
  }
  size_t colon = credentials.find(':');
  const ProjectConfig* project = colon == std::string::npos
                                     ? nullptr
                                     : ByKeyPair(std::string_view(credentials).substr(0, colon),
                                                 std::string_view(credentials).substr(colon + 1));
  if (project == nullptr) *problem = "Invalid API key or secret key";
  return project;
}

const ProjectConfig* Access::ById(std::string_view id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &projects_[it->second];
}

bool Access::IsAdminToken(std::string_view token) const {
  return admin_token_.Find(token) != SecretIndex::kNone;
}

}  // namespace profiled::api
