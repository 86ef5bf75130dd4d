// Stored recommendation models (the chunks of recs::EncodeServingModel that a node reads
// back from the store) through recs::DecodeServingModel, then served. The encoding ends with a
// checksum, which random bytes never match: the target appends the right one to half the
// inputs, so the fuzzer explores what lies behind it. Checks that bad bytes are Corruption
// (never a crash or a throw, whatever sizes they claim), that what decodes encodes to bytes
// that decode to the same model, and that serving from it keeps recs::Serve's promises: at most the
// limit, no item twice, nothing excluded, nothing seen when exclude_seen. The input: a byte (odd:
// append the checksum; its other bits pick the serve options), then the model's bytes.
#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "core/coding.h"
#include "core/hash.h"
#include "fuzz_input.h"
#include "recs/model_codec.h"
#include "recs/serving.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace profiled;  // NOLINT(google-build-using-namespace): a fuzz target's glue
  fuzz::FuzzInput input(data, size);
  uint8_t flags = input.Byte();
  std::string bytes(input.Rest());
  if ((flags & 1) != 0) PutFixed64LE(&bytes, StableHash(bytes));
  Result<std::shared_ptr<const recs::ServingModel>> decoded = recs::DecodeServingModel(bytes);
  if (!decoded.ok()) {
    FUZZ_CHECK(decoded.status().code() == ErrorCode::kCorruption ||
               decoded.status().code() == ErrorCode::kInternal);
    return 0;
  }
  const recs::ServingModel& model = **decoded;
  // Encoding what decoded gives bytes that decode to a model encoding the same (not always
  // `bytes` themselves: a length may be written in more bytes than its varint needs).
  std::string encoded = recs::EncodeServingModel(model);
  Result<std::shared_ptr<const recs::ServingModel>> again = recs::DecodeServingModel(encoded);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(recs::EncodeServingModel(**again) == encoded);
  if (model.model == nullptr) return 0;

  // A user who saw the first and the last item, and an item the model does not know.
  std::vector<std::string_view> history;
  if (!model.items.empty()) {
    history.push_back(model.items.front());
    history.push_back(model.items.back());
  }
  history.push_back("unknown-item");
  std::vector<std::string> exclude;
  if (model.items.size() > 2) exclude.push_back(model.items[1]);
  std::vector<std::string> candidates;
  if ((flags & 2) != 0) {
    for (size_t i = 0; i < model.items.size() && i < 5; ++i) candidates.push_back(model.items[i]);
    candidates.push_back("new-item");
  }
  recs::ServeRequest request;
  request.amplitude_id = 42;
  request.rec_id = "r1";
  request.control_percentage = (flags & 4) != 0 ? 50 : 0;
  request.override =
      (flags & 8) != 0 ? recs::ServeRequest::Override::kModel : recs::ServeRequest::Override::kNone;
  request.history = history;
  request.limit = (flags & 16) != 0 ? 3 : 100;
  request.candidates_top_n = (flags & 32) != 0 ? 2 : 1000;
  request.candidate_items = candidates;
  request.exclude_items = exclude;
  request.exclude_seen = (flags & 64) != 0;
  request.day = 20000;
  recs::Served served;
  Status s = recs::Serve(model, request, &served);
  FUZZ_CHECK(s.ok());
  FUZZ_CHECK(served.items.size() <= request.limit);
  std::set<std::string> seen(served.items.begin(), served.items.end());
  FUZZ_CHECK(seen.size() == served.items.size());
  for (const std::string& e : exclude) FUZZ_CHECK(seen.count(e) == 0);
  if (request.exclude_seen) {
    for (std::string_view h : history) FUZZ_CHECK(seen.count(std::string(h)) == 0);
  }
  return 0;
}
