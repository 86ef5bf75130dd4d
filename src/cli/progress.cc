#include "cli/progress.h"

#include <unistd.h>

namespace profiled::cli {

ProgressDisplay::ProgressDisplay(std::FILE* err) : err_(err), terminal_(isatty(fileno(err)) != 0) {}

void ProgressDisplay::Show(uint64_t done, uint64_t total, const std::string& text, bool force) {
  if (terminal_) {
    const auto now = std::chrono::steady_clock::now();
    if (!force && drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    drawn_ = true;
    // "\x1b[K" clears what a longer earlier line left to the right.
    std::fprintf(err_, "\r%s\x1b[K", text.c_str());
  } else {
    const uint64_t tenth = total == 0 ? 10 : done * 10 / total;
    if (tenth == last_tenth_ && !force) return;
    last_tenth_ = tenth;
    std::fprintf(err_, "%s\n", text.c_str());
  }
  std::fflush(err_);
}

void ProgressDisplay::End() {
  if (terminal_ && drawn_) {
    std::fputc('\n', err_);
    std::fflush(err_);
    drawn_ = false;
  }
}

std::string ProgressBar(uint64_t done, uint64_t total, int width) {
  const uint64_t full =
      total == 0 ? static_cast<uint64_t>(width) : std::min<uint64_t>(width, done * width / total);
  std::string out = "[";
  out.append(full, '#');
  out.append(static_cast<size_t>(width) - full, ' ');
  out.push_back(']');
  return out;
}

}  // namespace profiled::cli
