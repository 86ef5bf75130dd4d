#include "redis/connection.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <charconv>
#include <utility>

#include "redis/hiredis_reply.h"

namespace profiled::redis {
namespace {

struct FreeReply {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using ReplyPtr = std::unique_ptr<redisReply, FreeReply>;

timeval Millis(int ms) {
  return timeval{.tv_sec = ms / 1000, .tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000)};
}

}  // namespace

Reply CopyReply(const redisReply& r) {
  switch (r.type) {
    case REDIS_REPLY_STRING: return Reply::String(std::string(r.str, r.len));
    case REDIS_REPLY_STATUS: return Reply::Simple(std::string(r.str, r.len));
    case REDIS_REPLY_ERROR: return Reply::Error(std::string(r.str, r.len));
    case REDIS_REPLY_INTEGER: return Reply::Integer(r.integer);
    case REDIS_REPLY_ARRAY: {
      std::vector<Reply> elements;
      elements.reserve(r.elements);
      for (size_t i = 0; i < r.elements; ++i) elements.push_back(CopyReply(*r.element[i]));
      return Reply::Array(std::move(elements));
    }
    default: return Reply::Nil();
  }
}

void Connection::FreeContext::operator()(redisContext* context) const { redisFree(context); }

Status SplitAddress(std::string_view address, std::string* host, int* port) {
  size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) {
    return Status::InvalidArgument("redis address '" + std::string(address) + "' has no port");
  }
  std::string_view digits = address.substr(colon + 1);
  int value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size() || value <= 0 || value > 65535) {
    return Status::InvalidArgument("redis address '" + std::string(address) +
                                   "' has no valid port");
  }
  *host = std::string(address.substr(0, colon));
  *port = value;
  return Status::Ok();
}

Connection::Connection(std::string address, ContextPtr context)
    : address_(std::move(address)), context_(std::move(context)) {}

Connection::~Connection() = default;

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& address,
                                                     const ConnectionOptions& options) {
  std::string host;
  int port = 0;
  PROFILED_RETURN_IF_ERROR(SplitAddress(address, &host, &port));
  ContextPtr context(
      redisConnectWithTimeout(host.c_str(), port, Millis(options.connect_timeout_ms)));
  if (context == nullptr) return Status::Unavailable("redis " + address + ": out of memory");
  if (context->err != 0) {
    return Status::Unavailable("redis " + address + ": cannot connect: " + context->errstr);
  }
  if (redisSetTimeout(context.get(), Millis(options.command_timeout_ms)) != REDIS_OK) {
    return Status::Unavailable("redis " + address + ": cannot set timeouts: " + context->errstr);
  }
  std::unique_ptr<Connection> connection(new Connection(address, std::move(context)));
  if (!options.password.empty()) {
    std::string args[] = {"AUTH", options.password};
    Result<Reply> reply = connection->Call(args);
    if (!reply.ok()) return Status::Unavailable(reply.status().message());
    if (reply->is_error()) {
      return Status::Unauthenticated("redis " + address + ": AUTH refused: " + reply->str);
    }
  }
  return connection;
}

Status Connection::Broken(std::string_view what) {
  broken_ = true;
  return Status::IoError("redis " + address_ + ": " + std::string(what) + ": " + context_->errstr);
}

Status Connection::Append(std::span<const std::string> args) {
  if (broken_) return Status::IoError("redis " + address_ + ": connection is broken");
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (const std::string& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  if (redisAppendCommandArgv(context_.get(), static_cast<int>(args.size()), argv.data(),
                             lengths.data()) != REDIS_OK) {
    return Broken("cannot queue a command");
  }
  return Status::Ok();
}

Status Connection::Flush() {
  if (broken_) return Status::IoError("redis " + address_ + ": connection is broken");
  int done = 0;
  while (done == 0) {
    if (redisBufferWrite(context_.get(), &done) != REDIS_OK) return Broken("write failed");
  }
  return Status::Ok();
}

Result<Reply> Connection::Read() {
  if (broken_) return Status::IoError("redis " + address_ + ": connection is broken");
  void* raw = nullptr;
  int rc = redisGetReply(context_.get(), &raw);
  ReplyPtr reply(static_cast<redisReply*>(raw));
  if (rc != REDIS_OK || reply == nullptr) return Broken("read failed");
  return CopyReply(*reply);
}

Result<Reply> Connection::Call(std::span<const std::string> args) {
  PROFILED_RETURN_IF_ERROR(Append(args));
  return Read();
}

}  // namespace profiled::redis
