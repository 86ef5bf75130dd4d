#include "ingest/merged_ids.h"

#include "store/keys.h"
#include "store/records.h"

namespace profiled::ingest {

Result<uint64_t> MergedIds::Resolve(uint64_t amplitude_id) {
  if (auto it = into_.find(amplitude_id); it != into_.end()) return it->second;
  uint64_t id = amplitude_id;
  // Merges only go from an anonymous id into another, so a chain is short; the bound guards
  // against a damaged store looping.
  for (int hops = 0; hops < 64; ++hops) {
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

}  // namespace profiled::ingest
