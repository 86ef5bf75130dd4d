#include "recs/protocol.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <span>
#include <utility>

#include "recs/split_random.h"

namespace profiled::recs {

std::string_view ProtocolName(Protocol protocol) {
  return protocol == Protocol::kHoldout ? "holdout" : "strong";
}

Result<Protocol> ParseProtocol(std::string_view name) {
  if (name == "holdout") return Protocol::kHoldout;
  if (name == "strong") return Protocol::kStrong;
  return Status::InvalidArgument("unknown protocol \"" + std::string(name) +
                                 "\" (expected holdout or strong)");
}

namespace {

// Splits one user's items: floor(n / 5) drawn at random are held out, the rest is history.
// Users with fewer than 5 items hold out nothing.
void SplitUserItems(std::span<const int32_t> items, SplitRandom* random, EvalUser* out) {
  std::vector<int32_t> shuffled(items.begin(), items.end());
  size_t held =
      shuffled.size() >= kMinPositivesToEvaluate ? shuffled.size() / kHeldOutShareDivisor : 0;
  random->Shuffle(&shuffled);
  out->held_out.assign(shuffled.begin(), shuffled.begin() + static_cast<ptrdiff_t>(held));
  out->history.assign(shuffled.begin() + static_cast<ptrdiff_t>(held), shuffled.end());
  std::sort(out->held_out.begin(), out->held_out.end());
  std::sort(out->history.begin(), out->history.end());
}

EvalSplit Holdout(const Interactions& positives, uint64_t seed) {
  SplitRandom random(seed);
  EvalSplit split;
  split.protocol = Protocol::kHoldout;
  std::vector<std::vector<int32_t>> train(static_cast<size_t>(positives.num_users()));
  for (int32_t u = 0; u < positives.num_users(); ++u) {
    EvalUser user;
    user.user = u;
    SplitUserItems(positives.items_of(u), &random, &user);
    train[static_cast<size_t>(u)] = user.history;
    split.train_user.push_back(u);
    if (!user.held_out.empty()) split.users.push_back(std::move(user));
  }
  split.train = Interactions::FromUserItems(positives.num_items(), std::move(train)).value();
  split.item_of.resize(static_cast<size_t>(positives.num_items()));
  for (int32_t i = 0; i < positives.num_items(); ++i) split.item_of[static_cast<size_t>(i)] = i;
  return split;
}

EvalSplit Strong(const Interactions& positives, uint64_t seed) {
  SplitRandom random(seed);
  EvalSplit split;
  split.protocol = Protocol::kStrong;
  std::vector<int32_t> eligible;
  for (int32_t u = 0; u < positives.num_users(); ++u) {
    if (positives.items_of(u).size() >= kMinPositivesToEvaluate) eligible.push_back(u);
  }
  random.Shuffle(&eligible);
  std::vector<uint8_t> held_out_user(static_cast<size_t>(positives.num_users()), 0);
  const size_t held_users = eligible.size() / kHeldOutShareDivisor;
  for (size_t r = 0; r < held_users; ++r) held_out_user[static_cast<size_t>(eligible[r])] = 1;

  // The item space is what the training users interacted with, numbered in positives order.
  std::vector<int32_t> compact(static_cast<size_t>(positives.num_items()), -1);
  for (int32_t u = 0; u < positives.num_users(); ++u) {
    if (held_out_user[static_cast<size_t>(u)] != 0) continue;
    for (int32_t i : positives.items_of(u)) compact[static_cast<size_t>(i)] = 0;
  }
  for (int32_t i = 0; i < positives.num_items(); ++i) {
    if (compact[static_cast<size_t>(i)] < 0) continue;
    compact[static_cast<size_t>(i)] = static_cast<int32_t>(split.item_of.size());
    split.item_of.push_back(i);
  }

  std::vector<std::vector<int32_t>> train;
  // Held-out users are split in ascending user order, after the draw of users, so the fold-in
  // of one user does not depend on which others were drawn beyond the stream position.
  for (int32_t u = 0; u < positives.num_users(); ++u) {
    std::vector<int32_t> items;
    for (int32_t i : positives.items_of(u)) {
      if (int32_t c = compact[static_cast<size_t>(i)]; c >= 0) items.push_back(c);
    }
    if (held_out_user[static_cast<size_t>(u)] == 0) {
      train.push_back(std::move(items));
      split.train_user.push_back(u);
      continue;
    }
    EvalUser user;
    user.user = u;
    SplitUserItems(items, &random, &user);
    if (!user.held_out.empty()) split.users.push_back(std::move(user));
  }
  split.train =
      Interactions::FromUserItems(static_cast<int32_t>(split.item_of.size()), std::move(train))
          .value();
  return split;
}

}  // namespace

EvalSplit MakeSplit(const Interactions& positives, Protocol protocol, uint64_t seed) {
  return protocol == Protocol::kHoldout ? Holdout(positives, seed) : Strong(positives, seed);
}

Status WriteSplit(const EvalSplit& split, uint64_t seed, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IoError("cannot create " + dir + ": " + ec.message());
  auto write = [&dir](const std::string& name, const std::string& text) -> Status {
    std::string path = (std::filesystem::path(dir) / name).string();
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) return Status::IoError("cannot write " + path);
    return Status::Ok();
  };
  std::string train;
  for (int32_t u = 0; u < split.train.num_users(); ++u) {
    for (int32_t i : split.train.items_of(u)) {
      train += std::to_string(u) + '\t' + std::to_string(i) + '\n';
    }
  }
  PROFILED_RETURN_IF_ERROR(write("train.tsv", train));
  std::string history, held_out;
  for (size_t e = 0; e < split.users.size(); ++e) {
    for (int32_t i : split.users[e].history) {
      history += std::to_string(e) + '\t' + std::to_string(i) + '\n';
    }
    for (int32_t i : split.users[e].held_out) {
      held_out += std::to_string(e) + '\t' + std::to_string(i) + '\n';
    }
  }
  PROFILED_RETURN_IF_ERROR(write("history.tsv", history));
  PROFILED_RETURN_IF_ERROR(write("held_out.tsv", held_out));
  std::string meta = "{\"protocol\":\"" + std::string(ProtocolName(split.protocol)) +
                     "\",\"seed\":" + std::to_string(seed) +
                     ",\"train_rows\":" + std::to_string(split.train.num_users()) +
                     ",\"items\":" + std::to_string(split.train.num_items()) +
                     ",\"users\":" + std::to_string(split.users.size()) + "}\n";
  return write("split.json", meta);
}

}  // namespace profiled::recs
