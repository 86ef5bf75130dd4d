// AsyncConnection: one connection to one Redis node on a Boost.Asio event loop, for callers
// that must not block their thread (the HTTP server's I/O threads reading profiles).
//
// Send queues a command and returns at once. The first command goes out at once; those sent
// while a write is in flight go out together in the next one (a pipeline). Each reply is handed
// to its own command's callback, in the order sent, on the loop's thread. The connection opens
// on the first Send (a host name is resolved without blocking; TCP_NODELAY; AUTH first when a
// password is set), so creating one costs nothing.
//
// Failures: when the node cannot be reached, a write or read fails, the reply stream does not
// parse, AUTH is refused, or the oldest command has waited command_timeout_ms for its reply
// (connecting included: ConnectionOptions::connect_timeout_ms is not used), every command
// waiting gets a non-OK Status (IoError: a command already written may have run) and the
// connection closes; the next Send opens it again. An error reply (MOVED, WRONGTYPE) is a Reply
// of type kError, as with Connection.
//
// Not thread-safe: create it and call it on the loop's thread only. Create it with Create: its
// pending I/O holds it alive. Close (or the end of the loop) ends its I/O.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "core/status.h"
#include "redis/connection.h"
#include "redis/reply.h"

struct redisReader;

namespace profiled::redis {

class AsyncConnection : public std::enable_shared_from_this<AsyncConnection> {
 public:
  // Called once per command, on the loop's thread.
  using Callback = std::function<void(Result<Reply>)>;

  static std::shared_ptr<AsyncConnection> Create(boost::asio::io_context& loop, std::string address,
                                                 ConnectionOptions options);
  ~AsyncConnection();
  AsyncConnection(const AsyncConnection&) = delete;
  AsyncConnection& operator=(const AsyncConnection&) = delete;

  const std::string& address() const { return address_; }
  // Commands sent whose reply has not come yet.
  size_t waiting() const { return waiting_.size(); }

  // Queues `args` as one command (REQUIRES: not empty); `done` gets its reply or the failure.
  // `done` is never called from within Send itself.
  void Send(std::span<const std::string> args, Callback done);

  // Closes the socket and ends its I/O; the callbacks of the commands waiting are dropped
  // uncalled (for shutdown: the caller is going away).
  void Close();

 private:
  using Clock = std::chrono::steady_clock;
  struct Waiter {
    Callback done;
    Clock::time_point deadline;
  };
  enum class State : uint8_t { kClosed, kConnecting, kOpen };

  AsyncConnection(boost::asio::io_context& loop, std::string address, ConnectionOptions options);
  void Connect();
  // Connects to the first of `endpoints` that accepts, then opens the connection.
  void ConnectTo(const boost::asio::ip::tcp::resolver::results_type& endpoints);
  void Opened();
  void Write();
  void Read();
  // Hands the parsed replies to their callbacks; false after a failure (already handled).
  bool Deliver();
  void ArmTimer();
  // Fails every waiting command with `status` and closes; later handlers of this connection's
  // old I/O see a new epoch_ and do nothing.
  void Fail(const Status& status);

  boost::asio::io_context& loop_;
  const std::string address_;
  const ConnectionOptions options_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::steady_timer timer_;
  State state_ = State::kClosed;
  uint64_t epoch_ = 0;  // bumped by Fail: I/O started before belongs to a closed socket
  bool writing_ = false;
  bool timer_armed_ = false;
  std::string out_;      // commands queued, not yet handed to a write
  std::string sending_;  // the bytes of the write in flight
  std::string in_;       // the read buffer
  std::deque<Waiter> waiting_;
  struct FreeReader {
    void operator()(redisReader* reader) const;
  };
  std::unique_ptr<redisReader, FreeReader> reader_;
};

// Appends `args` to *out in the Redis protocol (RESP2), as one command.
void AppendCommand(std::span<const std::string> args, std::string* out);

}  // namespace profiled::redis
