// Hyper-parameter selection on validation data carved from a split's *training* data, never
// from its held-out items: the split's protocol is applied once more, to split.train, with a
// seed derived from the split's (ValidationSeed), giving a validation split of the same kind
// (holdout: 20 % of every training user's training items held out; strong: 20 % of the training
// users held out, each with an 80 % fold-in). Every candidate of a grid is trained on that
// validation split's training part and scored by mean NDCG@10 on its held-out part; the best
// wins (ties to the earlier candidate), and only then is it trained on the whole split.train
// and measured once on the test items. docs/RECS.md, "Beyond plain EASE", states the procedure.
//
// Pure functions of their inputs; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "recs/evaluation.h"
#include "recs/model.h"
#include "recs/protocol.h"

namespace profiled::recs {

constexpr size_t kSelectionCutoff = 10;  // candidates are compared by NDCG@10

// A parameter and the values to try, as written on the command line ("lambda", {"0.01", "0.02"}).
struct ParameterValues {
  std::string name;
  std::vector<std::string> values;
};

// One point of a grid: its parameters (one value each, in grid order) and the options they give.
struct Candidate {
  std::vector<std::pair<std::string, std::string>> params;
  ModelOptions options;
};

// Every combination of the values as (name, value) lists, the first parameter varying slowest;
// no parameters give one empty point. Fails with InvalidArgument when a parameter has no value
// or appears twice.
Result<std::vector<std::vector<std::pair<std::string, std::string>>>> GridPoints(
    const std::vector<ParameterValues>& grid);

// Every combination of the values, the first parameter varying slowest. No parameters give
// one candidate, the model's defaults. Fails with InvalidArgument when a parameter has no value,
// appears twice, or a combination is invalid for `kind` (ModelOptionsFrom's message).
Result<std::vector<Candidate>> ExpandGrid(ModelKind kind, const std::vector<ParameterValues>& grid);

// The seed of validation fold `fold` of the split made with `seed`: SplitMix64(SplitMix64(seed)
// + fold), so it differs from the seed the test split was drawn with and between (seed, fold)
// pairs.
uint64_t ValidationSeed(uint64_t seed, int32_t fold);

// The validation split of fold `fold`: MakeSplit(split.train, split.protocol,
// ValidationSeed(seed, fold)). It has no evaluated user when split.train has too few.
EvalSplit ValidationSplit(const EvalSplit& split, uint64_t seed, int32_t fold);

struct Selection {
  size_t chosen = 0;                    // index into the candidates
  std::vector<double> validation_ndcg;  // per candidate, the mean over folds of NDCG@10
  size_t validation_users = 0;          // evaluated users, summed over folds
};

// Called after each candidate is scored on one fold, with the candidate's index, the fold and
// the report (for progress output); may be empty.
using ValidationObserver = std::function<void(size_t, int32_t, const EvalReport&)>;

// Scores every candidate on `folds` validation splits of `split` and picks the best.
// Fails with InvalidArgument when there is no candidate, folds < 1, or a validation split has
// no user to evaluate; with whatever training fails with.
Result<Selection> SelectOnValidation(const EvalSplit& split, uint64_t seed,
                                     const std::vector<Candidate>& candidates, int32_t folds,
                                     const ValidationObserver& observer = {});

}  // namespace profiled::recs
