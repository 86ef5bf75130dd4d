// Log: one line per event to stderr, "2026-11-29T18:40:49.123Z level message".
//
// Thread-safe: each line is written with a single write(2), so lines never interleave.
#pragma once

#include <string_view>

namespace profiled {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// Lines below `level` are dropped. Default kInfo.
void SetLogLevel(LogLevel level);
void Log(LogLevel level, std::string_view message);

inline void LogInfo(std::string_view m) { Log(LogLevel::kInfo, m); }
inline void LogWarn(std::string_view m) { Log(LogLevel::kWarn, m); }
inline void LogError(std::string_view m) { Log(LogLevel::kError, m); }

}  // namespace profiled
