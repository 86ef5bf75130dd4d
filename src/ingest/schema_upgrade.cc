#include "ingest/schema_upgrade.h"

#include <boost/json/object.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/log.h"
#include "core/value_text.h"
#include "store/keys.h"
#include "store/records.h"

namespace profiled::ingest {

namespace {

using store::Table;

// Above every key: keys start with a varint project length, and no varint starts with
// sixteen 0xff bytes.
constexpr std::string_view kEndOfTable =
    "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff";
constexpr size_t kChunkRecords = 1000;

Status RewriteJson(std::string_view text, std::string* out) {
  boost::json::object o;
  PROFILED_RETURN_IF_ERROR(ParseStoredObject(text, &o));
  *out = ObjectText(o);
  return Status::Ok();
}

Status RewriteProfile(std::string_view bytes, std::string* out) {
  store::ProfileView view;
  PROFILED_RETURN_IF_ERROR(store::DecodeProfile(bytes, &view));
  store::ProfileRecord r;
  r.user_id.assign(view.user_id);
  r.device_id.assign(view.device_id);
  PROFILED_RETURN_IF_ERROR(RewriteJson(view.builtins_json, &r.builtins_json));
  PROFILED_RETURN_IF_ERROR(RewriteJson(view.properties_json, &r.properties_json));
  *out = store::EncodeProfile(r);
  return Status::Ok();
}

// The event log is internal, so only records version 1 could not read back are rewritten:
// those holding the bare words Infinity or NaN. The rest are left untouched (a substring
// test, no parse), which keeps the start-up scan of a large log cheap.
Status RewriteEvent(std::string_view bytes, std::string* out) {
  store::EventRecord r;
  PROFILED_RETURN_IF_ERROR(store::DecodeEvent(bytes, &r));
  if (r.json.find("Infinity") == std::string::npos && r.json.find("NaN") == std::string::npos) {
    out->assign(bytes);
    return Status::Ok();
  }
  boost::json::object o;
  PROFILED_RETURN_IF_ERROR(ParseStoredObject(r.json, &o));
  r.json = ObjectText(o);
  // Written back as version 2, which names the type: take it from a version-1 record's JSON.
  if (const boost::json::value* type = o.if_contains("event_type");
      r.event_type.empty() && type != nullptr && type->is_string()) {
    r.event_type.assign(type->get_string());
  }
  *out = store::EncodeEvent(r);
  return Status::Ok();
}

// Rewrites every record of `table` whose new form differs, a durable chunk at a time.
Status RewriteTable(store::Store& store, Table table,
                    Status (*rewrite)(std::string_view, std::string*), size_t* rewritten,
                    size_t* unreadable) {
  std::string from;
  for (;;) {
    store::WriteSet writes;
    std::string last;
    size_t seen = 0;
    PROFILED_RETURN_IF_ERROR(
        store.Scan(table, from, kEndOfTable, [&](std::string_view key, std::string_view value) {
          std::string updated;
          Status s = rewrite(value, &updated);
          if (!s.ok()) {
            // Left as it is: one damaged record must not keep the server from starting.
            // Reads of it answer 500 and log it, as they would have before.
            ++*unreadable;
          } else if (updated != value) {
            writes.Put(table, std::string(key), std::move(updated));
          }
          last.assign(key);
          return ++seen < kChunkRecords;
        }));
    if (!writes.empty()) {
      *rewritten += writes.ops().size();
      PROFILED_RETURN_IF_ERROR(store.Commit(writes, /*sync=*/true));
    }
    if (seen < kChunkRecords) return Status::Ok();
    from = last;
    from.push_back('\0');  // the smallest key after `last`
  }
}

// Moves every untagged profile key (versions 1 and 2) to its tagged record key, a durable
// chunk at a time; each move's Put and Delete are in one chunk, so a crash leaves every
// profile under exactly one key and a rerun moves just the rest. The bytes move as they are
// (no decode), so a damaged record stays as damaged as it was, under its new key.
Status TagProfileKeys(store::Store& store, size_t* moved, size_t* unparsable) {
  std::string from;
  for (;;) {
    store::WriteSet writes;
    std::string last;
    size_t seen = 0;
    PROFILED_RETURN_IF_ERROR(store.Scan(
        Table::kProfiles, from, kEndOfTable, [&](std::string_view key, std::string_view value) {
          store::UserKeyParts parts;
          if (!store::ParseUserKey(key, &parts)) {
            ++*unparsable;
          } else if (parts.tail.empty()) {
            writes.Put(Table::kProfiles,
                       store::UserRecordKey(parts.project, parts.amplitude_id,
                                            store::UserRecord::kProfile),
                       std::string(value));
            writes.Delete(Table::kProfiles, std::string(key));
            ++*moved;
          }
          last.assign(key);
          return ++seen < kChunkRecords;
        }));
    if (!writes.empty()) PROFILED_RETURN_IF_ERROR(store.Commit(writes, /*sync=*/true));
    if (seen < kChunkRecords) return Status::Ok();
    // The moved keys sort right after their old ones and are scanned again (and skipped).
    from = last;
    from.push_back('\0');
  }
}

Status UpgradeFrom1(store::Store& store) {
  size_t rewritten = 0;
  size_t unreadable = 0;
  PROFILED_RETURN_IF_ERROR(
      RewriteTable(store, Table::kProfiles, RewriteProfile, &rewritten, &unreadable));
  PROFILED_RETURN_IF_ERROR(
      RewriteTable(store, Table::kEvents, RewriteEvent, &rewritten, &unreadable));
  if (rewritten > 0) {
    LogInfo("schema upgrade 1 -> 2: rewrote " + std::to_string(rewritten) + " records");
  }
  if (unreadable > 0) {
    LogError("schema upgrade 1 -> 2: left " + std::to_string(unreadable) +
             " records that do not decode as they were");
  }
  return Status::Ok();
}

Status UpgradeFrom2(store::Store& store) {
  size_t moved = 0;
  size_t unparsable = 0;
  PROFILED_RETURN_IF_ERROR(TagProfileKeys(store, &moved, &unparsable));
  if (moved > 0) {
    LogInfo("schema upgrade 2 -> 3: moved " + std::to_string(moved) + " profiles to tagged keys");
  }
  if (unparsable > 0) {
    LogError("schema upgrade 2 -> 3: left " + std::to_string(unparsable) +
             " profile keys that do not parse as they were");
  }
  return Status::Ok();
}

Status StampVersion(store::Store& store, uint64_t version) {
  store::WriteSet stamp;
  stamp.Put(Table::kMeta, store::SchemaVersionKey(), store::EncodeId(version));
  return store.Commit(stamp, /*sync=*/true);
}

}  // namespace

Status UpgradeStore(store::Store& store) {
  uint64_t version = 1;
  std::string value;
  Status s = store.Get(Table::kMeta, store::SchemaVersionKey(), &value);
  if (s.ok()) {
    PROFILED_RETURN_IF_ERROR(store::DecodeId(value, &version));
  } else if (!s.IsNotFound()) {
    return s;
  } else if (store.Shared()) {
    // The Redis Cluster store began at the current version: no older one holds data.
    return StampVersion(store, kSchemaVersion);
  }
  if (version < 1) return Status::Corruption("the store's schema version is 0");
  if (version > kSchemaVersion) {
    return Status::InvalidArgument("the store has schema version " + std::to_string(version) +
                                   ", written by a newer profiled; this one reads up to " +
                                   std::to_string(kSchemaVersion));
  }
  // One step per version, each stamped when done: a crash resumes at the step it cut short.
  while (version < kSchemaVersion) {
    if (version == 1) {
      PROFILED_RETURN_IF_ERROR(UpgradeFrom1(store));
    } else {
      PROFILED_RETURN_IF_ERROR(UpgradeFrom2(store));
    }
    PROFILED_RETURN_IF_ERROR(StampVersion(store, ++version));
  }
  return Status::Ok();
}

}  // namespace profiled::ingest
