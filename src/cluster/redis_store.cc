#include "cluster/redis_store.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <queue>
#include <random>
#include <set>
#include <span>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <utility>

#include "cluster/keys.h"
#include "core/coding.h"
#include "core/hash.h"
#include "core/log.h"
#include "redis/async_connection.h"
#include "redis/key_slot.h"
#include "redis/reply.h"
#include "store/keys.h"
#include "store/records.h"

namespace profiled::cluster {

namespace {

using store::Table;
using store::WriteSet;

constexpr int64_t kDayMs = int64_t{24} * 3600 * 1000;
// What a node that takes over a dead node's lock stores as that node's intent when it has
// none yet (SET NX): the dead node, should it wake up, can then no longer store one, and its
// commit applies nothing. Kept a week; intents themselves never expire (a dead node's commit
// is finished whenever its keys are next needed).
constexpr char kNoIntent[] = "\x01no intent";
constexpr int64_t kNoIntentTtlMs = 7 * kDayMs;
// Users a scan of kProfiles reads at once (one HGETALL each, pipelined).
constexpr size_t kUsersPerRead = 128;
// The client retries what it can itself; a part still failing is kept and retried by the
// lease thread (FinishUnfinished), so a commit does not wait on a cluster that is down.
constexpr int kApplyAttempts = 2;

// Locks the key whose lock is KEYS[1] for the transaction ARGV[1] unless another holds it, and
// reads KEYS[2]: ARGV[2] 's' GET, 'h' HMGET of the fields ARGV[3..], '' nothing.
// Returns {1, value} when the lock is (now) the caller's, {0, owner} when another's.
constexpr char kLockReadScript[] = R"lua(
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then return {0, owner} end
if not owner then redis.call('SET', KEYS[1], ARGV[1]) end
if ARGV[2] == 's' then return {1, redis.call('GET', KEYS[2])} end
if ARGV[2] == 'h' then return {1, redis.call('HMGET', KEYS[2], unpack(ARGV, 3))} end
return {1, false}
)lua";

// Applies one slot's part of a transaction's writes and hands its locks on.
//   ARGV[1] the transaction, ARGV[2] the next owner of the locks ('' = release them),
//   ARGV[3] the number of writes, then 7 arguments per write: code, the KEYS index of the key,
//   of the second key (0 = none), of the lock that guards it (0 = none), field, value, PXAT
//   ('' = none); then the KEYS indices of the locks to hand on.
// A write is applied only while its lock is the transaction's: after a take-over of a dead
// node's lock, that node's late writes change nothing. Codes: 's' SET, 'x' DEL, 'h' HSET,
// 'H' HDEL, 'm' HSET + ZADD of the field (an ordered table's put), 'M' HDEL + ZREM, 'e' ZADD
// the field (an event), 'E' ZREMRANGEBYLEX of the members that start with the field (an event
// deleted by its key: its member is key || value, and a value never starts with 0xff), 'D' ZADD the
// value with itself as score (a day of events). A user hash's put and delete ('h', 'H' with a
// second key) keep the user in its partition's user index: the index holds the hash key's last 8
// bytes (be64(amplitude_id)) while the hash exists. Every write is idempotent, so applying a part
// twice (a retry after an unknown outcome) is the same as applying it once.
constexpr char kApplyScript[] = R"lua(
local token, next_owner, n = ARGV[1], ARGV[2], tonumber(ARGV[3])
local a = 4
for _ = 1, n do
  local code, k, x, l = ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local f, v, px = ARGV[a + 4], ARGV[a + 5], ARGV[a + 6]
  a = a + 7
  if l == 0 or redis.call('GET', KEYS[l]) == token then
    if code == 's' then
      if px ~= '' then redis.call('SET', KEYS[k], v, 'PXAT', px) else redis.call('SET', KEYS[k], v) end
    elseif code == 'x' then redis.call('DEL', KEYS[k])
    elseif code == 'h' then
      redis.call('HSET', KEYS[k], f, v)
      if x > 0 then redis.call('ZADD', KEYS[x], 0, string.sub(KEYS[k], -8)) end
    elseif code == 'H' then
      redis.call('HDEL', KEYS[k], f)
      if x > 0 and redis.call('EXISTS', KEYS[k]) == 0 then
        redis.call('ZREM', KEYS[x], string.sub(KEYS[k], -8))
      end
    elseif code == 'm' then redis.call('HSET', KEYS[k], f, v); redis.call('ZADD', KEYS[x], 0, f)
    elseif code == 'M' then redis.call('HDEL', KEYS[k], f); redis.call('ZREM', KEYS[x], f)
    elseif code == 'e' then redis.call('ZADD', KEYS[k], 0, f)
    elseif code == 'E' then redis.call('ZREMRANGEBYLEX', KEYS[k], '[' .. f, '(' .. f .. '\255')
    elseif code == 'D' then redis.call('ZADD', KEYS[k], tonumber(v), v)
    end
  end
end
for i = a, #ARGV do
  local l = KEYS[tonumber(ARGV[i])]
  if redis.call('GET', l) == token then
    if next_owner == '' then redis.call('DEL', l) else redis.call('SET', l, next_owner) end
  end
end
return 1
)lua";

// Adds ARGV[2] to the varint (store::EncodeId) counter at field ARGV[1] of the ordered table
// KEYS[1] (hash) / KEYS[2] (its keys) and returns the old value in decimal. Counters stay below
// 2^53, where Lua's numbers are exact.
constexpr char kReserveScript[] = R"lua(
local function dec(s)
  local v, m = 0, 1
  for i = 1, #s do
    local b = string.byte(s, i)
    v = v + (b % 128) * m
    m = m * 128
    if b < 128 then break end
  end
  return v
end
local function enc(v)
  local t = {}
  repeat
    local b = v % 128
    v = (v - b) / 128
    if v > 0 then b = b + 128 end
    t[#t + 1] = string.char(b)
  until v == 0
  return table.concat(t)
end
local old = redis.call('HGET', KEYS[1], ARGV[1])
local v = old and dec(old) or 0
redis.call('HSET', KEYS[1], ARGV[1], enc(v + tonumber(ARGV[2])))
redis.call('ZADD', KEYS[2], 0, ARGV[1])
return string.format('%.0f', v)
)lua";

enum class Kind : uint8_t { kString, kHash, kOrdered, kEvent };

// Where a store key lives in Redis.
struct Location {
  Kind kind = Kind::kString;
  std::string key;    // the string, the user hash, the ordered table's hash, the event shard
  std::string aux;    // kHash: the partition's user index; kOrdered: the table's sorted set
                      // of keys; kEvent: the day index
  std::string field;  // kHash: the record tag; kOrdered: the store key
  std::string lock;   // "" = none (events are only ever added, under unique keys)
  int64_t day = 0;    // kEvent
};

Status NotSupported(Table table, std::string_view what) {
  return Status::Internal(std::string(what) + " of table " +
                          std::to_string(static_cast<int>(table)) +
                          " is not supported on the Redis Cluster store (it would need a scan "
                          "of the keyspace)");
}

redis::Command Eval(const char* script, std::vector<std::string> keys,
                    std::vector<std::string> args) {
  redis::Command c;
  c.args.reserve(3 + keys.size() + args.size());
  c.args.emplace_back("EVAL");
  c.args.emplace_back(script);
  c.args.push_back(std::to_string(keys.size()));
  for (auto& k : keys) c.args.push_back(std::move(k));
  for (auto& a : args) c.args.push_back(std::move(a));
  c.key_index = 3;
  return c;
}

// A reply that is not an answer to the command: the node's error, named.
Status ReplyError(const redis::Reply& reply, std::string_view what) {
  return Status::IoError(std::string(what) + ": Redis answered " + reply.ToString());
}

std::string TableKeyPrefix(std::string_view key, bool* ok) {
  std::string_view in = key;
  std::string_view project;
  *ok = GetLengthPrefixed(&in, &project);
  if (!*ok) return {};
  return std::string(key.substr(0, key.size() - in.size()));
}

std::string EncodeIntent(const WriteSet& writes) {
  std::string out;
  for (const WriteSet::Op& op : writes.ops()) {
    out.push_back(static_cast<char>(op.table));
    out.push_back(op.is_delete ? 'd' : 'p');
    PutLengthPrefixed(&out, op.key);
    PutLengthPrefixed(&out, op.value);
  }
  return out;
}

bool DecodeIntent(std::string_view in, WriteSet* writes) {
  while (!in.empty()) {
    if (in.size() < 2) return false;
    auto table = static_cast<Table>(in[0]);
    bool is_delete = in[1] == 'd';
    if (static_cast<int>(table) >= store::kTableCount) return false;
    in.remove_prefix(2);
    std::string_view key;
    std::string_view value;
    if (!GetLengthPrefixed(&in, &key) || !GetLengthPrefixed(&in, &value)) return false;
    if (is_delete) {
      writes->Delete(table, std::string(key));
    } else {
      writes->Put(table, std::string(key), std::string(value));
    }
  }
  return true;
}

}  // namespace

// The transaction of a writer: the locks it holds, by slot.
struct Txn {
  std::string token;
  std::map<uint16_t, std::set<std::string>> locks;  // slot -> lock keys held
  bool Holds(const std::string& lock) const {
    auto it = locks.find(redis::KeySlot(lock));
    return it != locks.end() && it->second.count(lock) != 0;
  }
  void Add(const std::string& lock) { locks[redis::KeySlot(lock)].insert(lock); }
  // A lock whose command was never sent (the client's Unavailable): nothing to release.
  void Forget(const std::string& lock, const Status& outcome) {
    if (outcome.code() == ErrorCode::kUnavailable) Remove(lock);
  }
  void Remove(const std::string& lock) {
    auto it = locks.find(redis::KeySlot(lock));
    if (it != locks.end()) it->second.erase(lock);
  }
};

class RedisStore::Impl {
 public:
  Impl(RedisStoreOptions options, std::unique_ptr<redis::ClusterClient> client, std::string node_id)
      : options_(std::move(options)), client_(std::move(client)), node_id_(std::move(node_id)) {}

  ~Impl() { StopLease(); }

  Status StartLease() {
    PROFILED_RETURN_IF_ERROR(RenewLease());
    lease_thread_ = std::thread([this] { LeaseLoop(); });
    return Status::Ok();
  }

  void StopLease() {
    stop_requested_ = true;
    {
      std::lock_guard<std::mutex> lock(lease_mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    lease_cv_.notify_all();
    if (lease_thread_.joinable()) lease_thread_.join();
    // Others need not wait out the lease for this node's locks, unless some are still held
    // (a commit or release a primary did not answer): those are taken over once it lapses.
    std::lock_guard<std::mutex> lock(unfinished_mu_);
    if (unfinished_.empty()) (void)client_->Execute({{"DEL", LeaseKey(node_id_)}, 1});
  }

  const std::string& node_id() const { return node_id_; }

  std::string NewToken() { return node_id_ + ":" + std::to_string(next_txn_.fetch_add(1)); }

  // --- Layout

  uint32_t HashPartition(std::string_view a, std::string_view b = {}) const {
    return static_cast<uint32_t>(
        StableHasher().Add(static_cast<uint64_t>(a.size())).Add(a).Add(b).Finish() %
        options_.partitions);
  }

  Status Locate(Table table, std::string_view key, Location* loc) const {
    *loc = Location();
    switch (table) {
      case Table::kIdentity:
      case Table::kDedup: {
        std::string tag = PartitionTag(HashPartition(key));
        char kind = table == Table::kIdentity ? 'i' : 'd';
        loc->kind = Kind::kString;
        loc->key = tag + kind;
        loc->key.append(key);
        loc->lock = tag + 'L' + kind;
        loc->lock.append(key);
        return Status::Ok();
      }
      case Table::kProfiles: {
        store::UserKeyParts parts;
        if (!store::ParseUserKey(key, &parts) || parts.tail.size() != 1) {
          return Status::InvalidArgument("not a user record key");
        }
        uint32_t partition = Partition(parts.project, parts.amplitude_id, options_.partitions);
        std::string tag = PartitionTag(partition);
        loc->kind = Kind::kHash;
        loc->key = UserHashKey(partition, parts.project, parts.amplitude_id);
        loc->aux = UserIndexKey(partition, parts.project);
        loc->field = std::string(parts.tail);
        loc->lock = tag + 'L';
        loc->lock.append(std::string_view(loc->key).substr(tag.size()));
        return Status::Ok();
      }
      case Table::kMeta: {
        bool ok = false;
        std::string prefix = TableKeyPrefix(key, &ok);
        if (!ok) return Status::InvalidArgument("a meta key without a project");
        std::string tag = PartitionTag(HashPartition("m", prefix));
        loc->kind = Kind::kOrdered;
        loc->key = tag + "mh" + prefix;
        loc->aux = tag + "mz" + prefix;
        loc->field = std::string(key);
        loc->lock = tag + "Lm";
        loc->lock.append(key);
        return Status::Ok();
      }
      case Table::kEvents: {
        bool ok = false;
        std::string prefix = TableKeyPrefix(key, &ok);
        std::string_view rest = key.substr(prefix.size());
        uint64_t ms = 0;
        uint64_t seq = 0;
        if (!ok || !GetFixed64BE(&rest, &ms) || !GetFixed64BE(&rest, &seq) || !rest.empty()) {
          return Status::InvalidArgument("not an event key");
        }
        loc->kind = Kind::kEvent;
        loc->day = static_cast<int64_t>(ms) / kDayMs;
        loc->key = EventShardKey(prefix, loc->day, static_cast<uint32_t>(seq % kEventShards));
        loc->aux = DayIndexKey(prefix);
        return Status::Ok();
      }
    }
    return Status::InvalidArgument("no such table");
  }

  std::string EventShardKey(std::string_view prefix, int64_t day, uint32_t shard) const {
    std::string where(prefix);
    PutFixed64BE(&where, static_cast<uint64_t>(day));
    where.push_back(static_cast<char>(shard));
    std::string k = PartitionTag(HashPartition("e", where)) + 'e';
    k += where;
    return k;
  }

  std::string DayIndexKey(std::string_view prefix) const {
    return PartitionTag(HashPartition("m", prefix)) + "ed" + std::string(prefix);
  }

  std::string IntentKey(const std::string& token) const {
    return PartitionTag(HashPartition("I", token)) + 'I' + token;
  }

  static std::string LeaseKey(const std::string& node) { return "{lease}" + node; }

  // --- Reads without locks

  Status Get(Table table, std::string_view key, std::string* value) {
    std::vector<std::string> keys{std::string(key)};
    std::vector<std::string> values;
    std::vector<Status> statuses;
    PROFILED_RETURN_IF_ERROR(MultiGet(table, keys, &values, &statuses, nullptr));
    *value = std::move(values[0]);
    return statuses[0];
  }

  // The one command that reads `keys` without locks when they all live in one Redis key (a
  // user's records: one HMGET), with the primary serving it (the current map's, "" when none),
  // and where each key lives; false when reading them takes more than that one command.
  bool OneCommandRead(Table table, const std::vector<std::string>& keys,
                      std::vector<Location>* locs, std::vector<std::string>* args,
                      std::string* primary) const {
    if (keys.empty() || table == Table::kEvents) return false;
    locs->resize(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      if (!Locate(table, keys[i], &(*locs)[i]).ok()) return false;
      if ((*locs)[i].key != (*locs)[0].key) return false;
    }
    const Location& loc = (*locs)[0];
    args->clear();
    if (loc.kind == Kind::kString) {
      *args = {"GET", loc.key};
    } else {
      args->reserve(2 + keys.size());
      *args = {"HMGET", loc.key};
      for (const Location& l : *locs) args->push_back(l.field);
    }
    *primary = client_->PrimaryOf(redis::KeySlot(loc.key));
    return !primary->empty();
  }

  // Sets values and statuses from the reply to OneCommandRead's command.
  static Status FillAll(const redis::Reply& reply, const std::vector<Location>& locs,
                        std::vector<std::string>* values, std::vector<Status>* statuses) {
    std::vector<size_t> idx(locs.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    values->assign(locs.size(), {});
    statuses->assign(locs.size(), Status::Ok());
    return Fill(reply, idx, locs, values, statuses);
  }

  const redis::ClusterOptions& client_options() const { return options_.client; }

  // Reads `keys`; with a transaction, locks each first (waiting for live holders).
  Status MultiGet(Table table, const std::vector<std::string>& keys,
                  std::vector<std::string>* values, std::vector<Status>* statuses, Txn* txn) {
    values->assign(keys.size(), {});
    statuses->assign(keys.size(), Status::Ok());
    if (keys.empty()) return Status::Ok();
    std::vector<Location> locs(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      PROFILED_RETURN_IF_ERROR(Locate(table, keys[i], &locs[i]));
    }
    if (table == Table::kEvents) {
      for (size_t i = 0; i < keys.size(); ++i) {
        (*statuses)[i] = GetEvent(locs[i], keys[i], &(*values)[i]);
        if (!(*statuses)[i].ok() && !(*statuses)[i].IsNotFound()) return (*statuses)[i];
      }
      return Status::Ok();
    }
    // One command per Redis key: the fields of one hash are one HMGET. Locking, one per lock:
    // the keys of an ordered table (kMeta) share one hash but each has a lock of its own.
    bool locking = txn != nullptr;
    std::map<std::string, std::vector<size_t>> by_key;
    for (size_t i = 0; i < keys.size(); ++i) {
      by_key[locking ? locs[i].lock : locs[i].key].push_back(i);
    }
    std::vector<std::vector<size_t>> groups;
    std::vector<redis::Command> commands;
    for (auto& [group_key, idx] : by_key) {
      const Location& loc = locs[idx[0]];
      groups.push_back(idx);
      if (locking) {
        commands.push_back(LockReadCommand(*txn, loc, idx, locs));
      } else if (loc.kind == Kind::kString) {
        commands.push_back({{"GET", loc.key}, 1});
      } else {
        redis::Command c{{"HMGET", loc.key}, 1};
        for (size_t i : idx) c.args.push_back(locs[i].field);
        commands.push_back(std::move(c));
      }
    }
    std::vector<Result<redis::Reply>> replies;
    if (locking) {
      std::vector<std::string> lock_keys;
      lock_keys.reserve(groups.size());
      for (const auto& idx : groups) lock_keys.push_back(locs[idx[0]].lock);
      std::vector<redis::Reply> locked;
      PROFILED_RETURN_IF_ERROR(LockAll(*txn, commands, lock_keys, &locked));
      for (redis::Reply& r : locked) replies.emplace_back(std::move(r));
    } else {
      replies = client_->ExecuteBatch(commands);
    }
    for (size_t g = 0; g < groups.size(); ++g) {
      PROFILED_RETURN_IF_ERROR(replies[g].status());
      redis::Reply reply = std::move(replies[g].value());
      if (locking) {
        if (reply.elements.size() != 2) return ReplyError(reply, "lock and read");
        redis::Reply inner = std::move(reply.elements[1]);
        reply = std::move(inner);
      }
      PROFILED_RETURN_IF_ERROR(Fill(reply, groups[g], locs, values, statuses));
    }
    return Status::Ok();
  }

  // --- Transactions

  Status Commit(Txn& txn, const WriteSet& writes) {
    if (writes.empty()) {
      Release(txn);
      return Status::Ok();
    }
    if (!LeaseFresh()) {
      Release(txn);
      return Status::Unavailable("this node's lease in the Redis Cluster is not fresh");
    }
    std::vector<Location> locs(writes.ops().size());
    for (size_t i = 0; i < locs.size(); ++i) {
      const WriteSet::Op& op = writes.ops()[i];
      Status s = Locate(op.table, op.key, &locs[i]);
      if (!s.ok()) {
        Release(txn);
        return s;
      }
    }
    // Lock what is written and was not read.
    std::vector<redis::Command> commands;
    std::vector<std::string> lock_keys;
    std::set<std::string> seen;
    for (const Location& loc : locs) {
      if (loc.lock.empty() || txn.Holds(loc.lock) || !seen.insert(loc.lock).second) continue;
      commands.push_back(Eval(kLockReadScript, {loc.lock, loc.key}, {txn.token, ""}));
      lock_keys.push_back(loc.lock);
    }
    std::vector<redis::Reply> locked;
    if (Status s = LockAll(txn, commands, lock_keys, &locked); !s.ok()) {
      Release(txn);
      return s;
    }
    // The commit point: the intent, on the replicas. Written only while the lease is fresh,
    // so it is stored before any other node can take this node for dead (see the top).
    if (!LeaseFresh()) {
      Release(txn);
      return Status::Unavailable("this node's lease in the Redis Cluster is not fresh");
    }
    std::string intent_key = IntentKey(txn.token);
    {
      // NX: a node that took this one for dead and took over one of its locks stored "no
      // intent" here first; then this commit must apply nothing (its reads are stale).
      std::vector<std::vector<std::string>> run{{"SET", intent_key, EncodeIntent(writes), "NX"}};
      if (options_.wait_replicas > 0) run.push_back(WaitArgs());
      Result<std::vector<redis::Reply>> r = client_->RunOnSlot(redis::KeySlot(intent_key), run);
      Status s = r.status();
      bool taken_over = false;
      if (s.ok() && (*r)[0].is_error()) s = ReplyError((*r)[0], "intent");
      if (s.ok() && (*r)[0].is_nil()) {
        taken_over = true;
        s = Status::Unavailable(
            "this node was taken for dead (its lease lapsed) and applied "
            "nothing of the commit");
      }
      if (s.ok() && options_.wait_replicas > 0 && (*r)[1].integer < options_.wait_replicas) {
        s = Status::Unavailable("the commit did not reach " +
                                std::to_string(options_.wait_replicas) + " replica(s) in time");
      }
      if (!s.ok()) {
        // Nothing is applied. The intent, if stored, goes first: a lock that fails to be
        // released must not lead a taker to apply it.
        if (!taken_over) (void)client_->Execute({{"DEL", intent_key}, 1});
        Release(txn);
        return s;
      }
    }
    if (options_.testing_stop_after_intent) {
      txn.locks.clear();
      return Status::IoError("testing: stopped after the intent");
    }
    // Every slot is applied before any lock is released, so a writer that takes one of
    // the keys next sees the whole commit in every other key too (the definitions' version
    // and the definitions, say).
    Status applied = Apply(txn.token, txn.token, writes, locs, {});
    if (!applied.ok()) {
      // The intent stands: the locks stay this node's, and the parts are applied again, and
      // the locks released, by the lease thread (FinishUnfinished).
      std::lock_guard<std::mutex> lock(unfinished_mu_);
      unfinished_.push_back(Unfinished{txn.token, writes, std::move(txn.locks)});
      txn.locks.clear();
      return applied;
    }
    Release(txn);
    (void)client_->Execute({{"DEL", intent_key}, 1});
    return Status::Ok();
  }

  // Releases the transaction's locks; a release a primary did not answer is retried later.
  void Release(Txn& txn) {
    if (txn.locks.empty()) return;
    WriteSet none;
    if (!Apply(txn.token, "", none, {}, txn.locks).ok()) {
      // A primary did not answer: released later by the lease thread (FinishUnfinished).
      std::lock_guard<std::mutex> lock(unfinished_mu_);
      unfinished_.push_back(Unfinished{txn.token, WriteSet(), std::move(txn.locks)});
    }
    txn.locks.clear();
  }

  Status ReserveIds(std::string_view key, uint64_t count, uint64_t* first) {
    Location loc;
    PROFILED_RETURN_IF_ERROR(Locate(Table::kMeta, key, &loc));
    redis::Command c = Eval(kReserveScript, {loc.key, loc.aux}, {loc.field, std::to_string(count)});
    std::vector<std::vector<std::string>> run{c.args};
    if (options_.wait_replicas > 0) run.push_back(WaitArgs());
    Result<std::vector<redis::Reply>> r = client_->RunOnSlot(redis::KeySlot(loc.key), run);
    PROFILED_RETURN_IF_ERROR(r.status());
    const redis::Reply& reply = (*r)[0];
    if (reply.type != redis::ReplyType::kString) return ReplyError(reply, "reserve ids");
    if (options_.wait_replicas > 0 && (*r)[1].integer < options_.wait_replicas) {
      return Status::Unavailable("reserved ids did not reach the replicas in time");
    }
    if (std::from_chars(reply.str.data(), reply.str.data() + reply.str.size(), *first).ec !=
        std::errc()) {
      return ReplyError(reply, "reserve ids");
    }
    return Status::Ok();
  }

  // --- Scans and range deletes

  Status Scan(Table table, std::string_view begin, std::string_view end,
              const std::function<bool(std::string_view, std::string_view)>& fn) {
    if (table == Table::kMeta) return ScanOrdered(begin, end, fn);
    if (table == Table::kEvents) return ScanEvents(begin, end, fn);
    if (table == Table::kProfiles) return ScanUsers(begin, end, fn);
    return NotSupported(table, "a scan");
  }

  Status DeleteRange(Table table, std::string_view begin, std::string_view end) {
    if (table == Table::kMeta) {
      std::vector<std::string> keys;
      PROFILED_RETURN_IF_ERROR(ScanOrdered(begin, end, [&](std::string_view k, std::string_view) {
        keys.emplace_back(k);
        return true;
      }));
      WriteSet writes;
      for (auto& k : keys) writes.Delete(Table::kMeta, std::move(k));
      Txn txn{NewToken(), {}};
      return Commit(txn, writes);
    }
    if (table == Table::kEvents) return DeleteEvents(begin, end);
    return NotSupported(table, "a range delete");
  }

  Status Health() {
    // The cluster's own view first: cluster_state is ok when every slot has a primary that
    // the majority of primaries can reach.
    std::string last = "no seed";
    for (const std::string& node : options_.client.seeds) {
      Result<redis::Reply> r = client_->RunOnNode(node, {"CLUSTER", "INFO"});
      if (!r.ok()) {
        last = node + ": " + r.status().message();
        continue;
      }
      if (r->is_error()) {
        last = node + ": " + r->str;
        continue;
      }
      if (r->str.find("cluster_state:ok") == std::string::npos) {
        return Status::Unavailable("the Redis Cluster is down (node " + node +
                                   " says cluster_state is not ok: a slot has no primary)");
      }
      if (!LeaseFresh()) {
        return Status::Unavailable("this node cannot renew its lease in the Redis Cluster: " +
                                   LastLeaseError());
      }
      std::lock_guard<std::mutex> lock(unfinished_mu_);
      if (!unfinished_.empty()) {
        return Status::Unavailable(
            "a commit is not yet applied, or its locks not released, on every Redis Cluster "
            "primary");
      }
      return Status::Ok();
    }
    return Status::Unavailable("no Redis Cluster node answers (" + last + ")");
  }

 private:
  struct Unfinished {
    std::string token;
    WriteSet writes;
    std::map<uint16_t, std::set<std::string>> locks;
  };

  std::vector<std::string> WaitArgs() const {
    return {"WAIT", std::to_string(options_.wait_replicas),
            std::to_string(options_.wait_timeout_ms)};
  }

  redis::Command LockReadCommand(const Txn& txn, const Location& loc,
                                 const std::vector<size_t>& idx,
                                 const std::vector<Location>& locs) const {
    if (loc.kind == Kind::kString) {
      return Eval(kLockReadScript, {loc.lock, loc.key}, {txn.token, "s"});
    }
    std::vector<std::string> args{txn.token, "h"};
    for (size_t i : idx) args.push_back(locs[i].field);
    return Eval(kLockReadScript, {loc.lock, loc.key}, std::move(args));
  }

  // Turns a lock-and-read reply into one whose lock is the transaction's: waits while a live
  // node holds the lock, takes it over (applying that node's intent first) when it is dead.
  // Aborted after lock_wait_ms.
  Status AwaitLock(Txn& txn, const std::string& lock, const redis::Command& command,
                   redis::Reply* reply) {
    auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.lock_wait_ms);
    int pause_us = 200;
    for (;;) {
      if (reply->is_error()) return ReplyError(*reply, "lock");
      if (reply->type != redis::ReplyType::kArray || reply->elements.empty()) {
        return ReplyError(*reply, "lock");
      }
      if (reply->elements[0].integer == 1) {
        txn.Add(lock);
        return Status::Ok();
      }
      std::string owner = reply->elements.size() > 1 ? reply->elements[1].str : "";
      bool alive = true;
      PROFILED_RETURN_IF_ERROR(OwnerAlive(owner, &alive));
      if (!alive) {
        PROFILED_RETURN_IF_ERROR(TakeOver(owner, lock, txn.token));
      } else {
        if (std::chrono::steady_clock::now() >= deadline) {
          return Status::Aborted("waited " + std::to_string(options_.lock_wait_ms) +
                                 " ms for another profiled node's lock on a key");
        }
        std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
        pause_us = std::min(pause_us * 2, 2000);
      }
      std::vector<Result<redis::Reply>> again = LockBatch({&command, 1});
      PROFILED_RETURN_IF_ERROR(again[0].status());
      *reply = std::move(again[0].value());
    }
  }

  // Takes locks[i] with commands[i] (lock-and-read scripts), pipelined, into (*replies)[i]
  // (each {1, value}). When another writer holds any of them, the ones this call took go back
  // and all are then taken one at a time in key order, waiting for live holders (AwaitLock):
  // two writers asking for the same keys at once (two nodes reading ahead one group's users)
  // then queue in one order instead of each holding half and waiting for the other. A lock
  // counts as held from the moment it is asked for, unless its command was never sent: one
  // whose outcome is unknown is released with the rest (releasing one not ours changes
  // nothing).
  Status LockAll(Txn& txn, const std::vector<redis::Command>& commands,
                 const std::vector<std::string>& locks, std::vector<redis::Reply>* replies) {
    std::vector<bool> held_before(locks.size());
    for (size_t i = 0; i < locks.size(); ++i) {
      held_before[i] = txn.Holds(locks[i]);
      txn.Add(locks[i]);
    }
    std::vector<Result<redis::Reply>> results = LockBatch(commands);
    replies->assign(locks.size(), redis::Reply());
    Status failed = Status::Ok();
    bool busy = false;
    for (size_t i = 0; i < locks.size(); ++i) {
      if (!held_before[i]) txn.Forget(locks[i], results[i].status());
      if (!results[i].ok()) {
        failed = results[i].status();
        continue;
      }
      redis::Reply& r = results[i].value();
      if (r.is_error() || r.type != redis::ReplyType::kArray || r.elements.empty()) {
        failed = ReplyError(r, "lock");
        continue;
      }
      busy = busy || r.elements[0].integer != 1;
      (*replies)[i] = std::move(r);
    }
    if (!failed.ok() || !busy) return failed;
    std::map<uint16_t, std::set<std::string>> taken;
    for (size_t i = 0; i < locks.size(); ++i) {
      if (!held_before[i] && (*replies)[i].elements[0].integer == 1) {
        taken[redis::KeySlot(locks[i])].insert(locks[i]);
      }
    }
    WriteSet none;
    PROFILED_RETURN_IF_ERROR(Apply(txn.token, "", none, {}, taken));
    for (const auto& [slot, held] : taken) {
      for (const std::string& lock : held) txn.Remove(lock);
    }
    std::vector<size_t> order;
    for (size_t i = 0; i < locks.size(); ++i) {
      if (!held_before[i]) order.push_back(i);
    }
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return locks[a] < locks[b]; });
    for (size_t i : order) {
      txn.Add(locks[i]);
      std::vector<Result<redis::Reply>> one = LockBatch({&commands[i], 1});
      txn.Forget(locks[i], one[0].status());
      PROFILED_RETURN_IF_ERROR(one[0].status());
      PROFILED_RETURN_IF_ERROR(AwaitLock(txn, locks[i], commands[i], &one[0].value()));
      (*replies)[i] = std::move(one[0].value());
    }
    return Status::Ok();
  }

  // Runs lock-and-read commands, and with wait_replicas WAITs for the locks to reach the
  // replicas: a lock that a failover could lose would let two writers in. A command whose
  // WAIT fell short answers Unavailable.
  std::vector<Result<redis::Reply>> LockBatch(std::span<const redis::Command> commands) {
    if (options_.wait_replicas == 0) return client_->ExecuteBatch(commands);
    std::vector<Result<redis::Reply>> waits;
    std::vector<Result<redis::Reply>> replies = client_->ExecuteBatch(commands, WaitArgs(), &waits);
    for (size_t i = 0; i < replies.size(); ++i) {
      if (!replies[i].ok()) continue;
      // The lock may be taken (IoError), unlike a command that was never sent (Unavailable).
      if (!waits[i].ok()) {
        replies[i] = Status::IoError(waits[i].status().message());
      } else if (waits[i]->integer < options_.wait_replicas) {
        replies[i] =
            Status::IoError("a lock did not reach " + std::to_string(options_.wait_replicas) +
                            " replica(s) in time");
      }
    }
    return replies;
  }

  Status OwnerAlive(const std::string& owner, bool* alive) {
    std::string node = owner.substr(0, owner.find(':'));
    if (node == node_id_) {
      // One of this node's own transactions: another thread's, or a commit or release that
      // a primary did not answer, which the lease thread finishes once it can.

      *alive = true;
      return Status::Ok();
    }
    Result<redis::Reply> r = client_->Execute({{"EXISTS", LeaseKey(node)}, 1});
    PROFILED_RETURN_IF_ERROR(r.status());
    // Only a definite answer says dead: BUSY or LOADING must not.
    if (r->type != redis::ReplyType::kInteger) return ReplyError(*r, "lease check");
    *alive = r->integer == 1;
    return Status::Ok();
  }

  // The dead transaction `owner` holds loc's lock: applies its intent's writes under that lock,
  // if it got as far as an intent, and hands the lock to `token`.
  Status TakeOver(const std::string& owner, const std::string& lock, const std::string& token) {
    // Its intent, or "no intent" stored in its place, so that the dead node, should it wake up,
    // can no longer commit (Commit stores its intent with NX).
    Result<redis::Reply> intent = client_->Execute(
        {{"SET", IntentKey(owner), kNoIntent, "NX", "GET", "PX", std::to_string(kNoIntentTtlMs)},
         1});
    PROFILED_RETURN_IF_ERROR(intent.status());
    if (!intent->is_nil() && intent->type != redis::ReplyType::kString) {
      return ReplyError(*intent, "intent of a dead node");
    }
    WriteSet writes;
    if (intent->type == redis::ReplyType::kString && intent->str != kNoIntent &&
        !DecodeIntent(intent->str, &writes)) {
      return Status::Corruption("the intent of a dead node's commit does not decode");
    }
    // The whole commit, to every slot: each write is applied only while its key is still the
    // dead transaction's, so applying it again (at the next take-over of another of its locks)
    // changes nothing; then this lock is handed over.
    std::vector<Location> locs(writes.ops().size());
    for (size_t i = 0; i < locs.size(); ++i) {
      PROFILED_RETURN_IF_ERROR(Locate(writes.ops()[i].table, writes.ops()[i].key, &locs[i]));
    }
    if (!writes.empty()) PROFILED_RETURN_IF_ERROR(Apply(owner, owner, writes, locs, {}));
    std::map<uint16_t, std::set<std::string>> held{{redis::KeySlot(lock), {lock}}};
    WriteSet none;
    return Apply(owner, token, none, {}, held);
  }

  // Applies `writes` (located at `locs`) slot by slot under the locks of `token`, and hands
  // every lock of `locks` to `next_owner` ("" = releases them). Each slot's part is retried
  // when its outcome is unknown.
  Status Apply(const std::string& token, const std::string& next_owner, const WriteSet& writes,
               const std::vector<Location>& locs,
               const std::map<uint16_t, std::set<std::string>>& locks) {
    struct Part {
      std::vector<std::string> keys;
      std::unordered_map<std::string, size_t> index;  // key -> KEYS index (1-based)
      std::vector<std::string> ops;
      size_t count = 0;
      std::vector<std::string> releases;
      size_t Key(const std::string& k) {
        auto [it, added] = index.emplace(k, keys.size() + 1);
        if (added) keys.push_back(k);
        return it->second;
      }
    };
    std::map<uint16_t, Part> parts;
    std::set<std::string> days;  // "<day index key>\n<day>" added once per commit
    int64_t dedup_window_ms = int64_t{options_.dedup_window_days} * kDayMs;
    for (size_t i = 0; i < locs.size(); ++i) {
      const WriteSet::Op& op = writes.ops()[i];
      const Location& loc = locs[i];
      Part& part = parts[redis::KeySlot(loc.key)];
      std::string code;
      std::string field = loc.field;
      std::string value;
      std::string px;
      size_t aux = 0;
      switch (loc.kind) {
        case Kind::kString:
          code = op.is_delete ? "x" : "s";
          value = op.value;
          if (op.table == Table::kDedup && !op.is_delete) {
            int64_t first_seen = 0;
            if (!store::DecodeDedup(op.value, &first_seen).ok()) first_seen = 0;
            px = std::to_string(std::max<int64_t>(1, first_seen + dedup_window_ms));
          }
          break;
        case Kind::kHash:
          code = op.is_delete ? "H" : "h";
          value = op.value;
          aux = part.Key(loc.aux);
          break;
        case Kind::kOrdered:
          code = op.is_delete ? "M" : "m";
          value = op.value;
          aux = part.Key(loc.aux);
          break;
        case Kind::kEvent:
          if (op.is_delete) {
            // A privacy deletion's (retention deletes whole days with DeleteRange).
            code = "E";
            field = op.key;
            break;
          }
          code = "e";
          field = op.key + op.value;
          days.insert(loc.aux + '\n' + std::to_string(loc.day));
          break;
      }
      size_t k = part.Key(loc.key);
      size_t l = loc.lock.empty() ? 0 : part.Key(loc.lock);
      part.ops.insert(part.ops.end(), {code, std::to_string(k), std::to_string(aux),
                                       std::to_string(l), field, value, px});
      ++part.count;
    }
    for (const std::string& d : days) {
      size_t nl = d.find('\n');
      std::string key = d.substr(0, nl);
      Part& part = parts[redis::KeySlot(key)];
      size_t k = part.Key(key);
      part.ops.insert(part.ops.end(), {"D", std::to_string(k), "0", "0", "", d.substr(nl + 1), ""});
      ++part.count;
    }
    for (const auto& [slot, held] : locks) {
      for (const std::string& lock : held) {
        Part& part = parts[slot];
        part.releases.push_back(std::to_string(part.Key(lock)));
      }
    }
    std::vector<redis::Command> commands;
    for (auto& [slot, part] : parts) {
      std::vector<std::string> args{token, next_owner, std::to_string(part.count)};
      args.insert(args.end(), std::make_move_iterator(part.ops.begin()),
                  std::make_move_iterator(part.ops.end()));
      args.insert(args.end(), part.releases.begin(), part.releases.end());
      commands.push_back(Eval(kApplyScript, std::move(part.keys), std::move(args)));
    }
    Status last = Status::Ok();
    bool failed = false;
    for (int attempt = 0; attempt < kApplyAttempts && !commands.empty(); ++attempt) {
      std::vector<Result<redis::Reply>> replies;
      std::vector<Result<redis::Reply>> waits;
      if (options_.wait_replicas > 0) {
        replies = client_->ExecuteBatch(commands, WaitArgs(), &waits);
      } else {
        replies = client_->ExecuteBatch(commands);
      }
      std::vector<redis::Command> again;
      for (size_t i = 0; i < commands.size(); ++i) {
        Status s = replies[i].status();
        if (s.ok() && replies[i]->is_error()) s = ReplyError(*replies[i], "apply");
        bool short_of_replicas = false;
        if (s.ok() && options_.wait_replicas > 0) {
          s = waits[i].status();
          if (s.ok() && waits[i]->integer < options_.wait_replicas) {
            s = Status::Unavailable("a commit did not reach " +
                                    std::to_string(options_.wait_replicas) + " replica(s) in time");
            short_of_replicas = true;
          }
        }
        if (!s.ok()) {
          last = s;
          // Applied on the primary but not replicated in time: sending it again now would only
          // wait again; the caller keeps it for later (FinishUnfinished).
          if (short_of_replicas) {
            failed = true;
          } else {
            again.push_back(std::move(commands[i]));
          }
        }
      }
      commands = std::move(again);
    }
    return commands.empty() && !failed ? Status::Ok() : last;
  }

  // Applies the commits and releases a primary did not answer, oldest first; stops at the
  // first that still fails (the cluster is likely still down: the next tick tries again), so
  // neither the lease thread nor a stop waits on them all.
  void FinishUnfinished() {
    std::vector<Unfinished> pending;
    {
      std::lock_guard<std::mutex> lock(unfinished_mu_);
      pending.swap(unfinished_);
    }
    size_t done = 0;
    for (; done < pending.size() && !stop_requested_; ++done) {
      Unfinished& u = pending[done];
      std::vector<Location> locs(u.writes.ops().size());
      bool located = true;
      for (size_t i = 0; i < locs.size(); ++i) {
        located = located && Locate(u.writes.ops()[i].table, u.writes.ops()[i].key, &locs[i]).ok();
      }
      // As in Commit: every slot applied before any lock is released.
      WriteSet none;
      if (!located || !Apply(u.token, u.token, u.writes, locs, {}).ok() ||
          !Apply(u.token, "", none, {}, u.locks).ok()) {
        break;
      }
      if (!u.writes.empty()) (void)client_->Execute({{"DEL", IntentKey(u.token)}, 1});
    }
    std::lock_guard<std::mutex> lock(unfinished_mu_);
    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(done));
    unfinished_.insert(unfinished_.begin(), std::make_move_iterator(pending.begin()),
                       std::make_move_iterator(pending.end()));
  }

  Status GetEvent(const Location& loc, const std::string& key, std::string* value) {
    Result<redis::Reply> r = client_->Execute(
        {{"ZRANGEBYLEX", loc.key, "[" + key, "(" + store::PrefixEnd(key), "LIMIT", "0", "1"}, 1});
    PROFILED_RETURN_IF_ERROR(r.status());
    if (r->type != redis::ReplyType::kArray) return ReplyError(*r, "event read");
    if (r->elements.empty()) return Status::NotFound("no such event");
    *value = r->elements[0].str.substr(key.size());
    return Status::Ok();
  }

  static Status Fill(const redis::Reply& reply, const std::vector<size_t>& idx,
                     const std::vector<Location>& locs, std::vector<std::string>* values,
                     std::vector<Status>* statuses) {
    if (reply.is_error()) return ReplyError(reply, "read");
    auto one = [&](const redis::Reply& r, size_t i) {
      if (r.is_nil()) {
        (*statuses)[i] = Status::NotFound("no such key");
      } else {
        (*values)[i] = r.str;
      }
    };
    if (locs[idx[0]].kind == Kind::kString) {
      for (size_t i : idx) one(reply, i);
      return Status::Ok();
    }
    if (reply.type != redis::ReplyType::kArray || reply.elements.size() != idx.size()) {
      return ReplyError(reply, "read");
    }
    for (size_t j = 0; j < idx.size(); ++j) one(reply.elements[j], idx[j]);
    return Status::Ok();
  }

  // Pages through the sorted set `zkey` from `begin` (inclusive, a '[' or '(' bound) below
  // `end` (exclusive key), LIMIT scan_page at a time.
  Status RangePage(const std::string& zkey, const std::string& from, std::string_view end,
                   std::vector<std::string>* members) {
    Result<redis::Reply> r = client_->Execute({{"ZRANGEBYLEX", zkey, from, "(" + std::string(end),
                                                "LIMIT", "0", std::to_string(options_.scan_page)},
                                               1});
    PROFILED_RETURN_IF_ERROR(r.status());
    if (r->type != redis::ReplyType::kArray) return ReplyError(*r, "scan");
    members->clear();
    for (redis::Reply& e : r->elements) members->push_back(std::move(e.str));
    return Status::Ok();
  }

  Status ScanOrdered(std::string_view begin, std::string_view end,
                     const std::function<bool(std::string_view, std::string_view)>& fn) {
    Location loc;
    PROFILED_RETURN_IF_ERROR(Locate(Table::kMeta, begin, &loc));
    std::string from = "[" + std::string(begin);
    std::vector<std::string> members;
    for (;;) {
      PROFILED_RETURN_IF_ERROR(RangePage(loc.aux, from, end, &members));
      if (members.empty()) return Status::Ok();
      redis::Command c{{"HMGET", loc.key}, 1};
      c.args.insert(c.args.end(), members.begin(), members.end());
      Result<redis::Reply> r = client_->Execute(c);
      PROFILED_RETURN_IF_ERROR(r.status());
      if (r->type != redis::ReplyType::kArray || r->elements.size() != members.size()) {
        return ReplyError(*r, "scan");
      }
      for (size_t i = 0; i < members.size(); ++i) {
        if (r->elements[i].is_nil()) continue;  // deleted between the two reads
        if (!fn(members[i], r->elements[i].str)) return Status::Ok();
      }
      if (members.size() < static_cast<size_t>(options_.scan_page)) return Status::Ok();
      from = "(" + members.back();
    }
  }

  // --- Scans of users: a k-way merge of a project's user indexes, one per partition.

  // A partition's user index, read a page at a time.
  struct UserCursor {
    std::vector<uint64_t> page;  // amplitude_ids, ascending
    size_t at = 0;
  };

  redis::Command UserIndexPage(std::string_view project, uint32_t partition,
                               const std::string& from, const std::string& to) const {
    return {{"ZRANGEBYLEX", UserIndexKey(partition, project), from, to, "LIMIT", "0",
             std::to_string(options_.scan_page)},
            1};
  }

  static Status ReadUserPage(const Result<redis::Reply>& r, UserCursor* c) {
    PROFILED_RETURN_IF_ERROR(r.status());
    if (r->type != redis::ReplyType::kArray) return ReplyError(*r, "user scan");
    c->page.clear();
    c->at = 0;
    for (const redis::Reply& e : r->elements) {
      std::string_view member = e.str;
      uint64_t id = 0;
      if (member.size() != 8 || !GetFixed64BE(&member, &id)) {
        return Status::Corruption("a user index member is not an amplitude_id");
      }
      c->page.push_back(id);
    }
    return Status::Ok();
  }

  Status ScanUsers(std::string_view begin, std::string_view end,
                   const std::function<bool(std::string_view, std::string_view)>& fn) {
    std::string_view rest = begin;
    std::string_view project;
    if (!GetLengthPrefixed(&rest, &project)) {
      return Status::InvalidArgument("a scan of user records must start inside a project");
    }
    const std::string prefix(begin.substr(0, begin.size() - rest.size()));
    const std::string project_end = store::PrefixEnd(prefix);
    if (!project_end.empty() && end > project_end) {
      return Status::InvalidArgument("a scan of user records must lie within one project");
    }
    if (end <= begin) return Status::Ok();
    // An index member (8 bytes) compares with a bound's first 8 bytes after the prefix as its
    // records' keys (member || tag) compare with the bound, so these bounds take every user
    // with a record in [begin, end), and the records outside it are dropped below. An `end`
    // that does not start with the prefix is at or past the project's end (end > begin).
    std::string from = rest.empty() ? "-" : "[" + std::string(rest.substr(0, 8));
    std::string to = "+";
    if (end.substr(0, prefix.size()) == prefix) {
      to = "[" + std::string(end.substr(prefix.size(), 8));
    }
    // Every partition's first page in one batch: one round trip, not one per partition.
    const uint32_t partitions = options_.partitions;
    std::vector<UserCursor> cursors(partitions);
    using Head = std::pair<uint64_t, uint32_t>;  // amplitude_id, partition
    std::priority_queue<Head, std::vector<Head>, std::greater<>> heads;
    {
      std::vector<redis::Command> pages;
      pages.reserve(partitions);
      for (uint32_t k = 0; k < partitions; ++k) {
        pages.push_back(UserIndexPage(project, k, from, to));
      }
      std::vector<Result<redis::Reply>> replies = client_->ExecuteBatch(pages);
      for (uint32_t k = 0; k < partitions; ++k) {
        PROFILED_RETURN_IF_ERROR(ReadUserPage(replies[k], &cursors[k]));
        if (!cursors[k].page.empty()) heads.emplace(cursors[k].page[0], k);
      }
    }
    const auto page_size = static_cast<size_t>(options_.scan_page);
    std::vector<Head> batch;
    std::vector<redis::Command> reads;
    std::vector<std::pair<std::string_view, std::string_view>> records;
    std::string key;
    for (;;) {
      batch.clear();
      while (batch.size() < kUsersPerRead && !heads.empty()) {
        Head head = heads.top();
        heads.pop();
        batch.push_back(head);
        UserCursor& c = cursors[head.second];
        if (++c.at == c.page.size()) {
          if (c.page.size() < page_size) continue;  // the partition's last page
          std::string after = "(";
          PutFixed64BE(&after, c.page.back());
          PROFILED_RETURN_IF_ERROR(
              ReadUserPage(client_->Execute(UserIndexPage(project, head.second, after, to)), &c));
          if (c.page.empty()) continue;
        }
        heads.emplace(c.page[c.at], head.second);
      }
      if (batch.empty()) return Status::Ok();
      reads.clear();
      for (const auto& [id, partition] : batch) {
        reads.push_back({{"HGETALL", UserHashKey(partition, project, id)}, 1});
      }
      std::vector<Result<redis::Reply>> users = client_->ExecuteBatch(reads);
      for (size_t i = 0; i < batch.size(); ++i) {
        PROFILED_RETURN_IF_ERROR(users[i].status());
        const redis::Reply& r = *users[i];
        if (r.type != redis::ReplyType::kArray || r.elements.size() % 2 != 0) {
          return ReplyError(r, "user scan");
        }
        // No fields: the user was deleted after its index entry was read.
        records.clear();
        for (size_t j = 0; j < r.elements.size(); j += 2) {
          records.emplace_back(r.elements[j].str, r.elements[j + 1].str);
        }
        std::sort(records.begin(), records.end());  // by tag: key order
        key = prefix;
        PutFixed64BE(&key, batch[i].first);
        const size_t user_size = key.size();
        for (const auto& [tag, value] : records) {
          key.resize(user_size);
          key.append(tag);
          if (key < begin || key >= end) continue;
          if (!fn(key, value)) return Status::Ok();
        }
      }
    }
  }

  // The project prefix of an event range, its bounds in ms (end: INT64_MAX = none), and its
  // bounds as keys of the project's fixed length, for the sorted sets whose members are
  // key||value: a bound longer than a key (a key followed by more bytes, as in "the first key
  // after K") becomes the key after K, since a member K||value sorts after K||anything-shorter.
  struct EventBounds {
    std::string prefix;
    int64_t begin_ms = 0;
    int64_t end_ms = INT64_MAX;
    std::string lo;  // members from "[" + lo
    std::string hi;  // members below "(" + hi
  };
  static std::string KeyBound(std::string_view bound, const std::string& prefix) {
    size_t key_size = prefix.size() + 16;
    if (bound.size() <= key_size) return std::string(bound);
    std::string next(bound.substr(0, key_size));
    for (size_t i = key_size; i-- > prefix.size();) {
      if (static_cast<unsigned char>(next[i]) != 0xff) {
        next[i] = static_cast<char>(static_cast<unsigned char>(next[i]) + 1);
        return next;
      }
      next[i] = 0;
    }
    return store::PrefixEnd(prefix);  // the last key of the project: nothing after it
  }
  static Status EventRange(std::string_view begin, std::string_view end, EventBounds* b) {
    PROFILED_RETURN_IF_ERROR(EventRange(begin, end, &b->prefix, &b->begin_ms, &b->end_ms));
    b->lo = KeyBound(begin, b->prefix);
    b->hi = KeyBound(end, b->prefix);
    return Status::Ok();
  }
  static Status EventRange(std::string_view begin, std::string_view end, std::string* prefix,
                           int64_t* begin_ms, int64_t* end_ms) {
    bool ok = false;
    *prefix = TableKeyPrefix(begin, &ok);
    if (!ok) return Status::InvalidArgument("an event range must lie within one project");
    std::string_view rest = begin.substr(prefix->size());
    uint64_t ms = 0;
    *begin_ms = GetFixed64BE(&rest, &ms) ? static_cast<int64_t>(ms) : 0;
    *end_ms = INT64_MAX;
    if (end.substr(0, prefix->size()) == *prefix) {
      std::string_view e = end.substr(prefix->size());
      if (GetFixed64BE(&e, &ms)) *end_ms = static_cast<int64_t>(ms);
    }
    return Status::Ok();
  }

  Status Days(const std::string& prefix, int64_t begin_ms, int64_t end_ms,
              std::vector<int64_t>* days) {
    std::string hi = end_ms == INT64_MAX ? "+inf" : std::to_string(end_ms / kDayMs);
    Result<redis::Reply> r = client_->Execute(
        {{"ZRANGEBYSCORE", DayIndexKey(prefix), std::to_string(begin_ms / kDayMs), hi}, 1});
    PROFILED_RETURN_IF_ERROR(r.status());
    if (r->type != redis::ReplyType::kArray) return ReplyError(*r, "event days");
    days->clear();
    for (const redis::Reply& e : r->elements) {
      int64_t day = 0;
      if (std::from_chars(e.str.data(), e.str.data() + e.str.size(), day).ec != std::errc()) {
        return ReplyError(*r, "event days");
      }
      days->push_back(day);
    }
    return Status::Ok();
  }

  Status ScanEvents(std::string_view begin, std::string_view end,
                    const std::function<bool(std::string_view, std::string_view)>& fn) {
    EventBounds b;
    PROFILED_RETURN_IF_ERROR(EventRange(begin, end, &b));
    const std::string& prefix = b.prefix;
    size_t key_size = prefix.size() + 16;
    std::vector<int64_t> days;
    PROFILED_RETURN_IF_ERROR(Days(prefix, b.begin_ms, b.end_ms, &days));
    for (int64_t day : days) {
      // A k-way merge of the day's shards, each read a page at a time.
      struct Cursor {
        std::string key;
        std::vector<std::string> page;
        size_t at = 0;
      };
      std::vector<Cursor> cursors(kEventShards);
      auto fill = [&](Cursor& c, const std::string& from) {
        c.at = 0;
        return RangePage(c.key, from, b.hi, &c.page);
      };
      using Head = std::pair<std::string_view, size_t>;  // member, cursor
      std::priority_queue<Head, std::vector<Head>, std::greater<>> heads;
      for (uint32_t s = 0; s < kEventShards; ++s) {
        cursors[s].key = EventShardKey(prefix, day, s);
        PROFILED_RETURN_IF_ERROR(fill(cursors[s], "[" + b.lo));
        if (!cursors[s].page.empty()) heads.emplace(cursors[s].page[0], s);
      }
      while (!heads.empty()) {
        auto [member, s] = heads.top();
        heads.pop();
        Cursor& c = cursors[s];
        if (member.size() < key_size) return Status::Corruption("an event member is too short");
        if (!fn(member.substr(0, key_size), member.substr(key_size))) return Status::Ok();
        if (++c.at == c.page.size()) {
          if (c.page.size() < static_cast<size_t>(options_.scan_page)) continue;
          std::string from = "(" + c.page.back();
          PROFILED_RETURN_IF_ERROR(fill(c, from));
          if (c.page.empty()) continue;
        }
        heads.emplace(c.page[c.at], s);
      }
    }
    return Status::Ok();
  }

  Status DeleteEvents(std::string_view begin, std::string_view end) {
    EventBounds b;
    PROFILED_RETURN_IF_ERROR(EventRange(begin, end, &b));
    const std::string& prefix = b.prefix;
    const int64_t begin_ms = b.begin_ms;
    const int64_t end_ms = b.end_ms;
    std::vector<int64_t> days;
    PROFILED_RETURN_IF_ERROR(Days(prefix, begin_ms, end_ms, &days));
    std::vector<redis::Command> commands;
    std::vector<std::string> whole_days;
    for (int64_t day : days) {
      bool whole = day * kDayMs >= begin_ms && end_ms != INT64_MAX && (day + 1) * kDayMs <= end_ms;
      for (uint32_t s = 0; s < kEventShards; ++s) {
        std::string key = EventShardKey(prefix, day, s);
        if (whole) {
          commands.push_back({{"DEL", key}, 1});
        } else {
          commands.push_back({{"ZREMRANGEBYLEX", key, "[" + b.lo, "(" + b.hi}, 1});
        }
      }
      if (whole) whole_days.push_back(std::to_string(day));
    }
    if (!whole_days.empty()) {
      redis::Command c{{"ZREM", DayIndexKey(prefix)}, 1};
      c.args.insert(c.args.end(), whole_days.begin(), whole_days.end());
      commands.push_back(std::move(c));
    }
    for (Result<redis::Reply>& r : client_->ExecuteBatch(commands)) {
      PROFILED_RETURN_IF_ERROR(r.status());
      if (r->is_error()) return ReplyError(*r, "event delete");
    }
    return Status::Ok();
  }

  // --- The lease

  Status RenewLease() {
    Result<redis::Reply> r = client_->Execute(
        {{"SET", LeaseKey(node_id_), "1", "PX", std::to_string(options_.lease_ms)}, 1});
    Status s = r.status();
    if (s.ok() && r->is_error()) s = ReplyError(*r, "lease");
    std::lock_guard<std::mutex> lock(lease_mu_);
    if (s.ok()) {
      lease_renewed_ = std::chrono::steady_clock::now();
      lease_error_.clear();
    } else {
      lease_error_ = s.ToString();
    }
    return s;
  }

  void LeaseLoop() {
    std::unique_lock<std::mutex> lock(lease_mu_);
    while (!stopping_) {
      lease_cv_.wait_for(lock, std::chrono::milliseconds(options_.lease_ms / 5));
      if (stopping_) break;
      lock.unlock();
      (void)RenewLease();
      FinishUnfinished();  // commits and releases a primary did not answer, retried here
      lock.lock();
    }
  }

  bool LeaseFresh() {
    std::lock_guard<std::mutex> lock(lease_mu_);
    return std::chrono::steady_clock::now() - lease_renewed_ <
           std::chrono::milliseconds(options_.lease_ms / 2);
  }

  std::string LastLeaseError() {
    std::lock_guard<std::mutex> lock(lease_mu_);
    return lease_error_.empty() ? "no error recorded" : lease_error_;
  }

  const RedisStoreOptions options_;
  std::unique_ptr<redis::ClusterClient> client_;
  const std::string node_id_;
  std::atomic<uint64_t> next_txn_{1};

  std::mutex lease_mu_;
  std::condition_variable lease_cv_;
  bool stopping_ = false;                                // GUARDED_BY lease_mu_
  std::chrono::steady_clock::time_point lease_renewed_;  // GUARDED_BY lease_mu_
  std::string lease_error_;                              // GUARDED_BY lease_mu_
  std::thread lease_thread_;

  std::atomic<bool> stop_requested_{false};
  std::mutex unfinished_mu_;
  std::vector<Unfinished> unfinished_;  // GUARDED_BY unfinished_mu_
};

namespace {

// The writer's view: reads lock, one transaction at a time.
class WriterStore : public store::Store {
 public:
  explicit WriterStore(std::shared_ptr<RedisStore::Impl> impl) : impl_(std::move(impl)) {
    txn_.token = impl_->NewToken();
  }
  // Locks still held (a writer destroyed mid-transaction) stay until the node's lease ends,
  // when the next writer that needs them takes them over.
  ~WriterStore() override = default;
  WriterStore(const WriterStore&) = delete;
  WriterStore& operator=(const WriterStore&) = delete;

  Status Get(Table table, std::string_view key, std::string* value) override {
    std::vector<std::string> keys{std::string(key)};
    std::vector<std::string> values;
    std::vector<Status> statuses;
    PROFILED_RETURN_IF_ERROR(impl_->MultiGet(table, keys, &values, &statuses, &txn_));
    *value = std::move(values[0]);
    return statuses[0];
  }
  Status MultiGet(Table table, const std::vector<std::string>& keys,
                  std::vector<std::string>* values, std::vector<Status>* statuses) override {
    return impl_->MultiGet(table, keys, values, statuses, &txn_);
  }
  Status Commit(const WriteSet& writes, bool /*sync*/) override {
    Status s = impl_->Commit(txn_, writes);
    txn_.token = impl_->NewToken();
    return s;
  }
  Status Scan(Table table, std::string_view begin, std::string_view end,
              const std::function<bool(std::string_view, std::string_view)>& fn) override {
    return impl_->Scan(table, begin, end, fn);
  }
  Status DeleteRange(Table table, std::string_view begin, std::string_view end) override {
    return impl_->DeleteRange(table, begin, end);
  }
  uint64_t ApproximateSizeBytes() override { return 0; }
  Status Health() override { return impl_->Health(); }
  bool Shared() const override { return true; }
  Status ReserveIds(std::string_view key, uint64_t count, uint64_t* first) override {
    return impl_->ReserveIds(key, count, first);
  }
  void EndTransaction() override {
    impl_->Release(txn_);
    txn_.token = impl_->NewToken();
  }

 private:
  std::shared_ptr<RedisStore::Impl> impl_;
  Txn txn_;
};

// Reads on one event loop (store::AsyncReads): a read that is one command (a user's records,
// one HMGET; an identity, one GET) is sent on this loop's own connection to the slot's primary,
// pipelined with the loop's other reads, and answered when its reply arrives, so the loop's
// thread never waits. Anything else (several Redis keys, events) is left to the blocking
// MultiGet, and so is every read this way fails (a redirect during a failover or migration, a
// dead connection): the blocking path follows redirects and reloads the slot map. After a
// connection to a node fails, reads of its slots skip this way for kSuspect (1 s), so a node that
// stopped answering costs one timeout on the loop, not one per read.
class LoopReads : public store::AsyncReads {
 public:
  static constexpr auto kSuspect = std::chrono::milliseconds(1000);

  LoopReads(std::shared_ptr<RedisStore::Impl> impl, boost::asio::io_context& loop)
      : impl_(std::move(impl)), loop_(loop) {
    const redis::ClusterOptions& client = impl_->client_options();
    options_.command_timeout_ms = client.command_timeout_ms;
    options_.password = client.password;
  }
  ~LoopReads() override {
    for (auto& [address, node] : nodes_) node.connection->Close();
  }
  LoopReads(const LoopReads&) = delete;
  LoopReads& operator=(const LoopReads&) = delete;

  bool MultiGet(Table table, const std::vector<std::string>& keys, Done done) override {
    std::vector<Location> locs;
    std::vector<std::string> args;
    std::string primary;
    if (!impl_->OneCommandRead(table, keys, &locs, &args, &primary)) return false;
    Node& node = nodes_[primary];
    if (node.connection == nullptr) {
      node.connection = redis::AsyncConnection::Create(loop_, primary, options_);
    }
    if (std::chrono::steady_clock::now() < node.suspect_until) return false;
    node.connection->Send(args, [this, primary, locs = std::move(locs),
                                 done = std::move(done)](Result<redis::Reply> reply) {
      std::vector<std::string> values;
      std::vector<Status> statuses;
      Status s = reply.status();
      if (!s.ok()) {
        // The connection failed (the callbacks of a LoopReads destroyed are never called).
        nodes_[primary].suspect_until = std::chrono::steady_clock::now() + kSuspect;
      } else if (reply->is_error()) {
        // A redirect or any other error reply: the blocking path knows what to do with it.
        s = ReplyError(*reply, "read");
      } else {
        s = RedisStore::Impl::FillAll(*reply, locs, &values, &statuses);
      }
      done(s, values, statuses);
    });
    return true;
  }

 private:
  struct Node {
    std::shared_ptr<redis::AsyncConnection> connection;
    std::chrono::steady_clock::time_point suspect_until;
  };
  std::shared_ptr<RedisStore::Impl> impl_;
  boost::asio::io_context& loop_;
  redis::ConnectionOptions options_;
  // By address: every node that was a primary when a read was sent. The connection to a node
  // that is a primary no more stays open (unused) until the node closes it.
  std::unordered_map<std::string, Node> nodes_;
};

// A read the cluster could not answer is the store's failure (IoError), like a disk's: its
// details (node addresses) go to the log, not to the Profile API's answer.
Status AsReadError(Status s) {
  if (s.code() != ErrorCode::kUnavailable) return s;
  return Status::IoError(s.message());
}

std::string RandomNodeId() {
  std::random_device rd;
  uint64_t v = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) out[static_cast<size_t>(i)] = kHex[v & 15];
  return out;
}

}  // namespace

namespace {

// What the store's rules need of every node (docs/SCALING.md, "Running it"), checked at start on
// every node CLUSTER NODES lists (replicas included, synced or not): maxmemory-policy noeviction,
// or the start is refused (an evicted lock, intent, lease or record would lose acknowledged
// writes); cluster-node-timeout below lease_ms / 2, or a warning (a failover of the lease's
// shard outlasting the leases makes live nodes look dead: their commits wait, none is lost).
// A node that is failed, still joining, unreachable, or refuses CONFIG GET (a managed service
// may rename it) is named in a warning as unchecked.
Status CheckNodes(redis::ClusterClient& client, int lease_ms) {
  std::string listing;
  for (const std::string& node : client.Nodes()) {
    Result<redis::Reply> r = client.RunOnNode(node, {"CLUSTER", "NODES"});
    if (r.ok() && r->type == redis::ReplyType::kString) {
      listing = r->str;
      break;
    }
  }
  if (listing.empty()) {
    LogWarn(
        "redis: no node answered CLUSTER NODES; the nodes' maxmemory-policy (must be "
        "noeviction) and cluster-node-timeout are not checked");
    return Status::Ok();
  }
  const std::string timeout_bound = std::to_string(lease_ms / 2) + " ms";
  std::istringstream lines(listing);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string id, address, flags;
    if (!(fields >> id >> address >> flags)) continue;
    address = address.substr(0, address.find('@'));  // "ip:port@cport[,hostname]"
    const std::string where = "redis " + address;
    auto unchecked = [&](std::string_view why) {
      std::string warning = where;
      warning.append(" ").append(why).append(": its maxmemory-policy (must be noeviction) and ");
      warning.append("cluster-node-timeout (below ").append(timeout_bound);
      warning.append(") are not checked");
      LogWarn(warning);
    };
    if (flags.find("fail") != std::string::npos || flags.find("handshake") != std::string::npos ||
        flags.find("noaddr") != std::string::npos) {
      unchecked("is flagged " + flags);
      continue;
    }
    // The node's setting `name` into *value; false when it will not say.
    auto config = [&](const std::string& name, std::string* value, Status* transport) {
      Result<redis::Reply> r = client.RunOnNode(address, {"CONFIG", "GET", name});
      *transport = r.status();
      if (r.ok() && r->type == redis::ReplyType::kArray && r->elements.size() == 2) {
        *value = r->elements[1].str;
        return true;
      }
      unchecked("answered CONFIG GET " + name + " with " +
                (r.ok() ? r->ToString() : r.status().message()));
      return false;
    };
    std::string value;
    Status transport;
    if (config("maxmemory-policy", &value, &transport) && value != "noeviction") {
      std::string message = where;
      message.append(" runs with maxmemory-policy ").append(value);
      message.append("; profiled needs noeviction (an evicted key would lose acknowledged writes)");
      return Status::InvalidArgument(message);
    }
    if (!transport.ok()) continue;  // unreachable: said once
    int64_t timeout_ms = 0;
    if (config("cluster-node-timeout", &value, &transport)) {
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), timeout_ms);
      if (ec != std::errc() || timeout_ms >= lease_ms / 2) {
        std::string warning = where;
        warning.append(" runs with cluster-node-timeout ").append(value).append(" ms; below ");
        warning.append(timeout_bound).append(", a failover ends before node leases lapse");
        LogWarn(warning);
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<RedisStore>> RedisStore::Open(RedisStoreOptions options) {
  if (options.partitions == 0 || options.scan_page < 1 || options.wait_replicas < 0 ||
      options.lease_ms < 100 || options.lock_wait_ms < 0 || options.dedup_window_days < 1) {
    return Status::InvalidArgument("Redis store options out of range");
  }
  if (options.wait_replicas > 0 && options.wait_timeout_ms >= options.client.command_timeout_ms) {
    options.wait_timeout_ms = options.client.command_timeout_ms / 2;
  }
  Result<std::unique_ptr<redis::ClusterClient>> client = redis::ClusterClient::Open(options.client);
  if (!client.ok()) return client.status();
  PROFILED_RETURN_IF_ERROR(CheckNodes(**client, options.lease_ms));
  auto impl = std::make_shared<Impl>(std::move(options), std::move(client.value()), RandomNodeId());
  PROFILED_RETURN_IF_ERROR(impl->StartLease());
  return std::unique_ptr<RedisStore>(new RedisStore(std::move(impl)));
}

RedisStore::RedisStore(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
RedisStore::~RedisStore() { impl_->StopLease(); }

std::unique_ptr<store::Store> RedisStore::Writer() { return std::make_unique<WriterStore>(impl_); }

std::unique_ptr<store::AsyncReads> RedisStore::NewAsyncReads(boost::asio::io_context& loop) {
  return std::make_unique<LoopReads>(impl_, loop);
}

Status RedisStore::Get(Table table, std::string_view key, std::string* value) {
  return AsReadError(impl_->Get(table, key, value));
}
Status RedisStore::MultiGet(Table table, const std::vector<std::string>& keys,
                            std::vector<std::string>* values, std::vector<Status>* statuses) {
  return AsReadError(impl_->MultiGet(table, keys, values, statuses, nullptr));
}
Status RedisStore::Commit(const WriteSet& writes, bool /*sync*/) {
  Txn txn{impl_->NewToken(), {}};
  return impl_->Commit(txn, writes);
}
Status RedisStore::Scan(Table table, std::string_view begin, std::string_view end,
                        const std::function<bool(std::string_view, std::string_view)>& fn) {
  return impl_->Scan(table, begin, end, fn);
}
Status RedisStore::DeleteRange(Table table, std::string_view begin, std::string_view end) {
  return impl_->DeleteRange(table, begin, end);
}
Status RedisStore::Health() { return impl_->Health(); }
Status RedisStore::ReserveIds(std::string_view key, uint64_t count, uint64_t* first) {
  return impl_->ReserveIds(key, count, first);
}
const std::string& RedisStore::node_id() const { return impl_->node_id(); }
void RedisStore::StopLeaseForTesting() { impl_->StopLease(); }

}  // namespace profiled::cluster
