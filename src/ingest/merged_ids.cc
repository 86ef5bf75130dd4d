#include "ingest/merged_ids.h"

#include <algorithm>

#include "store/keys.h"
#include "store/records.h"

namespace profiled::ingest {

namespace {
constexpr int kMaxHops = 64;
}  // namespace

Result<uint64_t> MergedIds::Resolve(uint64_t amplitude_id) {
  if (auto it = into_.find(amplitude_id); it != into_.end()) return it->second;
  uint64_t id = amplitude_id;
  // Merges only go from an anonymous id into another, so a chain is short; the bound guards
  // against a damaged store looping.
  for (int hops = 0; hops < kMaxHops; ++hops) {
    std::string into;
    Status g = store_.Get(store::Table::kIdentity, store::MergeKey(project_, id), &into);
    if (g.IsNotFound()) break;
    if (!g.ok()) return g;
    uint64_t next = 0;
    if (!store::DecodeId(into, &next).ok()) {
      return Status::Corruption("a merge entry does not decode");
    }
    id = next;
  }
  into_.emplace(amplitude_id, id);
  return id;
}

Status MergedIds::ResolveAll(const std::vector<uint64_t>& ids) {
  struct Chain {
    uint64_t from = 0;  // the id asked
    uint64_t at = 0;    // where its chain has reached
  };
  std::vector<uint64_t> wanted;
  for (uint64_t id : ids) {
    if (into_.count(id) == 0) wanted.push_back(id);
  }
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  std::vector<Chain> open;
  open.reserve(wanted.size());
  for (uint64_t id : wanted) open.push_back({id, id});
  std::vector<std::string> keys;
  std::vector<std::string> values;
  std::vector<Status> statuses;
  // As Resolve: at most kMaxHops hops, one round of MultiGet calls each.
  for (int hops = 0; hops < kMaxHops && !open.empty(); ++hops) {
    std::vector<Chain> next;
    for (size_t begin = 0; begin < open.size(); begin += kBatchKeys) {
      const size_t end = std::min(open.size(), begin + kBatchKeys);
      keys.clear();
      for (size_t i = begin; i < end; ++i) keys.push_back(store::MergeKey(project_, open[i].at));
      PROFILED_RETURN_IF_ERROR(store_.MultiGet(store::Table::kIdentity, keys, &values, &statuses));
      for (size_t i = begin; i < end; ++i) {
        const Status& g = statuses[i - begin];
        if (g.IsNotFound()) {
          into_.emplace(open[i].from, open[i].at);
          continue;
        }
        if (!g.ok()) return g;
        uint64_t into = 0;
        if (!store::DecodeId(values[i - begin], &into).ok()) {
          return Status::Corruption("a merge entry does not decode");
        }
        next.push_back({open[i].from, into});
      }
    }
    open.swap(next);
  }
  for (const Chain& c : open) into_.emplace(c.from, c.at);
  return Status::Ok();
}

}  // namespace profiled::ingest
