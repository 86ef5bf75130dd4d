#include "redis/async_connection.h"

#include <hiredis/hiredis.h>

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
  timer_.cancel();
  reader_.reset();
  waiting_.clear();
}

void AsyncConnection::Connect() {
  state_ = State::kConnecting;
  std::string host;
  int port = 0;
  Status s = SplitAddress(address_, &host, &port);
  asio::ip::address ip;
  if (s.ok()) {
    error_code ec;
    ip = asio::ip::make_address(host, ec);
    if (ec) s = Status::Unavailable("redis " + address_ + ": the host is not an IP address");
  }
  auto self = shared_from_this();
  const uint64_t epoch = epoch_;
  if (!s.ok()) {
    // Not from within Send: its caller is told later, as for any other failure.
    asio::post(loop_, [self, epoch, s] {
      if (epoch == self->epoch_) self->Fail(s);
    });
    return;
  }
  reader_.reset(redisReaderCreate());
  socket_.async_connect(
      asio::ip::tcp::endpoint(ip, static_cast<uint16_t>(port)), [self, epoch](error_code ec) {
        if (epoch != self->epoch_) return;
        if (ec) {
          self->Fail(
              Status::Unavailable("redis " + self->address_ + ": cannot connect: " + ec.message()));
          return;
        }
        error_code ignored;
        self->socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
        self->state_ = State::kOpen;
        if (!self->options_.password.empty()) {
          // AUTH goes ahead of everything queued while connecting.
          std::string auth;
          std::string args[] = {"AUTH", self->options_.password};
          AppendCommand(args, &auth);
          self->out_.insert(0, auth);
          AsyncConnection* raw = self.get();
          self->waiting_.push_front(
              {[raw](const Result<Reply>& reply) {
                 if (reply.ok() && reply->is_error()) {
                   raw->Fail(Status::Unauthenticated("redis " + raw->address_ +
                                                     ": AUTH refused: " + reply->str));
                 }
               },
               Clock::now() + std::chrono::milliseconds(self->options_.command_timeout_ms)});
        }
        self->Read();
        if (!self->out_.empty()) self->Write();
      });
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
  timer_.expires_at(waiting_.front().deadline);
  auto self = shared_from_this();
  timer_.async_wait([self](error_code ec) {
    self->timer_armed_ = false;
    if (ec != asio::error::operation_aborted && !self->waiting_.empty() &&
        self->waiting_.front().deadline <= Clock::now()) {
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
