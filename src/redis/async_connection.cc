#include "redis/async_connection.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <utility>

#include "redis/hiredis_reply.h"

namespace profiled::redis {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

constexpr size_t kReadBufferBytes = size_t{16} * 1024;

}  // namespace

void AppendCommand(std::span<const std::string> args, std::string* out) {
  out->push_back('*');
  out->append(std::to_string(args.size()));
  out->append("\r\n");
  for (const std::string& arg : args) {
    out->push_back('$');
    out->append(std::to_string(arg.size()));
    out->append("\r\n");
    out->append(arg);
    out->append("\r\n");
  }
}

void AsyncConnection::FreeReader::operator()(redisReader* reader) const { redisReaderFree(reader); }

std::shared_ptr<AsyncConnection> AsyncConnection::Create(asio::io_context& loop,
                                                         std::string address,
                                                         ConnectionOptions options) {
  return std::shared_ptr<AsyncConnection>(
      new AsyncConnection(loop, std::move(address), std::move(options)));
}

AsyncConnection::AsyncConnection(asio::io_context& loop, std::string address,
                                 ConnectionOptions options)
    : loop_(loop),
      address_(std::move(address)),
      options_(std::move(options)),
      socket_(loop),
      resolver_(loop),
      timer_(loop) {}

AsyncConnection::~AsyncConnection() = default;

void AsyncConnection::Send(std::span<const std::string> args, Callback done) {
  AppendCommand(args, &out_);
  waiting_.push_back(
      {std::move(done), Clock::now() + std::chrono::milliseconds(options_.command_timeout_ms)});
  switch (state_) {
    case State::kClosed: Connect(); break;
    case State::kConnecting: break;
    case State::kOpen:
      if (!writing_) Write();
      break;
  }
  ArmTimer();
}

void AsyncConnection::Close() {
  ++epoch_;
  state_ = State::kClosed;
  writing_ = false;
  out_.clear();
  error_code ignored;
  socket_.close(ignored);
  resolver_.cancel();
  timer_.cancel();
  reader_.reset();
  waiting_.clear();
}

void AsyncConnection::Connect() {
  state_ = State::kConnecting;
  reader_.reset(redisReaderCreate());
  std::string host;
  int port = 0;
  Status s = SplitAddress(address_, &host, &port);
  auto self = shared_from_this();
  const uint64_t epoch = epoch_;
  if (!s.ok()) {
    // Not from within Send: its caller is told later, as for any other failure.
    asio::post(loop_, [self, epoch, s] {
      if (epoch == self->epoch_) self->Fail(Status::Unavailable(s.message()));
    });
    return;
  }
  error_code not_ip;
  asio::ip::address ip = asio::ip::make_address(host, not_ip);
  if (!not_ip) {
    asio::ip::tcp::endpoint endpoint(ip, static_cast<uint16_t>(port));
    ConnectTo(asio::ip::tcp::resolver::results_type::create(endpoint, host, std::to_string(port)));
    return;
  }
  // A host name (the slot map may name nodes so): resolved on the loop, without blocking it.
  resolver_.async_resolve(
      host, std::to_string(port),
      [self, epoch](error_code ec, const asio::ip::tcp::resolver::results_type& endpoints) {
        if (epoch != self->epoch_) return;
        if (ec || endpoints.empty()) {
          self->Fail(Status::Unavailable("redis " + self->address_ +
                                         ": cannot resolve the host: " + ec.message()));
          return;
        }
        self->ConnectTo(endpoints);
      });
}

void AsyncConnection::ConnectTo(const asio::ip::tcp::resolver::results_type& endpoints) {
  auto self = shared_from_this();
  const uint64_t epoch = epoch_;
  asio::async_connect(
      socket_, endpoints, [self, epoch](error_code ec, const asio::ip::tcp::endpoint&) {
        if (epoch != self->epoch_) return;
        if (ec) {
          self->Fail(
              Status::Unavailable("redis " + self->address_ + ": cannot connect: " + ec.message()));
          return;
        }
        self->Opened();
      });
}

void AsyncConnection::Opened() {
  error_code ignored;
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
  state_ = State::kOpen;
  if (!options_.password.empty()) {
    // AUTH goes ahead of everything queued while connecting, with the deadline of the first.
    std::string auth;
    std::string args[] = {"AUTH", options_.password};
    AppendCommand(args, &auth);
    out_.insert(0, auth);
    Clock::time_point deadline =
        waiting_.empty() ? Clock::now() + std::chrono::milliseconds(options_.command_timeout_ms)
                         : waiting_.front().deadline;
    waiting_.push_front(
        {[this](const Result<Reply>& reply) {
           if (reply.ok() && reply->is_error()) {
             Fail(Status::Unauthenticated("redis " + address_ + ": AUTH refused: " + reply->str));
           }
         },
         deadline});
  }
  Read();
  if (!out_.empty()) Write();
}

void AsyncConnection::Write() {
  writing_ = true;
  sending_.swap(out_);
  out_.clear();
  auto self = shared_from_this();
  const uint64_t epoch = epoch_;
  asio::async_write(socket_, asio::buffer(sending_), [self, epoch](error_code ec, size_t) {
    if (epoch != self->epoch_) return;
    self->writing_ = false;
    if (ec) {
      self->Fail(Status::IoError("redis " + self->address_ + ": write failed: " + ec.message()));
      return;
    }
    if (!self->out_.empty()) self->Write();
  });
}

void AsyncConnection::Read() {
  in_.resize(kReadBufferBytes);
  auto self = shared_from_this();
  const uint64_t epoch = epoch_;
  socket_.async_read_some(asio::buffer(in_), [self, epoch](error_code ec, size_t n) {
    if (epoch != self->epoch_) return;
    if (ec) {
      self->Fail(Status::IoError("redis " + self->address_ + ": read failed: " + ec.message()));
      return;
    }
    if (redisReaderFeed(self->reader_.get(), self->in_.data(), n) != REDIS_OK) {
      self->Fail(Status::IoError("redis " + self->address_ + ": cannot buffer a reply"));
      return;
    }
    if (self->Deliver()) self->Read();
  });
}

bool AsyncConnection::Deliver() {
  const uint64_t epoch = epoch_;
  for (;;) {
    void* raw = nullptr;
    if (redisReaderGetReply(reader_.get(), &raw) != REDIS_OK) {
      Fail(Status::IoError("redis " + address_ + ": a reply does not parse"));
      return false;
    }
    if (raw == nullptr) return true;
    Reply reply = CopyReply(*static_cast<redisReply*>(raw));
    freeReplyObject(raw);
    if (waiting_.empty()) {
      Fail(Status::IoError("redis " + address_ + ": a reply to no command"));
      return false;
    }
    Callback done = std::move(waiting_.front().done);
    waiting_.pop_front();
    done(std::move(reply));
    if (epoch != epoch_) return false;  // the callback closed the connection
  }
}

void AsyncConnection::ArmTimer() {
  if (timer_armed_ || waiting_.empty()) return;
  timer_armed_ = true;
  // Never in the past: a deadline passed with the reply unread waits for the read handler.
  timer_.expires_at(
      std::max(waiting_.front().deadline, Clock::now() + std::chrono::milliseconds(1)));
  auto self = shared_from_this();
  timer_.async_wait([self](error_code ec) {
    self->timer_armed_ = false;
    // Bytes already in the socket may be the reply: the read handler, about to run, decides.
    error_code unread;
    if (ec != asio::error::operation_aborted && !self->waiting_.empty() &&
        self->waiting_.front().deadline <= Clock::now() &&
        (self->state_ != State::kOpen || self->socket_.available(unread) == 0)) {
      self->Fail(Status::IoError("redis " + self->address_ + ": no reply in " +
                                 std::to_string(self->options_.command_timeout_ms) + " ms"));
      return;
    }
    self->ArmTimer();
  });
}

void AsyncConnection::Fail(const Status& status) {
  std::deque<Waiter> waiting;
  waiting.swap(waiting_);
  Close();
  for (Waiter& w : waiting) w.done(status);
}

}  // namespace profiled::redis
