// Connection: one synchronous connection to one Redis node (hiredis `redisContext`), with
// pipelining: Append queues commands, Flush sends them, Read returns the replies in order.
//
// Every command is sent as an argv of byte strings, so keys and values may hold any byte.
// Connect and every read and write are bounded by the timeouts in ConnectionOptions, so a dead
// or stopped node costs a caller at most those, never a hang.
//
// After any I/O error or timeout the connection is broken(): whatever was queued or unread is
// lost, and the owner must drop it (the reply stream can no longer be matched to commands).
//
// Not thread-safe: one thread uses a Connection at a time (ClusterClient's pool hands each to
// one caller). Owns its hiredis context.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "redis/reply.h"

struct redisContext;

namespace profiled::redis {

struct ConnectionOptions {
  int connect_timeout_ms = 1000;
  // Bounds each read and write of a command. A blocking command (WAIT, BLPOP) must be given a
  // server-side timeout below this.
  int command_timeout_ms = 2000;
  std::string password;  // sent with AUTH right after connecting when not empty
};

// Splits "host:port" (the host may be empty or an IPv6 literal without brackets: the port is
// after the last ':'). InvalidArgument when there is no valid port.
Status SplitAddress(std::string_view address, std::string* host, int* port);

class Connection {
 public:
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects to `address` ("host:port") and authenticates when options.password is set.
  // Unavailable when the node cannot be reached in time; Unauthenticated when AUTH is refused;
  // InvalidArgument for a bad address. Without a password nothing is sent: a node that wants
  // one still opens, and answers each command NOAUTH (ClusterClient::RefreshSlots reports that
  // as Unauthenticated).
  static Result<std::unique_ptr<Connection>> Open(const std::string& address,
                                                  const ConnectionOptions& options);

  const std::string& address() const { return address_; }
  bool broken() const { return broken_; }

  // Queues one command in the output buffer (nothing is sent yet). REQUIRES: !args.empty().
  // Fails only when the connection is broken.
  Status Append(std::span<const std::string> args);

  // Sends everything queued. IoError (and broken()) on a write error or timeout; some of the
  // queued commands may then have reached the node.
  Status Flush();

  // Reads the next reply, sending what is queued first. IoError (and broken()) on a read error,
  // a timeout or a closed connection.
  Result<Reply> Read();

  // Append, then Read: one command, one round trip.
  Result<Reply> Call(std::span<const std::string> args);

 private:
  struct FreeContext {
    void operator()(redisContext* context) const;
  };
  using ContextPtr = std::unique_ptr<redisContext, FreeContext>;

  Connection(std::string address, ContextPtr context);
  Status Broken(std::string_view what);

  std::string address_;
  ContextPtr context_;
  bool broken_ = false;
};

}  // namespace profiled::redis
