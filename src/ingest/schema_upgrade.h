// UpgradeStore: brings a store written by an earlier profiled to the current schema.
//
// The schema version lives in kMeta under store::SchemaVersionKey() (absent = 1, the
// first format). Versions and what each upgrade does are listed in docs/STORAGE.md:
//   1 -> 2  rewrites the JSON text of every profile (numbers in their shortest form) and
//           of every profile or logged event holding a non-finite number version 1 could
//           store (as the bare words Infinity, -Infinity, NaN, which are not JSON):
//           saturated to the largest finite double of their sign, NaN to null. Reads and
//           writes of those users work again.
//   2 -> 3  moves every profile from its untagged key P || be64(amplitude_id) to the tagged
//           per-user record key (store::ProfileKey, tag 'p'), deleting the old key in the
//           same durable chunk, so each profile is at exactly one of the two keys at any time.
// A shared store (Store::Shared(), the Redis Cluster backend) without a version is new: it is
// stamped with the current version, since no older profiled wrote that backend.
// Each step is followed by a durable stamp of the version it reached, so a store whose
// upgrade was cut short resumes from the last finished step.
// Runs before the server takes traffic; not thread-safe with other writers. Each step
// is idempotent, so an upgrade cut short by a crash simply runs again at the next start.
#pragma once

#include <cstdint>

#include "core/status.h"
#include "store/store.h"

namespace profiled::ingest {

inline constexpr uint64_t kSchemaVersion = 3;

// OK when the store is at kSchemaVersion (upgrading it if older, stamping a new one);
// InvalidArgument if a newer profiled wrote it; the store's errors (the version then stays
// old). A record that does not decode is left as it is and counted in an error log line:
// one damaged record must not keep the server from starting.
Status UpgradeStore(store::Store& store);

}  // namespace profiled::ingest
