// `profiled import`: replays events into a running server (either storage backend) through
// its /batch endpoint, so they take the normal ingestion path: validation, identity,
// de-duplication, user properties, computations, cohorts. The input is an Amplitude Export
// API archive (--amplitude-export, mapped as cli/export_event.h says) or an NDJSON file of
// HTTP V2 events (--ndjson). docs/API.md ("Importing events: `profiled import`") is the user's
// reference.
//
// Lines go out in file order, in batches (at most `batch_events` events and about 5 MiB),
// one request at a time, so one user's events apply in the order they were read. After each
// batch the server acknowledged, the state file records how far the input was read (entry
// and line) and the counts so far, written atomically (a new file renamed over the old); a
// run with the same state file resumes after that line. A batch sent but not recorded (the
// command was killed between the two) is sent again on resume, and the server's insert_id
// de-duplication applies it once: every event carries an insert_id.
//
// Answers: 200 moves on; 400 naming events (events_with_invalid_fields etc.) skips those
// events, counted under "rejected by the server: ...", and sends the rest again; 413 splits
// the batch; 429, 5xx and connection failures are retried with exponential back-off (or the
// answer's Retry-After) up to `max_retries` times in a row, then the command stops (exit 1)
// and can be resumed. Any other answer (a wrong api_key) stops it at once.
//
// Thread-compatible free functions.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "core/status.h"

namespace profiled::cli {

inline constexpr size_t kDefaultImportBatchEvents = 1000;
inline constexpr size_t kMaxImportBatchEvents = 2000;  // the server's limit per request

// The command line of `profiled import`, as given.
struct ImportFlags {
  std::string url;               // http://HOST:PORT or https://HOST:PORT of the server
  std::string ca_file;           // https: the CA (PEM) the server's certificate must chain to
  std::string api_key;           // the project's api_key
  std::string amplitude_export;  // exactly one of these two
  std::string ndjson;
  std::string state_path;                   // empty: the input's path + ".import-state"
  bool restart = false;                     // ignore (and replace) an existing state file
  std::string user_properties = "replace";  // replace | set | ignore (export_event.h)
  size_t batch_events = kDefaultImportBatchEvents;
  int min_id_length = 0;  // sent as options.min_id_length when > 0
  int max_retries = 8;
};

// Runs the command. Progress, notes on skipped lines and the summary go to `err`; the summary
// as one JSON line to `out`. Exit code: 0 when the whole input was read (skipped lines
// included, and counted); 2 for bad flags, an unreadable input or a state file of another
// input; 1 when the server stays unreachable, refuses the requests as a whole, or the input is
// damaged partway (what came before is imported and recorded: run again to resume).
int Import(const ImportFlags& flags, std::FILE* out, std::FILE* err);

// host and port of an http://HOST[:PORT][/] or https://... URL (port 80 or 443 when absent;
// a [v6] literal accepted). InvalidArgument saying what is wrong otherwise (another scheme, a
// path, no host).
struct HostPort {
  std::string host;
  uint16_t port = 80;
  bool https = false;
};
Result<HostPort> ParseServerUrl(const std::string& url);

}  // namespace profiled::cli
