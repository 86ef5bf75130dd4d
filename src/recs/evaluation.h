// Offline evaluation of one model on one split: train on split.train (timed), then for every
// evaluated user score all items from the user's history, drop the history, rank the rest and
// compare the top with the held-out items. docs/RECS.md states the protocol.
// A pure function of its inputs (apart from the training time); thread-safe.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <vector>

#include "core/status.h"
#include "recs/model.h"
#include "recs/protocol.h"

namespace profiled::recs {

constexpr size_t kCoverageCutoff = 10;

struct CutoffMetrics {
  size_t k = 0;
  double recall = 0;  // mean over evaluated users of RecallAtK
  double ndcg = 0;    // mean over evaluated users of NdcgAtK
};

struct EvalReport {
  ModelKind model = ModelKind::kEase;
  Protocol protocol = Protocol::kHoldout;
  size_t users = 0;                    // evaluated users
  int32_t items = 0;                   // the split's item space
  std::vector<CutoffMetrics> cutoffs;  // in the order of `ks`
  // Distinct items in the top 10 of the evaluated users, over `items`.
  double coverage_at_10 = 0;
  double train_seconds = 0;
  // rankings[e]: the top max(ks, 10) items of split.users[e], best first.
  std::vector<std::vector<int32_t>> rankings;
};

// Fails with InvalidArgument when ks is empty or holds 0, and with whatever TrainModel fails with.
Result<EvalReport> Evaluate(const EvalSplit& split, const ModelOptions& options,
                            std::span<const size_t> ks);

// Writes the scores of every item of the split's item space for evaluated user e
// (split.users[e]) into `scores` (size split.train.num_items()).
using UserScorer = std::function<void(size_t e, std::span<float> scores)>;

// The measurement of Evaluate for scores from `score` instead of a model: each evaluated user's
// history is dropped, the rest ranked and compared with the held-out items. report.model is
// left at its default and train_seconds at 0. REQUIRES: ks non-empty without 0.
EvalReport EvaluateScores(const EvalSplit& split, const UserScorer& score,
                          std::span<const size_t> ks);

// The same measurement for a model already trained on split.train (tests, references).
// REQUIRES: model.num_items() == split.train.num_items(); ks non-empty without 0.
EvalReport EvaluateTrained(const EvalSplit& split, const ItemModel& model,
                           std::span<const size_t> ks);

}  // namespace profiled::recs
