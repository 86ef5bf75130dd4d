// Log: one line per event to stderr, "2026-11-29T18:40:49.123Z level message", or with
// LogFormat::kJson one JSON object per line: {"time":"2026-11-29T18:40:49.123Z","level":"info",
// "msg":"message"} (docs/API.md, "Logs").
//
// Thread-safe: each line is written with a single write(2), so lines never interleave.
#pragma once

#include <string_view>

namespace profiled {

enum class LogLevel { kDebug, kInfo, kWarn, kError };
enum class LogFormat { kText, kJson };

// Lines below `level` are dropped. Default kInfo.
void SetLogLevel(LogLevel level);
// Default kText. Set once at start-up; lines already written stay as they were.
void SetLogFormat(LogFormat format);
void Log(LogLevel level, std::string_view message);

inline void LogInfo(std::string_view m) { Log(LogLevel::kInfo, m); }
inline void LogWarn(std::string_view m) { Log(LogLevel::kWarn, m); }
inline void LogError(std::string_view m) { Log(LogLevel::kError, m); }

}  // namespace profiled
