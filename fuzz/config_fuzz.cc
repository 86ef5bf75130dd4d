// Config files (profiled serve --config) through ParseConfig, the TOML text LoadConfig reads.
// Checks that a refusal is an InvalidArgument with a message (the one line `serve` prints
// before exiting 2) and that an accepted config passes ValidateConfig, as ParseConfig promises
// a complete, valid Config. No exception may escape: toml++ throws, and config.cc must catch.
// The input is the file's text.
#include <cstdint>

#include "core/config.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace profiled;  // NOLINT(google-build-using-namespace): a fuzz target's glue
  fuzz::FuzzInput input(data, size);
  Result<Config> config = ParseConfig(input.Rest());
  if (!config.ok()) {
    FUZZ_CHECK(config.status().code() == ErrorCode::kInvalidArgument);
    FUZZ_CHECK(!config.status().message().empty());
    return 0;
  }
  FUZZ_CHECK(ValidateConfig(*config).ok());
  FUZZ_CHECK(!config->projects.empty());
  return 0;
}
