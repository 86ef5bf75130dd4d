// The lines `profiled import` reads, from an Amplitude Export API archive (a zip of gzipped
// JSON-lines files, reference/amplitude.md §6.2) or from an NDJSON file (plain or gzipped),
// streamed: at most one read buffer, one inflate window and one line are held at a time,
// never an entry's or the archive's decompressed data.
//
// Archive entries: every file whose name ends in `.json.gz` (gzipped) or `.json` (plain);
// directories and other files are left out and counted. They are read in their names'
// natural order (runs of digits compare as numbers), which for Amplitude's
// `<project>/<project>_<YYYY-MM-DD>_<H>#<part>.json.gz` is upload-hour order: `_2#0` before
// `_10#0`. A gzip entry may hold several members one after the other. Zip parsing is libzip's
// (zip64, stored and deflated entries, CRC checked at each entry's end); an encrypted entry
// or a compression method libzip lacks is an error naming the entry.
//
// A LineSource is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace profiled::cli {

// Lines longer than this are not returned (Line::too_long): no event is that large (the
// server takes 20 MiB per request), and a file without newlines must not fill memory.
inline constexpr size_t kMaxLineBytes = 16 << 20;

// Where a line is: the entry (an index into Entries()) and its line number, from 1.
struct LinePosition {
  size_t entry = 0;
  uint64_t line = 0;
};

struct Line {
  std::string text;  // without its '\n' (or "\r\n"); empty when too_long
  LinePosition where;
  bool too_long = false;
};

class LineSource {
 public:
  virtual ~LineSource() = default;

  // The names of the entries lines come from, in reading order (an NDJSON file: its path).
  virtual const std::vector<std::string>& Entries() const = 0;
  // Archive members left out (not .json.gz/.json), 0 for an NDJSON file.
  virtual size_t IgnoredEntries() const { return 0; }

  // The next non-blank line into *line: true; false once every entry is read. IoError or
  // Corruption, naming the entry, when it cannot be read or decompressed (a truncated gzip
  // stream, a CRC mismatch).
  virtual Result<bool> Next(Line* line) = 0;

  // Makes the next line read the one after `done` lines of entry `entry` (so {entry, 0} is
  // the entry's start; the lines before are read and dropped). REQUIRES: before any Next.
  // InvalidArgument when `entry` is past the last one (== Entries().size() is the end).
  virtual Status Seek(size_t entry, uint64_t done) = 0;

  // Input bytes consumed so far and in all (compressed bytes of the entries, or of the
  // file), for a progress bar. BytesRead() <= TotalBytes().
  virtual uint64_t BytesRead() const = 0;
  virtual uint64_t TotalBytes() const = 0;
};

// InvalidArgument naming the file when it cannot be opened or is not a zip archive, or holds
// no .json.gz/.json entry.
Result<std::unique_ptr<LineSource>> OpenAmplitudeExport(const std::string& path);

// A file of lines; gzipped when it starts with gzip's magic bytes. InvalidArgument when it
// cannot be opened.
Result<std::unique_ptr<LineSource>> OpenNdjson(const std::string& path);

// Whether a sorts before b in natural order (runs of ASCII digits compare by value, then
// by length, so "2" < "10" and "02" after "2"; everything else byte by byte).
bool NaturalLess(std::string_view a, std::string_view b);

}  // namespace profiled::cli
