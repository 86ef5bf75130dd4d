// The main of a fuzz target in a build without libFuzzer (GCC): runs every file named on the
// command line, or found directly in a directory named there, through LLVMFuzzerTestOneInput
// once, in name order. ctest runs it over the target's corpus and regressions, so every input
// that ever crashed stays fixed in the release and the sanitizer builds. Exit 0 when every
// input ran; 1 when an argument names nothing readable or a directory holds no file (a corpus
// that went missing must fail the test, not pass it empty). A broken promise aborts.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

bool ReadFile(const std::filesystem::path& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  size_t runs = 0;
  for (int a = 1; a < argc; ++a) {
    fs::path arg(argv[a]);
    std::error_code ec;
    std::vector<fs::path> files;
    if (fs::is_directory(arg, ec)) {
      for (const auto& entry : fs::directory_iterator(arg, ec)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
      std::sort(files.begin(), files.end());
    } else if (fs::is_regular_file(arg, ec)) {
      files.push_back(arg);
    }
    if (files.empty()) {
      std::fprintf(stderr, "replay: %s: no input file\n", argv[a]);
      return 1;
    }
    for (const fs::path& file : files) {
      std::string bytes;
      if (!ReadFile(file, &bytes)) {
        std::fprintf(stderr, "replay: cannot read %s\n", file.c_str());
        return 1;
      }
      // A copy of exactly the input's size, so ASan sees a read past its end.
      std::vector<uint8_t> input(bytes.begin(), bytes.end());
      LLVMFuzzerTestOneInput(input.data(), input.size());
      ++runs;
    }
  }
  std::printf("replay: %zu inputs ran\n", runs);
  return 0;
}
