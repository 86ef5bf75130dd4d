#include "recs/evidence_eval.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <new>
#include <span>
#include <string_view>

#include "recs/blend.h"
#include "recs/ials.h"
#include "recs/split_random.h"

namespace profiled::recs {

namespace {

constexpr std::string_view kParameterNames =
    "lambda, emphasis, popularity_exponent, rating_weight, high_weight, low_weight, ials_weight, "
    "factors, alpha0, ials_lambda, reg_exponent, epochs, seed, ials_confidence";
// Those also of blend, which ModelOptionsFrom reads.
constexpr std::array<std::string_view, 8> kSharedNames = {
    "popularity_exponent", "ials_weight",  "factors", "alpha0",
    "ials_lambda",         "reg_exponent", "epochs",  "seed"};

// What a row (or a query) brings: its evidence for EvidenceEaseModel and its kept positives
// weighted by their iALS confidence.
struct RowWeights {
  std::vector<WeightedItem> evidence;
  std::vector<WeightedItem> confident;  // the kept positives, in order
};

// The weights of a row whose ratings are `rated` and whose kept positives are `kept` (both
// sorted by item). A positive not kept (held out) brings nothing.
RowWeights WeighRow(std::span<const RatedItem> rated, std::span<const int32_t> kept,
                    const EvidenceOptions& o, double min_rating) {
  RowWeights out;
  size_t k = 0;
  for (const RatedItem& r : rated) {
    while (k < kept.size() && kept[k] < r.item) ++k;
    double weight = 0;
    if (k < kept.size() && kept[k] == r.item) {
      weight = 1 + o.rating_weight * (r.rating - min_rating);
      out.confident.push_back(
          {r.item, static_cast<float>(1 + o.ials_confidence * (r.rating - min_rating))});
    } else if (r.rating >= min_rating) {
      continue;
    } else {
      weight = r.rating >= min_rating - 1 ? o.high_weight : o.low_weight;
    }
    if (weight != 0) out.evidence.push_back({r.item, static_cast<float>(weight)});
  }
  return out;
}

// The weights of every training row of s.
std::vector<RowWeights> TrainingRows(const RatedSplit& s, const EvidenceOptions& o) {
  const Interactions& train = s.split.train;
  std::vector<RowWeights> rows;
  rows.reserve(static_cast<size_t>(train.num_users()));
  for (int32_t r = 0; r < train.num_users(); ++r) {
    rows.push_back(
        WeighRow(s.train_rated[static_cast<size_t>(r)], train.items_of(r), o, s.min_rating));
  }
  return rows;
}

// Scores of every evaluated user (rows of a users × items matrix, row-major).
using ScoreMatrix = std::vector<float>;

// Trains the evidence EASE part on split.train and scores every evaluated user; adds the
// training time to *seconds.
Result<ScoreMatrix> EaseScores(const RatedSplit& s, const EvidenceOptions& o, double* seconds) {
  const Interactions& train = s.split.train;
  auto start = std::chrono::steady_clock::now();
  std::vector<std::vector<WeightedItem>> inputs;
  for (RowWeights& row : TrainingRows(s, o)) inputs.push_back(std::move(row.evidence));
  Result<std::unique_ptr<EvidenceEaseModel>> model =
      EvidenceEaseModel::Train(train, inputs, o.ease);
  if (!model.ok()) return model.status();
  *seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto m = static_cast<size_t>(train.num_items());
  ScoreMatrix scores(s.split.users.size() * m);
  for (size_t e = 0; e < s.split.users.size(); ++e) {
    RowWeights q = WeighRow(s.user_rated[e], s.split.users[e].history, o, s.min_rating);
    (*model)->Score(q.evidence, std::span<float>(scores).subspan(e * m, m));
  }
  return scores;
}

// Every evaluated user's history marked in a users × items matrix.
std::vector<uint8_t> SeenMatrix(const EvalSplit& split) {
  const auto m = static_cast<size_t>(split.train.num_items());
  std::vector<uint8_t> seen(split.users.size() * m, 0);
  for (size_t e = 0; e < split.users.size(); ++e) {
    for (int32_t i : split.users[e].history) seen[e * m + static_cast<size_t>(i)] = 1;
  }
  return seen;
}

// Trains iALS with the rows' confidences and scores every evaluated user, each row of scores
// standardised over the items outside the user's history; adds the training time to *seconds.
Result<ScoreMatrix> IalsScores(const RatedSplit& s, const EvidenceOptions& o, double* seconds) {
  const Interactions& train = s.split.train;
  auto start = std::chrono::steady_clock::now();
  std::vector<std::vector<float>> confidences;
  for (const RowWeights& row : TrainingRows(s, o)) {
    std::vector<float>& c = confidences.emplace_back();
    for (const WeightedItem& item : row.confident) c.push_back(item.weight);
  }
  Result<std::unique_ptr<IalsModel>> model = IalsModel::Train(train, o.ials, confidences);
  if (!model.ok()) return model.status();
  *seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto m = static_cast<size_t>(train.num_items());
  ScoreMatrix scores(s.split.users.size() * m);
  const std::vector<uint8_t> seen = SeenMatrix(s.split);
  for (size_t e = 0; e < s.split.users.size(); ++e) {
    RowWeights q = WeighRow(s.user_rated[e], s.split.users[e].history, o, s.min_rating);
    std::span<float> row = std::span<float>(scores).subspan(e * m, m);
    (*model)->ScoreWeighted(q.confident, row);
    Standardise(row, std::span<const uint8_t>(seen).subspan(e * m, m));
  }
  return scores;
}

// The measurement of the blend of `ease` (raw) and `ials` (standardised; null when ω = 0).
EvalReport Measure(const EvalSplit& split, const ScoreMatrix& ease, const ScoreMatrix* ials,
                   double ials_weight, std::span<const size_t> ks) {
  const auto m = static_cast<size_t>(split.train.num_items());
  std::vector<uint8_t> seen(m, 0);
  return EvaluateScores(
      split,
      [&](size_t e, std::span<float> scores) {
        std::copy_n(ease.begin() + static_cast<ptrdiff_t>(e * m), m, scores.begin());
        if (ials == nullptr) return;
        for (int32_t i : split.users[e].history) seen[static_cast<size_t>(i)] = 1;
        Standardise(scores, seen);
        for (int32_t i : split.users[e].history) seen[static_cast<size_t>(i)] = 0;
        const auto w = static_cast<float>(ials_weight);
        const float* other = ials->data() + e * m;
        for (size_t j = 0; j < m; ++j) scores[j] = (1.0F - w) * scores[j] + w * other[j];
      },
      ks);
}

// A key that tells two option sets' EASE parts (with the weights that feed them) apart.
std::string EaseKey(const EvidenceOptions& o) {
  char key[200];
  std::snprintf(key, sizeof(key), "%.17g %.17g %.17g %.17g %.17g %.17g", o.ease.lambda,
                o.ease.emphasis, o.ease.popularity_exponent, o.rating_weight, o.high_weight,
                o.low_weight);
  return key;
}

// The same for the iALS part.
std::string IalsKey(const EvidenceOptions& o) {
  const IalsOptions& i = o.ials;
  char key[200];
  std::snprintf(key, sizeof(key), "%d %.17g %.17g %.17g %d %llu %.17g", i.factors, i.alpha0,
                i.lambda, i.reg_exponent, i.epochs, static_cast<unsigned long long>(i.seed),
                o.ials_confidence);
  return key;
}

}  // namespace

RatedSplit AttachRatings(EvalSplit split, const std::vector<Rating>& ratings,
                         const Positives& positives, double min_rating) {
  RatedSplit out;
  out.min_rating = min_rating;
  // Every rating of a user with a positive, on an item with a positive, in positives' indices.
  std::vector<std::vector<RatedItem>> by_user(positives.user_ids.size());
  for (const Rating& r : ratings) {
    auto u = std::lower_bound(positives.user_ids.begin(), positives.user_ids.end(), r.user);
    auto i = std::lower_bound(positives.item_ids.begin(), positives.item_ids.end(), r.item);
    if (u == positives.user_ids.end() || *u != r.user || i == positives.item_ids.end() ||
        *i != r.item) {
      continue;
    }
    by_user[static_cast<size_t>(u - positives.user_ids.begin())].push_back(
        {static_cast<int32_t>(i - positives.item_ids.begin()), static_cast<float>(r.rating)});
  }
  std::vector<int32_t> space(positives.item_ids.size(), -1);  // positives' item → split's
  for (size_t k = 0; k < split.item_of.size(); ++k) {
    space[static_cast<size_t>(split.item_of[k])] = static_cast<int32_t>(k);
  }
  auto rated_of = [&](int32_t user) {
    std::vector<RatedItem> rated;
    for (const RatedItem& r : by_user[static_cast<size_t>(user)]) {
      if (int32_t k = space[static_cast<size_t>(r.item)]; k >= 0) rated.push_back({k, r.rating});
    }
    // One rating per item, the highest: PositivesOf makes a pair rated more than once a
    // positive when any of its ratings is, and its evidence must agree.
    std::sort(rated.begin(), rated.end(), [](const RatedItem& a, const RatedItem& b) {
      return a.item < b.item || (a.item == b.item && a.rating > b.rating);
    });
    rated.erase(
        std::unique(rated.begin(), rated.end(),
                    [](const RatedItem& a, const RatedItem& b) { return a.item == b.item; }),
        rated.end());
    return rated;
  };
  for (int32_t user : split.train_user) out.train_rated.push_back(rated_of(user));
  for (const EvalUser& user : split.users) out.user_rated.push_back(rated_of(user.user));
  out.split = std::move(split);
  return out;
}

Result<EvidenceOptions> EvidenceOptionsFrom(
    const std::vector<std::pair<std::string, std::string>>& params) {
  EvidenceOptions o;
  // The parameters shared with blend are read by ModelOptionsFrom, from evidence's defaults.
  std::vector<std::pair<std::string, std::string>> shared = {
      {"popularity_exponent", "0"}, {"factors", "64"}, {"ials_weight", "0"}};
  for (const auto& [name, text] : params) {
    double* own = name == "lambda"            ? &o.ease.lambda
                  : name == "emphasis"        ? &o.ease.emphasis
                  : name == "rating_weight"   ? &o.rating_weight
                  : name == "high_weight"     ? &o.high_weight
                  : name == "low_weight"      ? &o.low_weight
                  : name == "ials_confidence" ? &o.ials_confidence
                                              : nullptr;
    if (own != nullptr) {
      const bool lambda = name == "lambda";
      Result<double> v = ParameterIn(name, text, lambda ? -1e308 : 0, lambda ? 1e308 : 100);
      if (!v.ok()) return v.status();
      if (lambda && !(*v > 0 && *v <= 1e7)) {
        return Status::InvalidArgument("parameter lambda must be in (0, 10000000]");
      }
      *own = *v;
    } else if (std::find(kSharedNames.begin(), kSharedNames.end(), name) != kSharedNames.end()) {
      shared.emplace_back(name, text);
    } else {
      return Status::InvalidArgument("model evidence has no parameter \"" + name +
                                     "\" (its parameters: " + std::string(kParameterNames) + ")");
    }
  }
  Result<ModelOptions> blend = ModelOptionsFrom(ModelKind::kBlend, shared);
  if (!blend.ok()) return blend.status();
  o.ease.popularity_exponent = blend->popularity_exponent;
  o.ials = blend->ials;
  o.ials_weight = blend->ials_weight;
  return o;
}

Result<std::vector<EvidenceCandidate>> ExpandEvidenceGrid(
    const std::vector<ParameterValues>& grid) {
  Result<std::vector<std::vector<std::pair<std::string, std::string>>>> points = GridPoints(grid);
  if (!points.ok()) return points.status();
  std::vector<EvidenceCandidate> candidates;
  for (auto& point : *points) {
    Result<EvidenceOptions> options = EvidenceOptionsFrom(point);
    if (!options.ok()) return options.status();
    candidates.push_back({std::move(point), *options});
  }
  return candidates;
}

Result<EvalReport> EvaluateEvidence(const RatedSplit& split, const EvidenceOptions& options,
                                    std::span<const size_t> ks) {
  if (ks.empty() || std::find(ks.begin(), ks.end(), size_t{0}) != ks.end()) {
    return Status::InvalidArgument("cutoffs k must be positive integers");
  }
  try {
    double seconds = 0;
    Result<ScoreMatrix> ease = EaseScores(split, options, &seconds);
    if (!ease.ok()) return ease.status();
    Result<ScoreMatrix> ials = ScoreMatrix();
    if (options.ials_weight > 0) {
      ials = IalsScores(split, options, &seconds);
      if (!ials.ok()) return ials.status();
    }
    EvalReport report = Measure(split.split, *ease, options.ials_weight > 0 ? &*ials : nullptr,
                                options.ials_weight, ks);
    report.train_seconds = seconds;
    return report;
  } catch (const std::bad_alloc&) {
    return Status::Internal("evidence: out of memory");
  }
}

RatedSplit EvidenceFold(const RatedSplit& parent, uint64_t seed, int32_t fold, double share) {
  SplitRandom random(ValidationSeed(seed, fold));
  const Interactions& train = parent.split.train;
  RatedSplit out;
  out.min_rating = parent.min_rating;
  out.split.protocol = parent.split.protocol;
  for (int32_t i = 0; i < train.num_items(); ++i) out.split.item_of.push_back(i);
  std::vector<std::vector<int32_t>> rows;
  // Splits row r's positives: `held` of them, drawn at random, held out for evaluation.
  auto evaluate = [&](int32_t r, size_t held) {
    std::vector<int32_t> items(train.items_of(r).begin(), train.items_of(r).end());
    random.Shuffle(&items);
    EvalUser user;
    user.user = r;
    user.held_out.assign(items.begin(), items.begin() + static_cast<ptrdiff_t>(held));
    user.history.assign(items.begin() + static_cast<ptrdiff_t>(held), items.end());
    std::sort(user.held_out.begin(), user.held_out.end());
    std::sort(user.history.begin(), user.history.end());
    return user;
  };
  auto add_row = [&](int32_t r, std::vector<int32_t> items) {
    rows.push_back(std::move(items));
    out.split.train_user.push_back(r);
    out.train_rated.push_back(parent.train_rated[static_cast<size_t>(r)]);
  };
  auto add_user = [&](EvalUser user) {
    out.user_rated.push_back(parent.train_rated[static_cast<size_t>(user.user)]);
    out.split.users.push_back(std::move(user));
  };
  if (parent.split.protocol == Protocol::kHoldout) {
    for (int32_t r = 0; r < train.num_users(); ++r) {
      const auto held =
          static_cast<size_t>(std::floor(share * static_cast<double>(train.items_of(r).size())));
      EvalUser user = evaluate(r, held);
      add_row(r, user.history);
      if (held > 0) add_user(std::move(user));
    }
  } else {
    std::vector<int32_t> eligible;
    for (int32_t r = 0; r < train.num_users(); ++r) {
      if (train.items_of(r).size() >= kMinPositivesToEvaluate) eligible.push_back(r);
    }
    random.Shuffle(&eligible);
    const auto drawn =
        static_cast<size_t>(std::floor(share * static_cast<double>(eligible.size())));
    std::vector<uint8_t> held_out(static_cast<size_t>(train.num_users()), 0);
    for (size_t k = 0; k < drawn; ++k) held_out[static_cast<size_t>(eligible[k])] = 1;
    for (int32_t r = 0; r < train.num_users(); ++r) {
      if (held_out[static_cast<size_t>(r)] == 0) {
        std::span<const int32_t> items = train.items_of(r);
        add_row(r, std::vector<int32_t>(items.begin(), items.end()));
      } else {
        add_user(evaluate(r, train.items_of(r).size() / kHeldOutShareDivisor));
      }
    }
  }
  out.split.train = Interactions::FromUserItems(train.num_items(), std::move(rows)).value();
  return out;
}

Result<Selection> SelectEvidence(const RatedSplit& split, uint64_t seed,
                                 const std::vector<EvidenceCandidate>& candidates, int32_t folds,
                                 double share, const ValidationObserver& observer) {
  if (candidates.empty()) return Status::InvalidArgument("no candidate to select from");
  if (folds < 1) return Status::InvalidArgument("validation folds must be ≥ 1");
  if (!(share > 0 && share <= 0.5)) {
    return Status::InvalidArgument("the validation share must be in (0, 0.5]");
  }
  Selection selection;
  selection.validation_ndcg.assign(candidates.size(), 0.0);
  const std::vector<size_t> ks = {kSelectionCutoff};
  try {
    for (int32_t fold = 0; fold < folds; ++fold) {
      RatedSplit validation = EvidenceFold(split, seed, fold, share);
      if (validation.split.users.empty()) {
        return Status::InvalidArgument("the training data leaves no user to validate on");
      }
      selection.validation_users += validation.split.users.size();
      // Candidates next to each other in grid order often share their EASE part (the blend
      // weight varies fastest), and every candidate of a fold one iALS part.
      std::string ease_key;
      ScoreMatrix ease;
      std::map<std::string, ScoreMatrix> ials;
      for (size_t c = 0; c < candidates.size(); ++c) {
        const EvidenceOptions& o = candidates[c].options;
        double seconds = 0;  // what this candidate trained anew
        if (std::string key = EaseKey(o); key != ease_key) {
          Result<ScoreMatrix> scores = EaseScores(validation, o, &seconds);
          if (!scores.ok()) return scores.status();
          ease = std::move(*scores);
          ease_key = std::move(key);
        }
        const ScoreMatrix* blend = nullptr;
        if (o.ials_weight > 0) {
          std::string key = IalsKey(o);
          auto it = ials.find(key);
          if (it == ials.end()) {
            Result<ScoreMatrix> scores = IalsScores(validation, o, &seconds);
            if (!scores.ok()) return scores.status();
            it = ials.emplace(key, std::move(*scores)).first;
          }
          blend = &it->second;
        }
        EvalReport report = Measure(validation.split, ease, blend, o.ials_weight, ks);
        report.train_seconds = seconds;
        selection.validation_ndcg[c] += report.cutoffs[0].ndcg / folds;
        if (observer) observer(c, fold, report);
      }
    }
  } catch (const std::bad_alloc&) {
    return Status::Internal("evidence: out of memory");
  }
  for (size_t c = 1; c < candidates.size(); ++c) {
    if (selection.validation_ndcg[c] > selection.validation_ndcg[selection.chosen]) {
      selection.chosen = c;
    }
  }
  return selection;
}

}  // namespace profiled::recs
