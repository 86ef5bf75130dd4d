// Offline evaluation protocols: how a set of positives is split into what a model trains on
// and what it is asked to find. docs/RECS.md states them in full.
//
//  - holdout: every user with n ≥ 5 positives has floor(n / 5) of them (20 %) drawn at random
//    and held out; the model trains on every other positive of every user; each such user is
//    evaluated with their training items as history, ranking all items they did not train on.
//  - strong (strong generalization, Liang et al. 2018, Steck 2019): floor(20 %) of the users
//    with ≥ 5 positives are drawn as held-out users; the model trains on the other users only,
//    over the items those users interacted with (held-out users' other items are dropped);
//    each held-out user with n ≥ 5 remaining items has floor(n / 5) of them drawn as test items
//    and the rest (the fold-in, ≈ 80 %) given as history.
//
// Draws use a 64-bit Mersenne Twister seeded with `seed` and the library's own bounded-integer
// and shuffle code (recs/split_random.h), so a split depends only on the data and the seed, on any
// platform. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "recs/interactions.h"

namespace profiled::recs {

enum class Protocol { kHoldout, kStrong };

std::string_view ProtocolName(Protocol protocol);  // "holdout", "strong"
Result<Protocol> ParseProtocol(std::string_view name);

constexpr int32_t kMinPositivesToEvaluate = 5;
constexpr int32_t kHeldOutShareDivisor = 5;  // 1/5 = 20 % of a user's items, or of the users

// One evaluated user: what the model sees (history) and what it should find (held_out), both
// sorted item indices of the split's item space, disjoint, held_out non-empty.
struct EvalUser {
  int32_t user = 0;  // the user's index in the positives the split was made from
  std::vector<int32_t> history;
  std::vector<int32_t> held_out;
};

struct EvalSplit {
  Protocol protocol = Protocol::kHoldout;
  Interactions train;  // what the model trains on; its num_items() is the split's item space
  std::vector<EvalUser> users;
  // item_of[i]: the index in the positives of the split's item i (identity for holdout).
  std::vector<int32_t> item_of;
  // train_user[r]: the index in the positives of the user of training row r (identity for
  // holdout; the training users in ascending order for strong).
  std::vector<int32_t> train_user;
};

EvalSplit MakeSplit(const Interactions& positives, Protocol protocol, uint64_t seed);

// Writes the split to directory `dir` (created if missing) as tab-separated index pairs, for
// reference implementations (bench/ease_reference.py): train.tsv ("row item" per positive the
// model trains on), history.tsv and held_out.tsv ("evaluated-user item", evaluated users
// numbered 0.. in split order), and split.json ({"protocol", "seed", "train_rows", "items",
// "users"}). Fails with IoError naming the file.
Status WriteSplit(const EvalSplit& split, uint64_t seed, const std::string& dir);

}  // namespace profiled::recs
