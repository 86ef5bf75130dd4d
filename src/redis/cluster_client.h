// ClusterClient: a synchronous Redis Cluster client. It routes each command to the primary that
// serves its key's hash slot, follows the cluster's redirects, and reuses connections.
//
// - Routing: a SlotMap loaded with CLUSTER SLOTS from any reachable node (the nodes the current
//   map names, then the seeds). It is reloaded after a MOVED reply, a connection failure
//   and a CLUSTERDOWN reply, so a failover or a resharding needs no restart.
// - Redirects: MOVED retries at the node named (and reloads the map); ASK retries at the node
//   named, preceded by ASKING, without changing the map (the slot is being migrated);
//   TRYAGAIN and CLUSTERDOWN retry after a pause that doubles each time. A command is tried at
//   most ClusterOptions::max_attempts times; then its result is Unavailable.
// - Outcomes: a command whose connection fails before it was sent is retried; one whose
//   connection fails after it was sent (a dead node, a timeout) gets IoError, because it may or
//   may not have run, and only the caller knows whether running it twice is safe.
// - Connections: a pool per node, at most max_idle_connections_per_node kept idle; each call
//   takes a connection for itself, so calls on different threads never share one. A connection
//   that failed is dropped, with the node's other idle ones.
// - Errors are values: transport and cluster failures are a non-OK Status (Unavailable when
//   the cluster or a slot's primary cannot be reached in time or gave up, IoError when a sent
//   command's outcome is unknown, Unauthenticated when AUTH is refused); a command's own error
//   reply (WRONGTYPE, a script error) is a Reply of type kError. Nothing throws.
//
// The client knows nothing of what the keys mean. Thread-safety: every method may be called
// from any thread concurrently. Opening a client ignores SIGPIPE in the process (hiredis writes
// with write(2); a write to a node that died must be an error, not the end of the process).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "redis/connection.h"
#include "redis/reply.h"
#include "redis/slot_map.h"

namespace profiled::redis {

struct ClusterOptions {
  std::vector<std::string> seeds;  // "host:port" of some nodes; the others are discovered
  std::string password;            // AUTH on every connection when not empty
  int connect_timeout_ms = 1000;
  int command_timeout_ms = 2000;  // per read or write; give WAIT a timeout below it
  int max_attempts = 6;           // tries per command (redirects and retries included)
  int retry_delay_ms = 25;        // first pause before a retry; doubles on each attempt
  size_t max_idle_connections_per_node = 8;
};

// One command and the argument that routes it: args[key_index] is the key whose hash slot
// picks the node. Arguments are arbitrary bytes.
struct Command {
  std::vector<std::string> args;
  size_t key_index = 1;  // GET k, SET k v: 1; EVALSHA sha 1 k: 3
};

class ClusterClient {
 public:
  ~ClusterClient();
  ClusterClient(const ClusterClient&) = delete;
  ClusterClient& operator=(const ClusterClient&) = delete;

  // Connects to the first reachable seed and loads the slot map. Unavailable when no seed
  // answers (each costs at most the connect or command timeout); Unauthenticated when the
  // password is refused; InvalidArgument when there is no seed or one is not "host:port".
  static Result<std::unique_ptr<ClusterClient>> Open(ClusterOptions options);

  // Runs one command at its key's primary. InvalidArgument when command.key_index is not an
  // index of command.args.
  Result<Reply> Execute(const Command& command);

  // Runs many commands: one pipeline per node, every node's pipeline sent before any reply is
  // read, so a batch costs about one round trip. Returns one result per command, in the order of
  // `commands`. Commands redirected (MOVED, ASK) or told to retry (TRYAGAIN, CLUSTERDOWN) are
  // sent again, together, until they get an answer or run out of attempts. Commands to different
  // slots are not ordered with respect to each other; commands to one slot run in the order
  // given unless some of them are redirected. A command whose key_index is not an index of its
  // args is answered InvalidArgument. REQUIRES: no MULTI/EXEC or other command that needs the
  // connection of the one before it (RunOnSlot does those).
  std::vector<Result<Reply>> ExecuteBatch(std::span<const Command> commands);

  // ExecuteBatch, and after each node's pipeline (each attempt's, redirected commands
  // included) the command `after` on the same connection, in the same pipeline: for WAIT, which
  // counts the replicas that hold the writes of its own connection. (*after_replies)[i] is the
  // reply to `after` in the pipeline of commands[i]'s last attempt, never an earlier attempt's:
  // a non-OK Result when that pipeline could not be sent or read to its end (then results[i]
  // may be OK: commands[i]'s own reply came, `after`'s did not). It says nothing about a command
  // that got no reply. REQUIRES: `after` not empty; a WAIT's timeout below
  // ClusterOptions::command_timeout_ms.
  std::vector<Result<Reply>> ExecuteBatch(std::span<const Command> commands,
                                          const std::vector<std::string>& after,
                                          std::vector<Result<Reply>>* after_replies);

  // Runs `commands` in one pipeline, on one connection, at the primary of `slot`, and returns
  // their replies in order. For what needs one connection: MULTI ... EXEC, EVAL/EVALSHA over keys
  // of that slot, WAIT after writes. The caller keeps every key of the commands in `slot`.
  // The group is sent again (at the new primary, or with ASKING before each command) only when
  // no command of it ran: every reply is a redirect, MULTI's OK, QUEUED, an EXECABORT, or WAIT's
  // count. Otherwise the replies come back as they are, redirect errors included (the map is
  // reloaded after a MOVED), because running part of the group twice could be wrong. During a
  // migration an ASK sends the group to the importing node with ASKING (before MULTI for a
  // transaction, which then holds for all of it); while a transaction's keys are split between
  // the two nodes, the importing node answers TRYAGAIN and the group waits and retries.
  // InvalidArgument when slot >= kSlotCount or a command is empty.
  Result<std::vector<Reply>> RunOnSlot(uint16_t slot,
                                       std::span<const std::vector<std::string>> commands);

  // Runs one command at the node `address` ("host:port"), which need not be in the map, and
  // returns its reply as is (redirects are not followed). For administration and tests.
  Result<Reply> RunOnNode(const std::string& address, const std::vector<std::string>& args);

  // The address of the primary serving `slot` in the current map, or "" when none does.
  std::string PrimaryOf(uint16_t slot);
  // Every node of the current map, primaries first.
  std::vector<std::string> Nodes();

  // Reloads the slot map from the first node that answers CLUSTER SLOTS with at least one slot
  // served: the nodes of the current map, then the seeds. Unavailable when none does (or
  // Unauthenticated when a node refused the password); then the old map stays.
  Status RefreshSlots();

 private:
  explicit ClusterClient(ClusterOptions options);

  class Lease;  // a connection taken from the pool, returned to it when healthy
  Result<Lease> Take(const std::string& address);
  void Give(std::unique_ptr<Connection> connection);
  void DropIdle(const std::string& address);
  std::shared_ptr<const SlotMap> CurrentMap();
  // Reloads the map unless another thread did since `seen` was current.
  void RefreshAfter(const std::shared_ptr<const SlotMap>& seen);
  void Pause(int attempt) const;

  const ClusterOptions options_;
  const ConnectionOptions connection_options_;

  std::mutex mu_;
  // shared_ptr: a caller routes a whole batch with the map it took, while another thread may
  // swap in a new one; the old map lives until the last such caller is done.
  std::shared_ptr<const SlotMap> map_;  // GUARDED_BY mu_
  std::unordered_map<std::string, std::vector<std::unique_ptr<Connection>>>
      idle_;  // GUARDED_BY mu_; by address

  std::mutex refresh_mu_;  // one reload at a time
};

}  // namespace profiled::redis
