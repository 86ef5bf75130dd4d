#include "cluster/user_store.h"

#include <charconv>
#include <utility>

#include "redis/reply.h"

namespace profiled::cluster {

namespace {

// The commit of one user, atomic because a script runs alone on its node and every key it
// touches is in the user's partition slot.
//   KEYS: [1] the user hash, [2] the partition's event stream, [3..] the de-dup keys.
//   ARGV: [1] the expected version, [2] the de-dup window in ms, [3] "1" to delete the user,
//         [4] how many records to delete (d), [5] how many to set (s), then d tags, then s
//         (tag, bytes) pairs, then (ingest ms, bytes) of each event.
//   Returns {1, new version} committed, {2, stored version} conflict, {3, index of the
//   insert_id seen before} duplicate.
// A duplicate rewrites the de-dup key it found (same value, KEEPTTL): no change, but a write,
// so it is replicated and sets this connection's replication offset past it. WAIT counts the
// replicas that reached the offset the connection last recorded, and the Redis documentation
// speaks of the connection's own writes; a read-only script would then leave a retry (whose
// first attempt applied but did not reach a replica) waiting for nothing. Redis 7.0.15 records
// the offset after any command, so there it is covered either way; the write makes it hold on
// every version. The earlier commit precedes it in the primary's replication stream, so a
// replica that has this write has that commit.
// Every check that can refuse the commit comes before the first write, because Redis does not
// undo a script's writes when the script stops halfway (an error reply, or a failing
// redis.call, ends it with the writes before it kept): the arguments (the counts, the window
// in the range SET PX takes, the ingest times), the stream key's type, the version, the
// insert_ids. After the first write nothing the script calls can fail on these keys: HDEL,
// HSET, HINCRBY on a hash (the version field is always a decimal), SET, and XADD under pcall
// with a fallback. The window bound is kMaxDedupWindowMs (user_store.h). The version comes first: a
// stale view means the caller re-reads and recomputes, and its next attempt checks the
// insert_ids against the state it then commits on; checking them first would cost that caller
// a second refusal. Versions are compared as the decimal strings HINCRBY writes and
// std::to_string reads back, so no precision is lost in Lua's doubles. A deleted user keeps its
// version field: a version is never reused, so a view from before the delete never matches.
// "#!lua" makes Redis 7 refuse the script before it starts when the node is out of memory,
// rather than fail one of its writes.
// An event's stream id is "<ingest ms>-*" so ids follow ingest time. When that is below the
// stream's last id (this node's clock is behind another's, or went back), XADD refuses it; the
// event then takes the last id's ms instead, because refusing a commit whose records are
// already written would break its atomicity.
constexpr char kCommitScript[] = R"lua(#!lua
local user, stream = KEYS[1], KEYS[2]
local window, deletes, sets = tonumber(ARGV[2]), tonumber(ARGV[4]), tonumber(ARGV[5])
if not deletes or not sets or (#ARGV - 5 - deletes - 2 * sets) % 2 ~= 0 or
    #ARGV < 5 + deletes + 2 * sets then
  return redis.error_reply('ERR profiled commit: malformed arguments')
end
if #KEYS > 2 and not (window and window >= 1 and window <= 31622400000 and window % 1 == 0) then
  return redis.error_reply('ERR profiled commit: de-dup window out of range')
end
for e = 6 + deletes + 2 * sets, #ARGV, 2 do
  if not string.match(ARGV[e], '^%d+$') then
    return redis.error_reply('ERR profiled commit: ingest time is not a number')
  end
end
if #ARGV > 5 + deletes + 2 * sets then
  local kind = redis.call('TYPE', stream)['ok']
  if kind ~= 'none' and kind ~= 'stream' then
    return redis.error_reply('ERR profiled commit: the event stream key holds a ' .. kind)
  end
end
local stored = redis.call('HGET', user, 'version') or '0'
if stored ~= ARGV[1] then return {2, stored} end
for i = 3, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('SET', KEYS[i], '1', 'KEEPTTL')
    return {3, i - 3}
  end
end
if ARGV[3] == '1' then
  redis.call('DEL', user)
  if stored ~= '0' then redis.call('HSET', user, 'version', stored) end
end
local a = 6
for _ = 1, deletes do
  redis.call('HDEL', user, ARGV[a])
  a = a + 1
end
for _ = 1, sets do
  redis.call('HSET', user, ARGV[a], ARGV[a + 1])
  a = a + 2
end
local version = redis.call('HINCRBY', user, 'version', 1)
for i = 3, #KEYS do
  redis.call('SET', KEYS[i], '1', 'PX', window)
end
for e = a, #ARGV, 2 do
  local added = redis.pcall('XADD', stream, ARGV[e] .. '-*', 'e', ARGV[e + 1])
  if type(added) == 'table' and added.err then
    local info = redis.call('XINFO', 'STREAM', stream)
    local last = '0-0'
    for i = 1, #info, 2 do
      if info[i] == 'last-generated-id' then last = info[i + 1] end
    end
    redis.call('XADD', stream, string.match(last, '^%d+') .. '-*', 'e', ARGV[e + 1])
  end
end
return {1, version}
)lua";

constexpr char kEventField[] = "e";

bool ParseUint64(std::string_view text, uint64_t* value) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *value);
  return ec == std::errc() && ptr == end && !text.empty();
}

// "<ms>-<seq>", as Redis writes stream ids.
bool ParseStreamId(std::string_view id, StoredEvent* event) {
  size_t dash = id.find('-');
  uint64_t ms = 0;
  if (dash == std::string_view::npos || !ParseUint64(id.substr(0, dash), &ms) ||
      !ParseUint64(id.substr(dash + 1), &event->seq)) {
    return false;
  }
  event->ms = static_cast<int64_t>(ms);
  return true;
}

static_assert(kMaxDedupWindowMs == 31622400000, "the bound is written in kCommitScript too");

Status Validate(const UserCommit& commit) {
  if (!commit.insert_ids.empty() &&
      (commit.dedup_window_ms <= 0 || commit.dedup_window_ms > kMaxDedupWindowMs)) {
    return Status::InvalidArgument("cluster: insert_ids need a de-dup window in (0, 366 days]");
  }
  for (const StreamEvent& event : commit.events) {
    if (event.ingest_ms < 0) return Status::InvalidArgument("cluster: negative ingest time");
  }
  return Status::Ok();
}

// "EVALSHA|EVAL script numkeys KEYS... ARGV..." for `commit`, routed by its user hash.
redis::Command ScriptCommand(const char* verb, std::string_view script, const UserCommit& commit,
                             uint32_t partitions) {
  const uint32_t partition = Partition(commit.project, commit.amplitude_id, partitions);
  std::vector<std::string> args;
  args.reserve(5 + commit.insert_ids.size() + 5 + commit.delete_records.size() +
               2 * commit.set_records.size() + 2 * commit.events.size());
  args.emplace_back(verb);
  args.emplace_back(script);
  args.push_back(std::to_string(2 + commit.insert_ids.size()));
  args.push_back(UserHashKey(partition, commit.project, commit.amplitude_id));
  args.push_back(EventStreamKey(partition, commit.project));
  for (const ScopedInsertId& id : commit.insert_ids) {
    args.push_back(DedupKey(partition, commit.project, id.scope, id.insert_id));
  }
  args.push_back(std::to_string(commit.expected_version));
  args.push_back(std::to_string(commit.dedup_window_ms));
  args.emplace_back(commit.delete_user ? "1" : "0");
  args.push_back(std::to_string(commit.delete_records.size()));
  args.push_back(std::to_string(commit.set_records.size()));
  for (char tag : commit.delete_records) args.emplace_back(1, tag);
  for (const auto& [tag, bytes] : commit.set_records) {
    args.emplace_back(1, tag);
    args.push_back(bytes);
  }
  for (const StreamEvent& event : commit.events) {
    args.push_back(std::to_string(event.ingest_ms));
    args.push_back(event.bytes);
  }
  return redis::Command{std::move(args), 3};
}

// `expected_version`: the commit's, which a duplicate reports.
Result<CommitOutcome> ParseOutcome(const redis::Reply& reply, uint64_t expected_version) {
  const auto unexpected = [&reply] {
    return Status::Internal("cluster: unexpected commit reply " + reply.ToString());
  };
  if (reply.type != redis::ReplyType::kArray || reply.elements.size() != 2 ||
      reply.elements[0].type != redis::ReplyType::kInteger) {
    return unexpected();
  }
  const redis::Reply& value = reply.elements[1];
  CommitOutcome outcome;
  switch (reply.elements[0].integer) {
    case 1:
      if (value.type != redis::ReplyType::kInteger) return unexpected();
      outcome.status = CommitStatus::kCommitted;
      outcome.version = static_cast<uint64_t>(value.integer);
      return outcome;
    case 2:
      if (value.type != redis::ReplyType::kString || !ParseUint64(value.str, &outcome.version)) {
        return unexpected();
      }
      outcome.status = CommitStatus::kConflict;
      return outcome;
    case 3:
      if (value.type != redis::ReplyType::kInteger || value.integer < 0) return unexpected();
      outcome.status = CommitStatus::kDuplicate;
      outcome.version = expected_version;
      outcome.duplicate = static_cast<size_t>(value.integer);
      return outcome;
    default: return unexpected();
  }
}

}  // namespace

Result<std::unique_ptr<UserStore>> UserStore::Open(redis::ClusterClient& client,
                                                   UserStoreOptions options) {
  if (options.partitions == 0) return Status::InvalidArgument("cluster: 0 partitions");
  const std::string node = client.PrimaryOf(0);
  if (node.empty()) return Status::Unavailable("cluster: slot 0 has no primary");
  Result<redis::Reply> sha = client.RunOnNode(node, {"SCRIPT", "LOAD", kCommitScript});
  if (!sha.ok()) return sha.status();
  if (sha->type != redis::ReplyType::kString) {
    return Status::Internal("cluster: SCRIPT LOAD answered " + sha->ToString());
  }
  return std::unique_ptr<UserStore>(new UserStore(client, options, std::move(sha->str)));
}

std::vector<Result<StoredUser>> UserStore::Read(std::string_view project,
                                                const std::vector<uint64_t>& amplitude_ids) const {
  std::vector<redis::Command> commands;
  commands.reserve(amplitude_ids.size());
  for (uint64_t id : amplitude_ids) {
    const uint32_t partition = Partition(project, id, options_.partitions);
    commands.push_back({{"HGETALL", UserHashKey(partition, project, id)}, 1});
  }
  std::vector<Result<redis::Reply>> replies = client_.ExecuteBatch(commands);
  std::vector<Result<StoredUser>> users;
  users.reserve(replies.size());
  for (Result<redis::Reply>& reply : replies) {
    if (!reply.ok()) {
      users.emplace_back(reply.status());
      continue;
    }
    if (reply->type != redis::ReplyType::kArray || reply->elements.size() % 2 != 0) {
      users.emplace_back(Status::Internal("cluster: HGETALL answered " + reply->ToString()));
      continue;
    }
    StoredUser user;
    Status status = Status::Ok();
    for (size_t i = 0; i < reply->elements.size() && status.ok(); i += 2) {
      std::string& field = reply->elements[i].str;
      std::string& value = reply->elements[i + 1].str;
      if (field == kVersionField) {
        if (!ParseUint64(value, &user.version)) {
          status = Status::Corruption("cluster: a user's version is not a number");
        }
      } else if (field.size() == 1) {
        user.records[field[0]] = std::move(value);
      } else {
        status = Status::Corruption("cluster: a user's hash has a field that is no record tag");
      }
    }
    if (status.ok()) {
      users.emplace_back(std::move(user));
    } else {
      users.emplace_back(std::move(status));
    }
  }
  return users;
}

std::vector<Result<CommitOutcome>> UserStore::Commit(const std::vector<UserCommit>& commits,
                                                     int wait_replicas, int wait_timeout_ms) const {
  std::vector<Result<CommitOutcome>> outcomes(
      commits.size(), Result<CommitOutcome>(Status::Internal("cluster: not committed")));
  if (wait_replicas > 0 && wait_timeout_ms <= 0) {
    // WAIT n 0 would block until the client's command timeout and leave the outcome unknown.
    outcomes.assign(commits.size(), Status::InvalidArgument("cluster: WAIT needs a timeout > 0"));
    return outcomes;
  }
  std::vector<std::string> wait;
  if (wait_replicas > 0) {
    wait = {"WAIT", std::to_string(wait_replicas), std::to_string(wait_timeout_ms)};
  }

  // Runs `indices` of `commits` with `verb` (EVALSHA or EVAL) and fills in their outcomes;
  // returns those a node answered NOSCRIPT (it has not cached the script, e.g. it was a
  // replica until a failover, or restarted).
  const auto run = [&](const char* verb, std::string_view script,
                       const std::vector<size_t>& indices) {
    std::vector<redis::Command> commands;
    commands.reserve(indices.size());
    for (size_t i : indices) {
      commands.push_back(ScriptCommand(verb, script, commits[i], options_.partitions));
    }
    std::vector<Result<redis::Reply>> waited;
    std::vector<Result<redis::Reply>> replies =
        client_.ExecuteBatch(commands, wait, wait.empty() ? nullptr : &waited);
    std::vector<size_t> not_cached;
    for (size_t k = 0; k < indices.size(); ++k) {
      Result<CommitOutcome>& outcome = outcomes[indices[k]];
      const Result<redis::Reply>& reply = replies[k];
      if (!reply.ok()) {
        outcome = reply.status();
        continue;
      }
      if (reply->is_error()) {
        if (reply->error_code() == "NOSCRIPT") {
          not_cached.push_back(indices[k]);
        } else {
          outcome = Status::Internal("cluster: commit script failed: " + reply->str);
        }
        continue;
      }
      outcome = ParseOutcome(*reply, commits[indices[k]].expected_version);
      if (!outcome.ok() || wait.empty()) continue;
      // A conflict wrote nothing, so WAIT says nothing about it (see kConflict).
      const Result<redis::Reply>& acks = waited[k];
      const bool replicated =
          acks.ok() && acks->type == redis::ReplyType::kInteger && acks->integer >= wait_replicas;
      if (replicated) continue;
      if (outcome->status == CommitStatus::kCommitted) {
        outcome->status = CommitStatus::kNotReplicated;
      } else if (outcome->status == CommitStatus::kDuplicate) {
        outcome->status = CommitStatus::kDuplicateNotReplicated;
      }
    }
    return not_cached;
  };

  std::vector<size_t> valid;
  valid.reserve(commits.size());
  for (size_t i = 0; i < commits.size(); ++i) {
    Status status = Validate(commits[i]);
    if (status.ok()) {
      valid.push_back(i);
    } else {
      outcomes[i] = std::move(status);
    }
  }
  std::vector<size_t> not_cached = run("EVALSHA", sha_, valid);
  // EVAL caches the script on the node as it runs it. A commit answered NOSCRIPT did not run,
  // so running it now is safe.
  if (!not_cached.empty()) (void)run("EVAL", kCommitScript, not_cached);
  return outcomes;
}

Result<std::vector<StoredEvent>> UserStore::ReadEvents(std::string_view project, uint32_t partition,
                                                       EventPosition after, size_t limit) const {
  std::vector<StoredEvent> events;
  if (limit == 0) return events;
  // "(" makes the start exclusive (Redis 6.2+), so a reader pages by id, not by ms: one ms may
  // hold more than `limit` events.
  std::string start = after.ms < 0
                          ? std::string("-")
                          : "(" + std::to_string(after.ms) + "-" + std::to_string(after.seq);
  Result<redis::Reply> reply =
      client_.Execute({{"XRANGE", EventStreamKey(partition, project), std::move(start), "+",
                        "COUNT", std::to_string(limit)},
                       1});
  if (!reply.ok()) return reply.status();
  const auto unexpected = [&reply] {
    return Status::Internal("cluster: XRANGE answered " + reply->ToString());
  };
  if (reply->type != redis::ReplyType::kArray) return unexpected();
  events.reserve(reply->elements.size());
  for (redis::Reply& entry : reply->elements) {
    // [id, [field, value, ...]]: one field, kEventField.
    if (entry.elements.size() != 2 || entry.elements[1].elements.size() != 2 ||
        entry.elements[1].elements[0].str != kEventField) {
      return unexpected();
    }
    StoredEvent event;
    if (!ParseStreamId(entry.elements[0].str, &event)) return unexpected();
    event.bytes = std::move(entry.elements[1].elements[1].str);
    events.push_back(std::move(event));
  }
  return events;
}

Result<int64_t> UserStore::TrimEvents(std::string_view project, uint32_t partition,
                                      int64_t before_ms) const {
  Result<redis::Reply> reply =
      client_.Execute({{"XTRIM", EventStreamKey(partition, project), "MINID",
                        std::to_string(before_ms < 0 ? 0 : before_ms)},
                       1});
  if (!reply.ok()) return reply.status();
  if (reply->type != redis::ReplyType::kInteger) {
    return Status::Internal("cluster: XTRIM answered " + reply->ToString());
  }
  return reply->integer;
}

}  // namespace profiled::cluster
