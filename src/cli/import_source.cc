#include "cli/import_source.h"

#include <zip.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>
#include <system_error>

namespace profiled::cli {

namespace {

constexpr size_t kReadChunk = 64 << 10;
constexpr size_t kInflateChunk = 256 << 10;

// Compressed (or plain) bytes of one entry, read in order.
class ByteStream {
 public:
  virtual ~ByteStream() = default;
  // Up to n bytes into buf; 0 at the end. IoError/Corruption naming the entry.
  virtual Result<size_t> Read(char* buf, size_t n) = 0;
};

// Splits an entry's bytes into lines, inflating them first when they are gzip.
class EntryReader {
 public:
  EntryReader(std::unique_ptr<ByteStream> in, bool gzip, std::string name)
      : in_(std::move(in)), gzip_(gzip), name_(std::move(name)) {}
  EntryReader(const EntryReader&) = delete;
  EntryReader& operator=(const EntryReader&) = delete;
  ~EntryReader() {
    if (inflating_) inflateEnd(&zs_);
  }

  // The next non-blank line of the entry, or false at its end.
  Result<bool> Next(Line* line) {
    for (;;) {
      const size_t nl = data_.find('\n', scan_);
      if (nl != std::string::npos) {
        std::string_view text(data_.data() + pos_, nl - pos_);
        pos_ = scan_ = nl + 1;
        ++line_no_;
        if (discarding_ || text.size() > kMaxLineBytes) {
          discarding_ = false;
          line->text.clear();
          line->too_long = true;
          line->where.line = line_no_;
          return true;
        }
        if (Emit(text, line)) return true;
        continue;
      }
      scan_ = data_.size();
      if (discarding_ || data_.size() - pos_ > kMaxLineBytes) {
        // The line is too long: its bytes are dropped up to its newline.
        discarding_ = true;
        data_.clear();
        pos_ = scan_ = 0;
      }
      if (pos_ > 0 && pos_ * 2 >= data_.size()) {
        data_.erase(0, pos_);
        scan_ -= pos_;
        pos_ = 0;
      }
      Result<bool> more = Fill();
      if (!more.ok()) return more.status();
      if (*more) continue;
      // The end: a last line without its newline.
      if (pos_ == data_.size() && !discarding_) return false;
      std::string_view text(data_.data() + pos_, data_.size() - pos_);
      pos_ = scan_ = data_.size();
      ++line_no_;
      if (discarding_ || text.size() > kMaxLineBytes) {
        discarding_ = false;
        line->text.clear();
        line->too_long = true;
        line->where.line = line_no_;
        return true;
      }
      if (Emit(text, line)) return true;
    }
  }

  uint64_t bytes_read() const { return bytes_read_; }

 private:
  // Sets *line to `text` unless it is blank; whether it did.
  bool Emit(std::string_view text, Line* line) {
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    const bool blank = std::all_of(text.begin(), text.end(),
                                   [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
    if (blank) return false;
    line->text.assign(text);
    line->too_long = false;
    line->where.line = line_no_;
    return true;
  }

  Result<size_t> ReadInput() {
    if (input_done_) return size_t{0};
    in_buf_.resize(kReadChunk);
    Result<size_t> n = in_->Read(in_buf_.data(), in_buf_.size());
    if (!n.ok()) return n.status();
    if (*n == 0) input_done_ = true;
    bytes_read_ += *n;
    return n;
  }

  // Appends more decompressed bytes to data_; false when the entry has no more.
  Result<bool> Fill() {
    if (!gzip_) {
      Result<size_t> n = ReadInput();
      if (!n.ok()) return n.status();
      if (*n == 0) return false;
      data_.append(in_buf_.data(), *n);
      return true;
    }
    if (!inflating_) {
      std::memset(&zs_, 0, sizeof(zs_));
      if (inflateInit2(&zs_, 16 + MAX_WBITS) != Z_OK) {
        return Status::Internal("cannot start zlib's inflate");
      }
      inflating_ = true;
    }
    out_buf_.resize(kInflateChunk);
    for (;;) {
      if (zs_.avail_in == 0) {
        Result<size_t> n = ReadInput();
        if (!n.ok()) return n.status();
        if (*n == 0) {
          if (member_ended_ || !member_started_) return false;
          return Status::Corruption(name_ + ": the gzip data ends early (a truncated file?)");
        }
        zs_.next_in = reinterpret_cast<Bytef*>(in_buf_.data());
        zs_.avail_in = static_cast<uInt>(*n);
      }
      if (member_ended_) {
        // Another gzip member follows the one that ended.
        if (inflateReset(&zs_) != Z_OK) return Status::Internal("zlib's inflateReset failed");
        member_ended_ = false;
      }
      member_started_ = true;
      zs_.next_out = reinterpret_cast<Bytef*>(out_buf_.data());
      zs_.avail_out = static_cast<uInt>(out_buf_.size());
      const int rc = inflate(&zs_, Z_NO_FLUSH);
      const size_t produced = out_buf_.size() - zs_.avail_out;
      if (rc == Z_STREAM_END) {
        member_ended_ = true;
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        return Status::Corruption(name_ + ": not valid gzip data (" +
                                  (zs_.msg != nullptr ? zs_.msg : "zlib error") + ")");
      }
      if (produced > 0) {
        data_.append(out_buf_.data(), produced);
        return true;
      }
      if (rc == Z_BUF_ERROR && zs_.avail_in != 0) {
        return Status::Corruption(name_ + ": not valid gzip data");
      }
    }
  }

  std::unique_ptr<ByteStream> in_;
  bool gzip_;
  std::string name_;
  std::vector<char> in_buf_, out_buf_;
  z_stream zs_{};
  bool inflating_ = false, input_done_ = false, member_started_ = false, member_ended_ = false;
  std::string data_;  // decompressed bytes; data_[pos_..] not yet returned
  size_t pos_ = 0, scan_ = 0;
  bool discarding_ = false;  // inside a line longer than kMaxLineBytes
  uint64_t line_no_ = 0;
  uint64_t bytes_read_ = 0;
};

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Skips lines until the next one read is past line `done`, through `next` (a source's own
// Next); the line read past it is kept in *held.
template <typename NextFn>
Status SkipLines(uint64_t done, std::optional<Line>* held, NextFn next) {
  for (;;) {
    Line line;
    Result<bool> got = next(&line);
    if (!got.ok()) return got.status();
    if (!*got) return Status::Ok();
    if (line.where.line > done) {
      *held = std::move(line);
      return Status::Ok();
    }
  }
}

class ZipFileStream : public ByteStream {
 public:
  ZipFileStream(zip_file_t* file, std::string name) : file_(file), name_(std::move(name)) {}
  ZipFileStream(const ZipFileStream&) = delete;
  ZipFileStream& operator=(const ZipFileStream&) = delete;
  ~ZipFileStream() override { zip_fclose(file_); }
  Result<size_t> Read(char* buf, size_t n) override {
    const zip_int64_t got = zip_fread(file_, buf, n);
    if (got < 0) {
      return Status::Corruption(name_ + ": " + zip_error_strerror(zip_file_get_error(file_)));
    }
    return static_cast<size_t>(got);
  }

 private:
  zip_file_t* file_;
  std::string name_;
};

class ZipSource : public LineSource {
 public:
  struct Entry {
    std::string name;
    zip_uint64_t index;
    uint64_t size;  // the entry's own bytes (a .json.gz file's size)
    bool gzip;
  };

  ZipSource(zip_t* archive, std::vector<Entry> entries, size_t ignored)
      : archive_(archive), entries_(std::move(entries)), ignored_(ignored) {
    for (const Entry& e : entries_) {
      names_.push_back(e.name);
      total_ += e.size;
    }
  }
  ZipSource(const ZipSource&) = delete;
  ZipSource& operator=(const ZipSource&) = delete;
  ~ZipSource() override {
    reader_.reset();
    zip_discard(archive_);
  }

  const std::vector<std::string>& Entries() const override { return names_; }
  size_t IgnoredEntries() const override { return ignored_; }

  Result<bool> Next(Line* line) override {
    if (held_) {
      *line = std::move(*held_);
      held_.reset();
      return true;
    }
    while (current_ < entries_.size()) {
      if (!reader_) PROFILED_RETURN_IF_ERROR(OpenCurrent());
      Result<bool> got = reader_->Next(line);
      if (!got.ok()) return got.status();
      if (*got) {
        line->where.entry = current_;
        return true;
      }
      done_bytes_ += entries_[current_].size;
      reader_.reset();
      ++current_;
    }
    return false;
  }

  Status Seek(size_t entry, uint64_t done) override {
    if (entry > entries_.size()) {
      return Status::InvalidArgument("entry " + std::to_string(entry) + " is past the archive's " +
                                     std::to_string(entries_.size()) + " entries");
    }
    current_ = entry;
    for (size_t i = 0; i < entry; ++i) done_bytes_ += entries_[i].size;
    if (entry == entries_.size() || done == 0) return Status::Ok();
    PROFILED_RETURN_IF_ERROR(OpenCurrent());
    return SkipLines(done, &held_, [&](Line* line) -> Result<bool> {
      Result<bool> got = reader_->Next(line);
      if (got.ok() && *got) line->where.entry = current_;
      return got;
    });
  }

  // At most TotalBytes: an entry may hold more bytes than its declared size (a damaged archive).
  uint64_t BytesRead() const override {
    return std::min(total_, done_bytes_ + (reader_ ? reader_->bytes_read() : 0));
  }
  uint64_t TotalBytes() const override { return total_; }

 private:
  Status OpenCurrent() {
    const Entry& e = entries_[current_];
    zip_file_t* file = zip_fopen_index(archive_, e.index, 0);
    if (file == nullptr) {
      return Status::Corruption(e.name + ": " + zip_strerror(archive_));
    }
    reader_ = std::make_unique<EntryReader>(std::make_unique<ZipFileStream>(file, e.name), e.gzip,
                                            e.name);
    return Status::Ok();
  }

  zip_t* archive_;
  std::vector<Entry> entries_;
  std::vector<std::string> names_;
  size_t ignored_;
  uint64_t total_ = 0;
  size_t current_ = 0;
  uint64_t done_bytes_ = 0;
  std::unique_ptr<EntryReader> reader_;
  std::optional<Line> held_;
};

class FileStream : public ByteStream {
 public:
  FileStream(std::FILE* file, std::string name) : file_(file), name_(std::move(name)) {}
  FileStream(const FileStream&) = delete;
  FileStream& operator=(const FileStream&) = delete;
  ~FileStream() override { std::fclose(file_); }
  Result<size_t> Read(char* buf, size_t n) override {
    const size_t got = std::fread(buf, 1, n, file_);
    if (got == 0 && std::ferror(file_) != 0) return Status::IoError(name_ + ": read error");
    return got;
  }

 private:
  std::FILE* file_;
  std::string name_;
};

class NdjsonSource : public LineSource {
 public:
  NdjsonSource(std::string path, std::unique_ptr<EntryReader> reader, uint64_t size)
      : names_{std::move(path)}, reader_(std::move(reader)), size_(size) {}

  const std::vector<std::string>& Entries() const override { return names_; }

  Result<bool> Next(Line* line) override {
    if (held_) {
      *line = std::move(*held_);
      held_.reset();
      return true;
    }
    if (ended_) return false;
    Result<bool> got = reader_->Next(line);
    if (got.ok() && *got) line->where.entry = 0;
    if (got.ok() && !*got) ended_ = true;
    return got;
  }

  Status Seek(size_t entry, uint64_t done) override {
    if (entry > 1) return Status::InvalidArgument("an NDJSON file has one entry");
    if (entry == 1) {
      ended_ = true;
      return Status::Ok();
    }
    return SkipLines(done, &held_, [&](Line* line) { return reader_->Next(line); });
  }

  uint64_t BytesRead() const override {
    return ended_ ? size_ : std::min(size_, reader_->bytes_read());
  }
  uint64_t TotalBytes() const override { return size_; }

 private:
  std::vector<std::string> names_;
  std::unique_ptr<EntryReader> reader_;
  uint64_t size_;
  bool ended_ = false;
  std::optional<Line> held_;
};

}  // namespace

bool NaturalLess(std::string_view a, std::string_view b) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (digit(a[i]) && digit(b[j])) {
      size_t ie = i, je = j;
      while (ie < a.size() && digit(a[ie])) ++ie;
      while (je < b.size() && digit(b[je])) ++je;
      size_t is = i, js = j;  // skip leading zeros for the comparison by value
      while (is + 1 < ie && a[is] == '0') ++is;
      while (js + 1 < je && b[js] == '0') ++js;
      const std::string_view na = a.substr(is, ie - is), nb = b.substr(js, je - js);
      if (na.size() != nb.size()) return na.size() < nb.size();
      if (na != nb) return na < nb;
      if (ie - i != je - j) return ie - i < je - j;
      i = ie;
      j = je;
      continue;
    }
    if (a[i] != b[j]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
    ++i;
    ++j;
  }
  return a.size() - i < b.size() - j;
}

Result<std::unique_ptr<LineSource>> OpenAmplitudeExport(const std::string& path) {
  int error = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_RDONLY, &error);
  if (archive == nullptr) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, error);
    std::string message = path + ": not a readable zip archive (" + zip_error_strerror(&ze) + ")";
    zip_error_fini(&ze);
    return Status::InvalidArgument(message);
  }
  std::vector<ZipSource::Entry> entries;
  size_t ignored = 0;
  const zip_int64_t count = zip_get_num_entries(archive, 0);
  for (zip_int64_t i = 0; i < count; ++i) {
    zip_stat_t st;
    if (zip_stat_index(archive, static_cast<zip_uint64_t>(i), 0, &st) != 0 ||
        (st.valid & ZIP_STAT_NAME) == 0) {
      ++ignored;
      continue;
    }
    const std::string_view name = st.name;
    if (EndsWith(name, "/")) continue;  // a directory
    const bool gzip = EndsWith(name, ".json.gz");
    if (!gzip && !EndsWith(name, ".json")) {
      ++ignored;
      continue;
    }
    if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) != 0 && st.encryption_method != ZIP_EM_NONE) {
      std::string message = path + ": entry " + std::string(name) +
                            " is encrypted; profiled reads unencrypted archives (as Amplitude "
                            "exports them) only";
      zip_discard(archive);
      return Status::InvalidArgument(message);
    }
    entries.push_back({std::string(name), static_cast<zip_uint64_t>(i),
                       (st.valid & ZIP_STAT_SIZE) != 0 ? st.size : 0, gzip});
  }
  if (entries.empty()) {
    zip_discard(archive);
    return Status::InvalidArgument(path + ": the archive holds no .json.gz (or .json) file");
  }
  std::stable_sort(entries.begin(), entries.end(),
                   [](const auto& x, const auto& y) { return NaturalLess(x.name, y.name); });
  return std::unique_ptr<LineSource>(
      std::make_unique<ZipSource>(archive, std::move(entries), ignored));
}

Result<std::unique_ptr<LineSource>> OpenNdjson(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return Status::InvalidArgument(path + ": cannot open (" +
                                   std::generic_category().message(errno) + ")");
  }
  unsigned char magic[2] = {0, 0};
  const size_t got = std::fread(magic, 1, 2, file);
  const bool gzip = got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  uint64_t size = 0;
  if (std::fseek(file, 0, SEEK_END) == 0) {
    const long end = std::ftell(file);
    if (end > 0) size = static_cast<uint64_t>(end);
  }
  if (std::fseek(file, 0, SEEK_SET) != 0) {
    std::fclose(file);
    return Status::InvalidArgument(path + ": cannot read from its start (a pipe?)");
  }
  auto reader = std::make_unique<EntryReader>(std::make_unique<FileStream>(file, path), gzip, path);
  return std::unique_ptr<LineSource>(std::make_unique<NdjsonSource>(path, std::move(reader), size));
}

}  // namespace profiled::cli
