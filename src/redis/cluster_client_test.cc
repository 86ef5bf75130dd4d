// ClusterClient against a live Redis Cluster: 3 primaries and 3 replicas, password-protected,
// started once for the whole binary by scripts/redis-cluster.sh in a fresh directory and
// stopped at the end. The tests run in the order written and share the cluster: the resharding
// tests move two slots, and the failover test, last, kills a primary.
#include "redis/cluster_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/temp_dir.h"
#include "redis/async_connection.h"
#include "redis/key_slot.h"
#include "redis/local_cluster.h"

namespace profiled::redis {
namespace {

constexpr const char* kPassword = kLocalClusterPassword;
using Args = std::vector<std::string>;

LocalCluster* cluster = nullptr;

ClusterOptions Options() {
  ClusterOptions options;
  options.seeds = cluster->seeds();
  options.password = kPassword;
  options.command_timeout_ms = 10000;  // generous: the machine is shared; WAIT below asks 5 s
  return options;
}

std::unique_ptr<ClusterClient> OpenClient() {
  Result<std::unique_ptr<ClusterClient>> client = ClusterClient::Open(Options());
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  return client.ok() ? std::move(*client) : nullptr;
}

Command Cmd(Args args, size_t key_index = 1) { return Command{std::move(args), key_index}; }

std::string ValueOf(const Result<Reply>& reply) {
  if (!reply.ok()) return "<" + reply.status().ToString() + ">";
  if (reply->type != ReplyType::kString) return "<" + reply->ToString() + ">";
  return reply->str;
}

// The primary that CLUSTER NODES, asked at `address`, says serves `slot`; "" when none.
std::string OwnerByClusterNodes(ClusterClient& client, const std::string& address, int slot) {
  std::istringstream lines(Must(client.RunOnNode(address, {"CLUSTER", "NODES"})));
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string id, node, flags, primary, ping, pong, epoch, link;
    fields >> id >> node >> flags >> primary >> ping >> pong >> epoch >> link;
    if (flags.find("master") == std::string::npos || flags.find("fail") != std::string::npos) {
      continue;
    }
    node = node.substr(0, node.find('@'));
    for (std::string range; fields >> range;) {
      if (range.front() == '[') continue;  // a migration in progress, not ownership
      size_t dash = range.find('-');
      int first = std::stoi(range.substr(0, dash));
      int last = dash == std::string::npos ? first : std::stoi(range.substr(dash + 1));
      if (slot >= first && slot <= last) return node;
    }
  }
  return "";
}

std::string RandomBytes(std::mt19937& rng, size_t size) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::string s(size, '\0');
  for (char& c : s) c = static_cast<char>(byte(rng));
  return s;
}

// A key hashed on the tag `tag`: every key of one tag is in one slot.
std::string Tagged(const std::string& tag, const std::string& name) {
  return "{" + tag + "}" + name;
}

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// A socket listening on a free loopback port, and the port (0 when something failed).
int ListenOnLoopback(int* port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  *port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && ::listen(fd, 16) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    *port = ntohs(addr.sin_port);
  }
  return fd;
}

// A one-node "cluster" on loopback that serves every slot and answers each command with what
// `answer` returns (raw RESP), or closes the connection when it returns "". It serves one
// connection at a time, in a thread of its own; commands are arrays of bulk strings.
class FakeNode {
 public:
  using Answer = std::function<std::string(const Args&)>;

  explicit FakeNode(Answer answer) : answer_(std::move(answer)) {
    listener_ = ListenOnLoopback(&port_);
    EXPECT_NE(port_, 0);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeNode() {
    ::shutdown(listener_, SHUT_RDWR);  // wakes accept(2)
    thread_.join();
    ::close(listener_);
  }
  FakeNode(const FakeNode&) = delete;
  FakeNode& operator=(const FakeNode&) = delete;

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // CLUSTER SLOTS's answer: every slot on this node.
  std::string SlotsReply() const {
    return "*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n$9\r\n127.0.0.1\r\n:" + std::to_string(port_) +
           "\r\n";
  }

 private:
  void Serve() {
    for (;;) {
      int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0) return;
      std::string in;
      bool open = true;
      while (open) {
        char buf[4096];
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        in.append(buf, static_cast<size_t>(n));
        for (Args args; open && TakeCommand(&in, &args); args.clear()) {
          std::string out = answer_(args);
          if (out.empty()) {
            open = false;
          } else {
            open = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL) ==
                   static_cast<ssize_t>(out.size());
          }
        }
      }
      ::close(fd);
    }
  }

  // Moves one complete "*n\r\n$len\r\nbytes\r\n..." command out of `in`; false when incomplete.
  static bool TakeCommand(std::string* in, Args* args) {
    size_t at = 0;
    const auto line = [&](char kind, size_t* value) {
      size_t end = in->find("\r\n", at);
      if (end == std::string::npos || (*in)[at] != kind) return false;
      *value = std::stoul(in->substr(at + 1, end - at - 1));
      at = end + 2;
      return true;
    };
    size_t count = 0;
    if (!line('*', &count)) return false;
    for (size_t i = 0; i < count; ++i) {
      size_t size = 0;
      if (!line('$', &size) || in->size() < at + size + 2) return false;
      args->push_back(in->substr(at, size));
      at += size + 2;
    }
    in->erase(0, at);
    return true;
  }

  Answer answer_;
  int listener_ = -1;
  int port_ = 0;
  std::thread thread_;
};

TEST(ClusterClient, ComputesTheSameSlotsAsTheServer) {
  auto client = OpenClient();
  ASSERT_NE(client, nullptr);
  std::mt19937 rng(42);
  const std::string alphabet("ab{}\0\xff", 6);
  std::uniform_int_distribution<size_t> length(0, 12), pick(0, alphabet.size() - 1);
  for (int i = 0; i < 300; ++i) {
    // Half the keys from an alphabet heavy in braces, to reach every hash tag rule.
    std::string key = RandomBytes(rng, length(rng));
    if (i % 2 == 0) {
      for (char& c : key) c = alphabet[pick(rng)];
    }
    Result<Reply> slot = client->RunOnNode(cluster->seeds()[0], {"CLUSTER", "KEYSLOT", key});
    ASSERT_TRUE(slot.ok()) << slot.status().ToString();
    EXPECT_EQ(slot->integer, KeySlot(key)) << Reply::String(key).ToString();
  }
}

TEST(ClusterClient, RoutesEachKeyToThePrimaryServingItsSlot) {
  auto client = OpenClient();
  ASSERT_NE(client, nullptr);
  for (int i = 0; i < 60; ++i) {
    std::string key = "route:" + std::to_string(i);
    ASSERT_EQ(Must(client->Execute(Cmd({"SET", key, "v" + std::to_string(i)}))), "OK");
    std::string owner = OwnerByClusterNodes(*client, cluster->seeds()[0], KeySlot(key));
    EXPECT_EQ(client->PrimaryOf(KeySlot(key)), owner) << key;
    // The key is on that node: it answers without a redirect.
    EXPECT_EQ(ValueOf(client->RunOnNode(owner, {"GET", key})), "v" + std::to_string(i));
    EXPECT_EQ(client->RunOnNode(AnotherPrimary(*client, owner), {"GET", key})->error_code(),
              "MOVED");
  }
}

TEST(ClusterClient, ReturnsABatchSpanningEveryShardInCallerOrder) {
  auto client = OpenClient();
  ASSERT_NE(client, nullptr);
  std::vector<Command> sets, gets;
  std::set<std::string> nodes;
  for (int i = 0; i < 1000; ++i) {
    std::string key = "batch:" + std::to_string(i);
    sets.push_back(Cmd({"SET", key, "value-" + std::to_string(i)}));
    gets.push_back(Cmd({"GET", key}));
    nodes.insert(client->PrimaryOf(KeySlot(key)));
  }
  ASSERT_EQ(nodes.size(), 3u);
  std::vector<Result<Reply>> set_replies = client->ExecuteBatch(sets);
  ASSERT_EQ(set_replies.size(), sets.size());
  for (const Result<Reply>& reply : set_replies) EXPECT_EQ(Must(reply), "OK");
  std::vector<Result<Reply>> values = client->ExecuteBatch(gets);
  ASSERT_EQ(values.size(), gets.size());
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(ValueOf(values[i]), "value-" + std::to_string(i));
}

TEST(ClusterClient, GivesEachCommandOfABatchItsOwnReplyErrorsIncluded) {
  auto client = OpenClient();
  ASSERT_NE(client, nullptr);
  ASSERT_EQ(Must(client->Execute(Cmd({"SET", "mixed:string", "x"}))), "OK");
  std::vector<Command> batch = {Cmd({"GET", "mixed:absent"}), Cmd({"LPUSH", "mixed:string", "y"}),
                                Cmd({"INCRBY", "mixed:counter", "5"}),
                                Cmd({"EVAL", "return KEYS[1]", "1", "mixed:eval"}, 3),
                                Cmd({"GET"}, 1)};
  std::vector<Result<Reply>> replies = client->ExecuteBatch(batch);
  ASSERT_EQ(replies.size(), 5u);
  EXPECT_EQ(replies[4].status().code(), ErrorCode::kInvalidArgument);
  ASSERT_TRUE(replies[0].ok() && replies[1].ok() && replies[2].ok() && replies[3].ok());
  EXPECT_TRUE(replies[0]->is_nil());
  EXPECT_EQ(replies[1]->error_code(), "WRONGTYPE");
  EXPECT_EQ(replies[2]->integer, 5);
  EXPECT_EQ(ValueOf(replies[3]), "mixed:eval");
}

TEST(ClusterClient, KeepsBinaryKeysAndValuesIntact) {
  auto client = OpenClient();
  ASSERT_NE(client, nullptr);
  std::mt19937 rng(7);
  std::vector<std::string> keys = {std::string("nul\0key", 7), std::string("\0", 1),
                                   std::string("{\0}tag\xff", 7), "\r\n$3\r\n", ""};
  std::vector<std::string> values = {std::string("a\0b\0", 4), RandomBytes(rng, 1 << 20), "",
                                     "\r\n", RandomBytes(rng, 100)};
  std::vector<Command> sets, gets;
  for (size_t i = 0; i < keys.size(); ++i) {
    sets.push_back(Cmd({"SET", keys[i], values[i]}));
    gets.push_back(Cmd({"GET", keys[i]}));
  }
  for (const Result<Reply>& reply : client->ExecuteBatch(sets)) EXPECT_EQ(Must(reply), "OK");
  std::vector<Result<Reply>> got = client->ExecuteBatch(gets);
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(ValueOf(got[i]), values[i]) << Reply::String(keys[i]).ToString();
    EXPECT_EQ(ValueOf(client->RunOnNode(client->PrimaryOf(KeySlot(keys[i])), {"GET", keys[i]})),
              values[i]);
  }
}

TEST(ClusterClient, SharesItsConnectionsBetweenThreads) {
  auto client = OpenClient();
  ASSERT_NE(client, nullptr);
  constexpr int kThreads = 4, kRounds = 100, kKeys = 8;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&client] {
      for (int round = 0; round < kRounds; ++round) {
        std::vector<Command> batch;
        batch.reserve(kKeys);
        for (int k = 0; k < kKeys; ++k)
          batch.push_back(Cmd({"INCR", "threads:" + std::to_string(k)}));
        for (const Result<Reply>& reply : client->ExecuteBatch(batch)) EXPECT_TRUE(reply.ok());
        EXPECT_TRUE(client->Execute(Cmd({"INCR", "threads:single"})).ok());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int k = 0; k < kKeys; ++k) {
    EXPECT_EQ(ValueOf(client->Execute(Cmd({"GET", "threads:" + std::to_string(k)}))),
              std::to_string(kThreads * kRounds));
  }
  EXPECT_EQ(ValueOf(client->Execute(Cmd({"GET", "threads:single"}))),
            std::to_string(kThreads * kRounds));
}

TEST(ClusterClient, RunsATransactionAndWaitOnOneSlotsConnection) {
  auto client = OpenClient();
  ASSERT_NE(client, nullptr);
  uint16_t slot = KeySlot("{txn}");
  Result<std::vector<Reply>> replies =
      client->RunOnSlot(slot, std::vector<Args>{{"MULTI"},
                                                {"SET", Tagged("txn", "a"), "1"},
                                                {"INCRBY", Tagged("txn", "b"), "41"},
                                                {"EXEC"},
                                                {"WAIT", "1", "5000"}});
  ASSERT_TRUE(replies.ok()) << replies.status().ToString();
  ASSERT_EQ(replies->size(), 5u);
  EXPECT_EQ((*replies)[3].ToString(), "[+OK, :41]");
  EXPECT_EQ((*replies)[4].integer, 1);  // the slot's replica holds the transaction
  Result<std::vector<Reply>> script = client->RunOnSlot(
      slot, std::vector<Args>{{"EVAL", "return redis.call('INCR', KEYS[1]) + tonumber(ARGV[1])",
                               "1", Tagged("txn", "b"), "100"}});
  ASSERT_TRUE(script.ok()) << script.status().ToString();
  EXPECT_EQ((*script)[0].integer, 142);
}

TEST(ClusterClient, SendsACommandAfterEachNodesPipelineOnItsConnection) {
  auto client = OpenClient();
  ASSERT_NE(client, nullptr);
  std::vector<Command> batch;
  std::set<std::string> nodes;
  for (int i = 0; i < 60; ++i) {
    std::string key = "after:" + std::to_string(i);
    batch.push_back(Cmd({"SET", key, "v"}));
    nodes.insert(client->PrimaryOf(KeySlot(key)));
  }
  ASSERT_EQ(nodes.size(), 3u);
  std::vector<Result<Reply>> waited;
  std::vector<Result<Reply>> replies = client->ExecuteBatch(batch, {"WAIT", "1", "5000"}, &waited);
  ASSERT_EQ(waited.size(), batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    EXPECT_EQ(Must(replies[i]), "OK");
    ASSERT_TRUE(waited[i].ok()) << waited[i].status().ToString();
    EXPECT_EQ(waited[i]->integer, 1);  // each shard's replica holds the writes
  }
  // Five replicas never acknowledge: WAIT answers the count it got when its timeout ends. The
  // timeout is long enough for the one replica's acknowledgement to arrive on a busy machine.
  replies = client->ExecuteBatch(batch, {"WAIT", "5", "1000"}, &waited);
  for (size_t i = 0; i < batch.size(); ++i) {
    ASSERT_TRUE(waited[i].ok()) << waited[i].status().ToString();
    EXPECT_EQ(waited[i]->integer, 1);
  }
}

// A command told TRYAGAIN is sent again; when that second pipeline breaks, the first
// pipeline's WAIT count must not stand for it.
TEST(ClusterClient, KeepsNoEarlierAttemptsReplyToTheCommandAfterARetriedCommand) {
  std::atomic<int> sets{0};
  FakeNode node([&](const Args& args) -> std::string {
    if (args[0] == "CLUSTER") return node.SlotsReply();
    if (args[0] == "WAIT") return ":1\r\n";
    // The first SET is told to retry; the connection that carries the second one breaks.
    return ++sets == 1 ? "-TRYAGAIN try again later\r\n" : "";
  });
  ClusterOptions options;
  options.seeds = {node.address()};
  Result<std::unique_ptr<ClusterClient>> client = ClusterClient::Open(options);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  std::vector<Command> batch = {Cmd({"SET", "k", "v"})};
  std::vector<Result<Reply>> waited;
  std::vector<Result<Reply>> replies =
      (*client)->ExecuteBatch(batch, {"WAIT", "1", "100"}, &waited);
  EXPECT_EQ(sets.load(), 2);
  ASSERT_FALSE(replies[0].ok());
  EXPECT_EQ(replies[0].status().code(), ErrorCode::kIoError) << replies[0].status().ToString();
  ASSERT_EQ(waited.size(), 1u);
  EXPECT_FALSE(waited[0].ok()) << "a reply to WAIT from the first attempt: "
                               << waited[0]->ToString();
}

TEST(ClusterClient, RefusesAWrongOrMissingPassword) {
  ClusterOptions options = Options();
  options.password = "wrong";
  Result<std::unique_ptr<ClusterClient>> wrong = ClusterClient::Open(options);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), ErrorCode::kUnauthenticated) << wrong.status().ToString();
  options.password = "";
  Result<std::unique_ptr<ClusterClient>> missing = ClusterClient::Open(options);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kUnauthenticated) << missing.status().ToString();
}

TEST(ClusterClient, FailsWhenNoSeedIsReachable) {
  ClusterOptions options;
  options.seeds = {"127.0.0.1:" + std::to_string(FreePort()),
                   "127.0.0.1:" + std::to_string(FreePort())};
  Result<std::unique_ptr<ClusterClient>> client = ClusterClient::Open(options);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), ErrorCode::kUnavailable) << client.status().ToString();
}

TEST(ClusterClient, GivesUpOnANodeThatAcceptsButNeverAnswers) {
  // A listening socket nobody accepts on: the kernel completes the handshake, then silence.
  int port = 0;
  int fd = ListenOnLoopback(&port);
  ASSERT_NE(port, 0);
  ClusterOptions options;
  options.seeds = {"127.0.0.1:" + std::to_string(port)};
  options.command_timeout_ms = 200;
  Result<std::unique_ptr<ClusterClient>> client = ClusterClient::Open(options);
  ::close(fd);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), ErrorCode::kUnavailable) << client.status().ToString();
}

// --- AsyncConnection, on an io_context the test's own thread runs.

// Runs `loop` until `done()` or 60 s have passed, so a hang fails the test instead of blocking.
void RunUntil(boost::asio::io_context& loop, const std::function<bool()>& done) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!done() && std::chrono::steady_clock::now() < until) {
    loop.restart();
    loop.run_for(std::chrono::milliseconds(5));
  }
}

ConnectionOptions AsyncOptions() {
  ConnectionOptions options;
  options.password = kPassword;
  options.command_timeout_ms = 10000;
  return options;
}

// A connection to the primary of the hash tag {async}, on a loop the test runs, and the replies
// its commands got.
struct AsyncToOnePrimary {
  std::unique_ptr<ClusterClient> client = OpenClient();
  std::string primary = client ? client->PrimaryOf(KeySlot("{async}")) : "";
  boost::asio::io_context loop;
  std::shared_ptr<AsyncConnection> connection =
      AsyncConnection::Create(loop, primary, AsyncOptions());
  std::vector<Result<Reply>> got;

  AsyncConnection::Callback Keep() {
    return [this](Result<Reply> reply) { got.push_back(std::move(reply)); };
  }
};

TEST(AsyncConnection, PipelinesCommandsAndAnswersEachInTheOrderSent) {
  auto client = OpenClient();
  ASSERT_NE(client, nullptr);
  boost::asio::io_context loop;
  // One hash tag: every key on the one primary the connection talks to.
  auto connection =
      AsyncConnection::Create(loop, client->PrimaryOf(KeySlot("{async}")), AsyncOptions());
  std::vector<std::string> got;
  bool sending = true;
  for (int i = 0; i < 300; ++i) {
    std::string key = "{async}:" + std::to_string(i);
    std::string value = std::string("value\0\r\n", 8) + std::to_string(i);  // any bytes
    connection->Send(Args{"SET", key, value}, [&](Result<Reply> reply) {
      EXPECT_FALSE(sending) << "a callback ran inside Send";
      got.push_back(Must(std::move(reply)));
    });
    connection->Send(Args{"GET", key},
                     [&](const Result<Reply>& reply) { got.push_back(ValueOf(reply)); });
  }
  sending = false;
  EXPECT_EQ(connection->waiting(), 600u);
  RunUntil(loop, [&] { return got.size() == 600; });
  ASSERT_EQ(got.size(), 600u);
  for (size_t i = 0; i < 300; ++i) {
    EXPECT_EQ(got[2 * i], "OK");
    EXPECT_EQ(got[2 * i + 1], std::string("value\0\r\n", 8) + std::to_string(i));
  }
  EXPECT_EQ(connection->waiting(), 0u);
}

TEST(AsyncConnection, GivesErrorRepliesAsRepliesAndKeepsTheConnection) {
  AsyncToOnePrimary t;
  ASSERT_NE(t.client, nullptr);
  auto keep = t.Keep();
  t.connection->Send(Args{"SET", "{async}:string", "x"}, keep);
  t.connection->Send(Args{"HGET", "{async}:string", "field"}, keep);
  // A key served by another primary: the node redirects, the connection does not follow.
  std::string elsewhere;
  for (int i = 0; elsewhere.empty(); ++i) {
    std::string key = "elsewhere:" + std::to_string(i);
    if (t.client->PrimaryOf(KeySlot(key)) != t.primary) elsewhere = key;
  }
  t.connection->Send(Args{"GET", elsewhere}, keep);
  t.connection->Send(Args{"GET", "{async}:string"}, keep);
  RunUntil(t.loop, [&] { return t.got.size() == 4; });
  ASSERT_EQ(t.got.size(), 4u);
  EXPECT_EQ(Must(t.got[0]), "OK");
  ASSERT_TRUE(t.got[1].ok());
  EXPECT_EQ(t.got[1]->error_code(), "WRONGTYPE") << t.got[1]->ToString();
  ASSERT_TRUE(t.got[2].ok());
  EXPECT_EQ(t.got[2]->error_code(), "MOVED") << t.got[2]->ToString();
  EXPECT_EQ(ValueOf(t.got[3]), "x");
}

TEST(AsyncConnection, FailsWhatWaitsWhenTheNodeCannotBeReachedOrRefusesThePassword) {
  auto client = OpenClient();
  ASSERT_NE(client, nullptr);
  boost::asio::io_context loop;
  ConnectionOptions wrong = AsyncOptions();
  wrong.password = "wrong";
  std::vector<std::shared_ptr<AsyncConnection>> connections = {
      AsyncConnection::Create(loop, "127.0.0.1:" + std::to_string(FreePort()), AsyncOptions()),
      AsyncConnection::Create(loop, "no-port", AsyncOptions()),
      AsyncConnection::Create(loop, client->PrimaryOf(0), wrong)};
  std::vector<std::vector<Status>> got(connections.size());
  bool sending = true;
  for (size_t c = 0; c < connections.size(); ++c) {
    for (int i = 0; i < 2; ++i) {
      connections[c]->Send(Args{"GET", "k"}, [&, c](const Result<Reply>& reply) {
        EXPECT_FALSE(sending) << "a callback ran inside Send";
        got[c].push_back(reply.status());
      });
    }
  }
  sending = false;
  RunUntil(loop, [&] { return got[0].size() == 2 && got[1].size() == 2 && got[2].size() == 2; });
  for (size_t c = 0; c < connections.size(); ++c) {
    ASSERT_EQ(got[c].size(), 2u) << c;
    ErrorCode want = c == 2 ? ErrorCode::kUnauthenticated : ErrorCode::kUnavailable;
    for (const Status& s : got[c]) EXPECT_EQ(s.code(), want) << c << ": " << s.ToString();
    EXPECT_EQ(connections[c]->waiting(), 0u);
  }
}

TEST(AsyncConnection, ResolvesAHostNameAndReadsAReplyLongerThanOneRead) {
  auto client = OpenClient();
  ASSERT_NE(client, nullptr);
  std::string primary = client->PrimaryOf(KeySlot("{async}"));
  // The slot map may name nodes by host name (cluster-preferred-endpoint-type hostname).
  std::string by_name = "localhost" + primary.substr(primary.rfind(':'));
  std::mt19937 rng(7);
  std::string big = RandomBytes(rng, size_t{300} * 1024);  // ~19 reads of the 16 KiB buffer
  boost::asio::io_context loop;
  auto connection = AsyncConnection::Create(loop, by_name, AsyncOptions());
  std::vector<Result<Reply>> got;
  auto keep = [&](Result<Reply> reply) { got.push_back(std::move(reply)); };
  connection->Send(Args{"SET", "{async}:big", big}, keep);
  connection->Send(Args{"GET", "{async}:big"}, keep);
  connection->Send(Args{"GET", "{async}:big"}, keep);
  RunUntil(loop, [&] { return got.size() == 3; });
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(Must(got[0]), "OK");
  EXPECT_TRUE(ValueOf(got[1]) == big) << "the first long reply differs";
  EXPECT_TRUE(ValueOf(got[2]) == big) << "the second long reply differs";
}

TEST(AsyncConnection, TimesOutCommandsQueuedBehindAuthAndThoseSentFromAFailure) {
  int port = 0;
  int fd = ListenOnLoopback(&port);  // accepts (in the kernel), then silence
  ASSERT_NE(port, 0);
  boost::asio::io_context loop;
  ConnectionOptions options;
  options.password = "secret";  // AUTH goes first, and gets no answer either
  options.command_timeout_ms = 200;
  auto connection = AsyncConnection::Create(loop, "127.0.0.1:" + std::to_string(port), options);
  std::vector<Status> got;
  connection->Send(Args{"GET", "a"}, [&](const Result<Reply>& reply) {
    got.push_back(reply.status());
    // Sent from the failure's callback: the connection opens again and this one times out too.
    connection->Send(Args{"GET", "c"},
                     [&](const Result<Reply>& again) { got.push_back(again.status()); });
  });
  connection->Send(Args{"GET", "b"},
                   [&](const Result<Reply>& reply) { got.push_back(reply.status()); });
  RunUntil(loop, [&] { return got.size() == 3; });
  ::close(fd);
  ASSERT_EQ(got.size(), 3u);
  for (const Status& s : got) EXPECT_EQ(s.code(), ErrorCode::kIoError) << s.ToString();
  EXPECT_EQ(connection->waiting(), 0u);
}

TEST(AsyncConnection, FailsWhatWaitsAfterTheNodeDropsItThenOpensAgain) {
  AsyncToOnePrimary t;
  ASSERT_NE(t.client, nullptr);
  auto keep = t.Keep();
  t.connection->Send(Args{"CLIENT", "ID"}, keep);
  RunUntil(t.loop, [&] { return t.got.size() == 1; });
  ASSERT_EQ(t.got.size(), 1u);
  ASSERT_TRUE(t.got[0].ok() && t.got[0]->type == ReplyType::kInteger) << t.got[0]->ToString();
  Must(t.client->RunOnNode(t.primary, {"CLIENT", "KILL", "ID", std::to_string(t.got[0]->integer)}));
  // Sent on the killed connection (the t.loop has not run since): its outcome is unknown.
  t.connection->Send(Args{"GET", "{async}:string"}, keep);
  RunUntil(t.loop, [&] { return t.got.size() == 2; });
  ASSERT_EQ(t.got.size(), 2u);
  EXPECT_EQ(t.got[1].status().code(), ErrorCode::kIoError) << t.got[1].status().ToString();
  t.connection->Send(Args{"SET", "{async}:again", "yes"}, keep);
  t.connection->Send(Args{"GET", "{async}:again"}, keep);
  RunUntil(t.loop, [&] { return t.got.size() == 4; });
  ASSERT_EQ(t.got.size(), 4u);
  EXPECT_EQ(Must(t.got[2]), "OK");
  EXPECT_EQ(ValueOf(t.got[3]), "yes");
}

TEST(AsyncConnection, GivesUpOnANodeThatNeverAnswersOrAnswersGarbage) {
  int port = 0;
  int fd = ListenOnLoopback(&port);  // accepts (in the kernel), then silence
  ASSERT_NE(port, 0);
  FakeNode garbage([](const Args&) { return std::string("?not a reply\r\n"); });
  boost::asio::io_context loop;
  ConnectionOptions options;
  options.command_timeout_ms = 200;
  auto silent = AsyncConnection::Create(loop, "127.0.0.1:" + std::to_string(port), options);
  auto confused = AsyncConnection::Create(loop, garbage.address(), options);
  std::vector<Status> got;
  silent->Send(Args{"GET", "k"},
               [&](const Result<Reply>& reply) { got.push_back(reply.status()); });
  confused->Send(Args{"GET", "k"},
                 [&](const Result<Reply>& reply) { got.push_back(reply.status()); });
  RunUntil(loop, [&] { return got.size() == 2; });
  ::close(fd);
  ASSERT_EQ(got.size(), 2u);
  for (const Status& s : got) EXPECT_EQ(s.code(), ErrorCode::kIoError) << s.ToString();
  EXPECT_EQ(silent->waiting(), 0u);
  EXPECT_EQ(confused->waiting(), 0u);
}

TEST(AsyncConnection, CloseDropsWhatWaitsWithoutCallingIt) {
  int port = 0;
  int fd = ListenOnLoopback(&port);
  ASSERT_NE(port, 0);
  boost::asio::io_context loop;
  auto connection = AsyncConnection::Create(loop, "127.0.0.1:" + std::to_string(port), {});
  bool called = false;
  connection->Send(Args{"GET", "k"}, [&](const Result<Reply>&) { called = true; });
  loop.run_for(std::chrono::milliseconds(50));
  connection->Close();
  loop.restart();
  loop.run_for(std::chrono::milliseconds(50));
  ::close(fd);
  EXPECT_FALSE(called);
  EXPECT_EQ(connection->waiting(), 0u);
  // Nothing of its I/O is left to run: the loop has no more work.
  loop.restart();
  EXPECT_EQ(loop.poll(), 0u);
}

TEST(ClusterResharding, FollowsMovedAndReloadsTheMapAfterASlotChangesOwner) {
  auto client = OpenClient();  // its map is loaded now, before the move
  auto admin = OpenClient();
  ASSERT_NE(client, nullptr);
  ASSERT_NE(admin, nullptr);
  const uint16_t slot = KeySlot("{moved}");
  std::vector<Command> sets, gets;
  for (int i = 0; i < 20; ++i) {
    sets.push_back(Cmd({"SET", Tagged("moved", std::to_string(i)), std::to_string(i * i)}));
    gets.push_back(Cmd({"GET", Tagged("moved", std::to_string(i))}));
  }
  for (const Result<Reply>& reply : client->ExecuteBatch(sets)) ASSERT_EQ(Must(reply), "OK");
  const std::string source = client->PrimaryOf(slot);
  const std::string target = AnotherPrimary(*admin, source);
  MoveSlot(*admin, slot, source, target);
  ASSERT_EQ(client->PrimaryOf(slot), source);  // stale until a MOVED says otherwise

  std::vector<Result<Reply>> values = client->ExecuteBatch(gets);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(ValueOf(values[i]), std::to_string(i * i));
  EXPECT_EQ(client->PrimaryOf(slot), target);
  EXPECT_EQ(OwnerByClusterNodes(*admin, target, slot), target);
  EXPECT_EQ(ValueOf(admin->RunOnNode(target, {"GET", Tagged("moved", "3")})), "9");
}

TEST(ClusterResharding, FollowsAskDuringAMigrationWithoutChangingTheMap) {
  auto client = OpenClient();
  auto admin = OpenClient();
  ASSERT_NE(client, nullptr);
  ASSERT_NE(admin, nullptr);
  const uint16_t slot = KeySlot("{ask}");
  const std::string s = std::to_string(slot);
  ASSERT_EQ(Must(client->Execute(Cmd({"SET", Tagged("ask", "old"), "before"}))), "OK");
  ASSERT_EQ(Must(client->Execute(Cmd({"SET", Tagged("ask", "old2"), "before"}))), "OK");
  const std::string source = client->PrimaryOf(slot);
  const std::string target = AnotherPrimary(*admin, source);
  MoveSlot(*admin, slot, source, target, /*finish=*/false);  // IMPORTING and MIGRATING only

  // A key the source does not hold goes to the importing node, with ASKING.
  EXPECT_EQ(Must(client->Execute(Cmd({"SET", Tagged("ask", "new"), "during"}))), "OK");
  EXPECT_EQ(admin->RunOnNode(target, {"CLUSTER", "COUNTKEYSINSLOT", s})->integer, 1);
  EXPECT_EQ(ValueOf(client->Execute(Cmd({"GET", Tagged("ask", "new")}))), "during");
  // A key still on the source is served there.
  EXPECT_EQ(ValueOf(client->Execute(Cmd({"GET", Tagged("ask", "old")}))), "before");
  EXPECT_EQ(client->PrimaryOf(slot), source);  // ASK leaves the map alone

  // A transaction whose keys have all left follows them; one whose keys are split runs nowhere.
  Result<std::vector<Reply>> moved_keys = client->RunOnSlot(
      slot, std::vector<Args>{{"MULTI"}, {"SET", Tagged("ask", "tx"), "t"}, {"EXEC"}});
  ASSERT_TRUE(moved_keys.ok()) << moved_keys.status().ToString();
  EXPECT_EQ((*moved_keys)[2].ToString(), "[+OK]");
  EXPECT_EQ(admin->RunOnNode(target, {"CLUSTER", "COUNTKEYSINSLOT", s})->integer, 2);
  Result<std::vector<Reply>> split = client->RunOnSlot(
      slot,
      std::vector<Args>{
          {"MULTI"}, {"INCR", Tagged("ask", "old")}, {"SET", Tagged("ask", "new"), "x"}, {"EXEC"}});
  ASSERT_FALSE(split.ok());
  EXPECT_EQ(split.status().code(), ErrorCode::kUnavailable);
  // A group that is not a transaction and ran in part comes back as it is, never sent twice.
  Result<std::vector<Reply>> partial =
      client->RunOnSlot(slot, std::vector<Args>{{"APPEND", Tagged("ask", "old2"), "+once"},
                                                {"SET", Tagged("ask", "new2"), "y"}});
  ASSERT_TRUE(partial.ok()) << partial.status().ToString();
  EXPECT_EQ((*partial)[0].integer, 11);
  EXPECT_EQ((*partial)[1].error_code(), "ASK");

  // Finishing the migration: the client follows the MOVED and everything is on the target.
  Result<Reply> migrated =
      admin->RunOnNode(source, {"MIGRATE", target.substr(0, target.rfind(':')),
                                target.substr(target.rfind(':') + 1), "", "0", "10000", "AUTH",
                                kPassword, "KEYS", Tagged("ask", "old"), Tagged("ask", "old2")});
  ASSERT_EQ(migrated->ToString(), "+OK");
  std::string target_id = Must(admin->RunOnNode(target, {"CLUSTER", "MYID"}));
  for (const std::string& primary : Primaries(*admin)) {
    Must(admin->RunOnNode(primary, {"CLUSTER", "SETSLOT", s, "NODE", target_id}));
  }
  EXPECT_EQ(ValueOf(client->Execute(Cmd({"GET", Tagged("ask", "old")}))), "before");
  EXPECT_EQ(client->PrimaryOf(slot), target);
  EXPECT_EQ(ValueOf(client->Execute(Cmd({"GET", Tagged("ask", "tx")}))), "t");
  EXPECT_EQ(ValueOf(client->Execute(Cmd({"GET", Tagged("ask", "old2")}))), "before+once");
}

// Last: it leaves the cluster with a dead node.
TEST(ClusterFailover, KeepsWorkingAfterAPrimaryIsKilled) {
  auto client = OpenClient();
  ASSERT_NE(client, nullptr);
  const uint16_t slot = KeySlot("{failover}");
  Result<std::vector<Reply>> written = client->RunOnSlot(
      slot, std::vector<Args>{{"SET", Tagged("failover", "k"), "kept"}, {"WAIT", "1", "5000"}});
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  ASSERT_EQ((*written)[1].integer, 1);  // the replica has it before the primary dies
  const std::string old_primary = client->PrimaryOf(slot);
  const int pid = cluster->PidOf(old_primary);
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);

  // The replica takes over after cluster-node-timeout (2 s) and an election; the same client
  // finds it by itself. Errors meanwhile are expected; a hang would be caught by ctest's timeout.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  int failed_calls = 0;
  std::string value;
  while (std::chrono::steady_clock::now() < deadline) {
    Result<Reply> reply = client->Execute(Cmd({"GET", Tagged("failover", "k")}));
    if (reply.ok() && reply->type == ReplyType::kString) {
      value = reply->str;
      break;
    }
    ++failed_calls;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(value, "kept") << "after " << failed_calls << " failed calls";
  EXPECT_NE(client->PrimaryOf(slot), old_primary);
  // Every shard takes writes again through the same client.
  std::vector<Command> batch;
  batch.reserve(300);
  for (int i = 0; i < 300; ++i) batch.push_back(Cmd({"SET", "after:" + std::to_string(i), "v"}));
  for (const Result<Reply>& reply : client->ExecuteBatch(batch)) EXPECT_EQ(Must(reply), "OK");
}

}  // namespace
}  // namespace profiled::redis

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  // GoogleTest owns and deletes the environment.
  profiled::redis::cluster = new profiled::redis::LocalCluster;
  ::testing::AddGlobalTestEnvironment(profiled::redis::cluster);
  return RUN_ALL_TESTS();
}
