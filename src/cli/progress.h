// Progress of a command that sends a file to a running server (`profiled import-ratings`,
// `profiled import`), on its stderr: on a terminal one line redrawn in place (at most ten
// times a second), elsewhere (a log file, a pipe) a line each time another tenth is done, so
// logs stay short.
//
// Used by one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace profiled::cli {

class ProgressDisplay {
 public:
  explicit ProgressDisplay(std::FILE* err);

  // Whether err is a terminal.
  bool terminal() const { return terminal_; }

  // Shows `text`, the state at `done` of `total` units: redrawn in place on a terminal
  // (unless the last redraw is under 100 ms old and `force` is false), else printed as a line
  // when done/total reached another tenth (or `force`).
  void Show(uint64_t done, uint64_t total, const std::string& text, bool force = false);

  // Ends the redrawn line (a newline on a terminal, if anything was drawn).
  void End();

 private:
  std::FILE* err_;
  bool terminal_;
  bool drawn_ = false;
  uint64_t last_tenth_ = 0;
  std::chrono::steady_clock::time_point last_draw_{};
};

// A text bar of `width` cells for done/total: "[#####     ]".
std::string ProgressBar(uint64_t done, uint64_t total, int width);

}  // namespace profiled::cli
