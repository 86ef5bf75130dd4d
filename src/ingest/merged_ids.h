// MergedIds: which profile an amplitude_id of the event log is part of now. An anonymous
// profile merged into another (docs/IDENTITY.md) leaves a merge entry (store::MergeKey) that
// names the id it went into; a scan of the log that counts per user follows those entries so
// that the merged id's events count for the profile it is now part of.
//
// Caches every answer. Resolve makes one store read per distinct id and hop; ResolveAll
// resolves many ids with MultiGet calls of up to kBatchKeys keys (on Redis, one round trip per
// batch and hop, not one per id). Not thread-safe: one per scan.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "store/store.h"

namespace profiled::ingest {

class MergedIds {
 public:
  // Borrows `store`, which must outlive this object.
  MergedIds(store::Store& store, std::string_view project) : store_(store), project_(project) {}

  // The id `amplitude_id` now is: the end of its chain of merge entries, or itself. Fails
  // with the store's error, or Corruption when a merge entry does not decode.
  Result<uint64_t> Resolve(uint64_t amplitude_id);

  static constexpr size_t kBatchKeys = 1000;
  // Resolves every id of `ids` (duplicates allowed) into the cache, so that a later Resolve of
  // any of them reads nothing: per hop of the chains, MultiGet calls of at most kBatchKeys
  // merge keys. Fails as Resolve does.
  Status ResolveAll(const std::vector<uint64_t>& ids);

 private:
  store::Store& store_;
  const std::string project_;
  std::unordered_map<uint64_t, uint64_t> into_;
};

}  // namespace profiled::ingest
