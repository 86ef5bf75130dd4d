#include "redis/cluster_client.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <csignal>
#include <map>
#include <thread>
#include <utility>

#include "redis/key_slot.h"

namespace profiled::redis {
namespace {

enum class RedirectKind : uint8_t { kNone, kMoved, kAsk, kTryAgain, kClusterDown };

struct Redirect {
  RedirectKind kind = RedirectKind::kNone;
  std::string address;  // MOVED and ASK: where to go
};

// Reads a redirect out of a reply: "MOVED 3999 127.0.0.1:6381", "ASK 3999 127.0.0.1:6381",
// "TRYAGAIN ...", "CLUSTERDOWN ...". A node that does not know its own endpoint sends ":6381";
// the host is then the one that answered.
Redirect ParseRedirect(const Reply& reply, const std::string& from) {
  std::string_view code = reply.error_code();
  if (code == "TRYAGAIN") return {RedirectKind::kTryAgain, {}};
  if (code == "CLUSTERDOWN") return {RedirectKind::kClusterDown, {}};
  if (code != "MOVED" && code != "ASK") return {};
  std::string_view rest = reply.str;
  size_t space = rest.rfind(' ');
  std::string address(rest.substr(space + 1));
  if (!address.empty() && address.front() == ':')
    address = from.substr(0, from.rfind(':')) + address;
  return {code == "MOVED" ? RedirectKind::kMoved : RedirectKind::kAsk, std::move(address)};
}

bool SameWord(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Whether a non-redirect reply shows that its command changed nothing, so that a group whose
// other replies are redirects may be sent again whole: MULTI's OK, a command QUEUED inside a
// transaction, the EXECABORT of a transaction that ran nothing, WAIT's count, ASKING's OK.
bool ChangedNothing(const std::vector<std::string>& args, const Reply& reply) {
  const std::string& name = args.front();
  if (SameWord(name, "MULTI") || SameWord(name, "ASKING")) return !reply.is_error();
  if (SameWord(name, "WAIT")) return true;
  if (reply.type == ReplyType::kStatus && reply.str == "QUEUED") return true;
  return reply.error_code() == "EXECABORT";
}

const std::vector<std::string>& AskingArgs() {
  static const std::vector<std::string> asking = {"ASKING"};
  return asking;
}

Status AppendCommand(Connection& connection, std::span<const std::string> args, bool asking) {
  if (asking) PROFILED_RETURN_IF_ERROR(connection.Append(AskingArgs()));
  return connection.Append(args);
}

// Reads a command's reply, and first that of the ASKING sent before it.
Result<Reply> ReadCommandReply(Connection& connection, bool asking) {
  if (asking) {
    Result<Reply> asked = connection.Read();
    if (!asked.ok()) return asked;
  }
  return connection.Read();
}

}  // namespace

// A connection taken from the pool for one caller. Gives it back when it is destroyed, unless
// the connection broke; then the node's other idle connections are dropped too (a node that
// broke one has probably broken all).
class ClusterClient::Lease {
 public:
  Lease(ClusterClient& client, std::unique_ptr<Connection> connection)
      : client_(&client), connection_(std::move(connection)) {}
  Lease(Lease&& other) noexcept = default;
  Lease& operator=(Lease&&) = delete;
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease() {
    if (connection_ != nullptr) client_->Give(std::move(connection_));
  }

  Connection& operator*() { return *connection_; }
  Connection* operator->() { return connection_.get(); }

 private:
  ClusterClient* client_;
  std::unique_ptr<Connection> connection_;
};

ClusterClient::ClusterClient(ClusterOptions options)
    : options_(std::move(options)),
      connection_options_{.connect_timeout_ms = options_.connect_timeout_ms,
                          .command_timeout_ms = options_.command_timeout_ms,
                          .password = options_.password},
      map_(std::make_shared<const SlotMap>()) {}

ClusterClient::~ClusterClient() = default;

Result<std::unique_ptr<ClusterClient>> ClusterClient::Open(ClusterOptions options) {
  if (options.seeds.empty()) return Status::InvalidArgument("redis: no seed node given");
  for (const std::string& seed : options.seeds) {
    std::string host;
    int port = 0;
    PROFILED_RETURN_IF_ERROR(SplitAddress(seed, &host, &port));
  }
  if (options.max_attempts < 1) options.max_attempts = 1;
  // hiredis writes with write(2): without this, a write to a node that died would end the
  // process with SIGPIPE instead of failing the call.
  std::signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<ClusterClient> client(new ClusterClient(std::move(options)));
  PROFILED_RETURN_IF_ERROR(client->RefreshSlots());
  return client;
}

Result<ClusterClient::Lease> ClusterClient::Take(const std::string& address) {
  {
    std::lock_guard lock(mu_);
    auto it = idle_.find(address);
    if (it != idle_.end() && !it->second.empty()) {
      std::unique_ptr<Connection> connection = std::move(it->second.back());
      it->second.pop_back();
      return Lease(*this, std::move(connection));
    }
  }
  Result<std::unique_ptr<Connection>> opened = Connection::Open(address, connection_options_);
  if (!opened.ok()) return opened.status();
  return Lease(*this, std::move(*opened));
}

void ClusterClient::Give(std::unique_ptr<Connection> connection) {
  if (connection->broken()) {
    DropIdle(connection->address());
    return;
  }
  std::lock_guard lock(mu_);
  std::vector<std::unique_ptr<Connection>>& idle = idle_[connection->address()];
  if (idle.size() < options_.max_idle_connections_per_node) idle.push_back(std::move(connection));
}

void ClusterClient::DropIdle(const std::string& address) {
  std::vector<std::unique_ptr<Connection>> dropped;  // closed outside the lock
  std::lock_guard lock(mu_);
  auto it = idle_.find(address);
  if (it != idle_.end()) dropped.swap(it->second);
}

std::shared_ptr<const SlotMap> ClusterClient::CurrentMap() {
  std::lock_guard lock(mu_);
  return map_;
}

std::string ClusterClient::PrimaryOf(uint16_t slot) { return CurrentMap()->PrimaryOf(slot); }

std::vector<std::string> ClusterClient::Nodes() { return CurrentMap()->nodes(); }

Status ClusterClient::RefreshSlots() {
  std::vector<std::string> candidates = CurrentMap()->nodes();
  for (const std::string& seed : options_.seeds) {
    if (std::find(candidates.begin(), candidates.end(), seed) == candidates.end()) {
      candidates.push_back(seed);
    }
  }
  Status failure = Status::Unavailable("redis: no node answered CLUSTER SLOTS");
  static const std::vector<std::string> cluster_slots = {"CLUSTER", "SLOTS"};
  for (const std::string& address : candidates) {
    Result<Lease> lease = Take(address);
    if (!lease.ok()) {
      // A refused password says more than an unreachable node: keep it for the caller.
      if (failure.code() != ErrorCode::kUnauthenticated) failure = lease.status();
      continue;
    }
    Result<Reply> reply = (*lease)->Call(cluster_slots);
    if (!reply.ok()) continue;
    if (reply->error_code() == "NOAUTH" || reply->error_code() == "WRONGPASS") {
      failure = Status::Unauthenticated("redis " + address + ": " + reply->str);
      continue;
    }
    if (reply->is_error()) continue;
    Result<SlotMap> map = SlotMap::FromClusterSlots(*reply, address.substr(0, address.rfind(':')));
    if (!map.ok() || map->served_slots() == 0) continue;
    auto fresh = std::make_shared<const SlotMap>(std::move(*map));
    std::lock_guard lock(mu_);
    map_ = std::move(fresh);
    return Status::Ok();
  }
  return failure;
}

void ClusterClient::RefreshAfter(const std::shared_ptr<const SlotMap>& seen) {
  std::lock_guard lock(refresh_mu_);
  if (CurrentMap() != seen) return;  // another caller reloaded it meanwhile
  (void)RefreshSlots();              // on failure the old map stays; the next attempt retries
}

void ClusterClient::Pause(int attempt) const {
  int shift = std::min(attempt - 1, 10);
  std::this_thread::sleep_for(std::chrono::milliseconds(options_.retry_delay_ms << shift));
}

Result<Reply> ClusterClient::Execute(const Command& command) {
  return std::move(ExecuteBatch(std::span<const Command>(&command, 1)).front());
}

std::vector<Result<Reply>> ClusterClient::ExecuteBatch(std::span<const Command> commands) {
  return ExecuteBatch(commands, {}, nullptr);
}

std::vector<Result<Reply>> ClusterClient::ExecuteBatch(std::span<const Command> commands,
                                                       const std::vector<std::string>& after,
                                                       std::vector<Result<Reply>>* after_replies) {
  // A command still to send: where (empty: its slot's primary in the map) and whether the node
  // must be told ASKING first.
  struct Pending {
    size_t index;
    std::string address;
    bool asking;
  };
  // A node's pipeline, sent and waiting for its replies.
  struct Flight {
    Lease lease;
    std::vector<Pending> commands;
  };

  std::vector<Result<Reply>> results(commands.size(),
                                     Result<Reply>(Status::Unavailable("redis: not sent")));
  if (after_replies != nullptr) {
    after_replies->assign(commands.size(), Result<Reply>(Status::Unavailable("redis: not sent")));
  }
  std::vector<Pending> pending;
  pending.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    if (commands[i].key_index >= commands[i].args.size()) {
      results[i] = Status::InvalidArgument("redis: command has no argument " +
                                           std::to_string(commands[i].key_index) + " to route it");
      continue;
    }
    pending.push_back({i, {}, false});
  }

  bool pause = false;
  for (int attempt = 0; attempt < options_.max_attempts && !pending.empty(); ++attempt) {
    if (pause) Pause(attempt);
    pause = false;
    bool refresh = false;
    std::shared_ptr<const SlotMap> map = CurrentMap();
    std::vector<Pending> retry;

    std::map<std::string, std::vector<Pending>> by_node;
    for (Pending& p : pending) {
      // An earlier attempt's reply to `after` (another node's, or this node's before a retry)
      // says nothing about this attempt's writes.
      if (after_replies != nullptr)
        (*after_replies)[p.index] = Status::Unavailable("redis: not sent");
      const Command& command = commands[p.index];
      uint16_t slot = KeySlot(command.args[command.key_index]);
      std::string address = p.address.empty() ? map->PrimaryOf(slot) : p.address;
      if (address.empty()) {
        results[p.index] =
            Status::Unavailable("redis: slot " + std::to_string(slot) + " has no primary");
        retry.push_back(std::move(p));
        refresh = pause = true;
        continue;
      }
      by_node[address].push_back(std::move(p));
    }

    // Send every node's pipeline before reading any reply, so the nodes work in parallel.
    std::vector<Flight> flights;
    for (auto& [address, group] : by_node) {
      Result<Lease> lease = Take(address);
      if (!lease.ok()) {
        // Nothing was sent: safe to try again, at the slot's primary in a reloaded map.
        bool retryable = lease.status().code() == ErrorCode::kUnavailable;
        for (Pending& p : group) {
          results[p.index] = lease.status();
          if (retryable) retry.push_back({p.index, {}, false});
        }
        if (retryable) refresh = pause = true;
        continue;
      }
      Status sent = Status::Ok();
      for (const Pending& p : group) {
        if (sent.ok()) sent = AppendCommand(**lease, commands[p.index].args, p.asking);
      }
      if (sent.ok() && !after.empty()) sent = AppendCommand(**lease, after, false);
      if (sent.ok()) sent = (*lease)->Flush();
      if (!sent.ok()) {
        for (const Pending& p : group) {
          results[p.index] = sent;  // may have run: not retried
          if (after_replies != nullptr) (*after_replies)[p.index] = sent;
        }
        refresh = true;
        continue;
      }
      flights.push_back({std::move(*lease), std::move(group)});
    }

    for (Flight& flight : flights) {
      bool read_all = true;
      for (size_t k = 0; k < flight.commands.size(); ++k) {
        Pending& p = flight.commands[k];
        const size_t index = p.index;
        Result<Reply> reply = ReadCommandReply(*flight.lease, p.asking);
        if (!reply.ok()) {
          for (size_t rest = k; rest < flight.commands.size(); ++rest) {
            results[flight.commands[rest].index] = reply.status();
          }
          // No reply to `after` either, for any command of the flight (those read before this
          // one included: their writes may be on the primary only).
          if (after_replies != nullptr) {
            for (const Pending& sent_p : flight.commands) {
              (*after_replies)[sent_p.index] = reply.status();
            }
          }
          refresh = true;
          read_all = false;
          break;
        }
        Redirect redirect = ParseRedirect(*reply, flight.lease->address());
        switch (redirect.kind) {
          case RedirectKind::kNone: results[index] = std::move(*reply); continue;
          case RedirectKind::kMoved:
            retry.push_back({index, std::move(redirect.address), false});
            refresh = true;
            break;
          case RedirectKind::kAsk:
            retry.push_back({index, std::move(redirect.address), true});
            break;
          case RedirectKind::kTryAgain:
            retry.push_back(std::move(p));
            pause = true;
            break;
          case RedirectKind::kClusterDown:
            retry.push_back({index, {}, false});
            refresh = pause = true;
            break;
        }
        results[index] =
            Status::Unavailable("redis: gave up after " + std::to_string(options_.max_attempts) +
                                " attempts; last reply: " + reply->str);
      }
      if (read_all && !after.empty()) {
        Result<Reply> after_reply = ReadCommandReply(*flight.lease, false);
        if (!after_reply.ok()) refresh = true;
        if (after_replies != nullptr) {
          for (const Pending& p : flight.commands) (*after_replies)[p.index] = after_reply;
        }
      }
    }
    flights.clear();  // back to the pool before the reload takes one
    if (refresh) RefreshAfter(map);
    pending = std::move(retry);
  }
  return results;
}

Result<std::vector<Reply>> ClusterClient::RunOnSlot(
    uint16_t slot, std::span<const std::vector<std::string>> commands) {
  if (slot >= kSlotCount) return Status::InvalidArgument("redis: no slot " + std::to_string(slot));
  for (const std::vector<std::string>& args : commands) {
    if (args.empty()) return Status::InvalidArgument("redis: empty command");
  }
  std::string redirected;  // where a redirect sent the group; empty: the slot's primary
  bool asking = false;
  bool pause = false;
  Status failure = Status::Unavailable("redis: slot " + std::to_string(slot) + ": not sent");
  for (int attempt = 0; attempt < options_.max_attempts; ++attempt) {
    if (pause) Pause(attempt);
    pause = false;
    std::shared_ptr<const SlotMap> map = CurrentMap();
    std::string address = redirected.empty() ? map->PrimaryOf(slot) : redirected;
    if (address.empty()) {
      failure = Status::Unavailable("redis: slot " + std::to_string(slot) + " has no primary");
      RefreshAfter(map);
      pause = true;
      continue;
    }
    std::vector<Reply> replies;
    {
      Result<Lease> lease = Take(address);
      if (!lease.ok()) {
        if (lease.status().code() != ErrorCode::kUnavailable) return lease.status();
        failure = lease.status();
        redirected.clear();
        asking = false;
        RefreshAfter(map);
        pause = true;
        continue;
      }
      // ASKING holds for one command, or for a whole transaction when sent before MULTI; inside
      // one it would be queued and answer in EXEC's reply, so it is not sent there.
      std::vector<bool> asked(commands.size(), false);
      bool in_transaction = false;
      for (size_t i = 0; i < commands.size(); ++i) {
        const std::string& name = commands[i].front();
        asked[i] = asking && !in_transaction;
        if (SameWord(name, "MULTI")) in_transaction = true;
        if (SameWord(name, "EXEC") || SameWord(name, "DISCARD")) in_transaction = false;
        PROFILED_RETURN_IF_ERROR(AppendCommand(**lease, commands[i], asked[i]));
      }
      PROFILED_RETURN_IF_ERROR((*lease)->Flush());
      replies.reserve(commands.size());
      for (size_t i = 0; i < commands.size(); ++i) {
        Result<Reply> reply = ReadCommandReply(**lease, asked[i]);
        if (!reply.ok()) {
          // The node may have run part of the group: the caller decides what to do.
          RefreshAfter(map);
          return reply.status();
        }
        replies.push_back(std::move(*reply));
      }
    }

    Redirect moved, ask;
    bool try_again = false, cluster_down = false, nothing_ran = true;
    for (size_t i = 0; i < replies.size(); ++i) {
      Redirect redirect = ParseRedirect(replies[i], address);
      switch (redirect.kind) {
        case RedirectKind::kNone:
          if (!ChangedNothing(commands[i], replies[i])) nothing_ran = false;
          break;
        case RedirectKind::kMoved: moved = std::move(redirect); break;
        case RedirectKind::kAsk: ask = std::move(redirect); break;
        case RedirectKind::kTryAgain: try_again = true; break;
        case RedirectKind::kClusterDown: cluster_down = true; break;
      }
    }
    bool redirected_any = moved.kind != RedirectKind::kNone || ask.kind != RedirectKind::kNone ||
                          try_again || cluster_down;
    if (!redirected_any) return replies;
    if (moved.kind != RedirectKind::kNone || cluster_down) RefreshAfter(map);
    if (!nothing_ran) return replies;

    failure = Status::Unavailable("redis: slot " + std::to_string(slot) + ": gave up after " +
                                  std::to_string(options_.max_attempts) + " attempts");
    if (moved.kind != RedirectKind::kNone) {
      redirected = std::move(moved.address);
      asking = false;
    } else if (cluster_down) {
      redirected.clear();
      asking = false;
      pause = true;
    } else if (ask.kind != RedirectKind::kNone && !try_again) {
      // Some of the group's keys have left for the importing node. If others have not, that
      // node answers a transaction over them with TRYAGAIN (Redis checks that every key of a
      // multi-key command or transaction is there), so nothing runs split across the two.
      redirected = std::move(ask.address);
      asking = true;
    } else {
      pause = true;  // TRYAGAIN: a migration is moving the group's keys; wait
    }
  }
  return failure;
}

Result<Reply> ClusterClient::RunOnNode(const std::string& address,
                                       const std::vector<std::string>& args) {
  Result<Lease> lease = Take(address);
  if (!lease.ok()) return lease.status();
  return (*lease)->Call(args);
}

}  // namespace profiled::redis
