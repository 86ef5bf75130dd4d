#include "cli/import_source.h"

#include <gtest/gtest.h>
#include <zip.h>
#include <zlib.h>

#include <cstring>
#include <fstream>

#include "core/temp_dir.h"

namespace profiled::cli {
namespace {

// `text` as one gzip member (what Amplitude's .json.gz files are).
std::string Gzip(const std::string& text) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, text.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  zs.avail_in = static_cast<uInt>(text.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

struct ZipEntry {
  std::string name;
  std::string bytes;
  bool store = false;  // stored rather than deflated inside the zip
};

// Writes a zip archive of `entries` with libzip; its path.
std::string WriteZip(const TempDir& dir, const std::vector<ZipEntry>& entries) {
  std::string path = dir.path() + "/export.zip";
  int error = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  EXPECT_NE(z, nullptr);
  for (const ZipEntry& e : entries) {
    if (e.name.back() == '/') {
      EXPECT_GE(zip_dir_add(z, e.name.c_str(), 0), 0);
      continue;
    }
    // libzip reads the buffer when the archive is closed; it copies nothing before.
    char* copy = static_cast<char*>(std::malloc(e.bytes.size() + 1));
    e.bytes.copy(copy, e.bytes.size());
    zip_source_t* src = zip_source_buffer(z, copy, e.bytes.size(), 1);
    const zip_int64_t index = zip_file_add(z, e.name.c_str(), src, ZIP_FL_ENC_UTF_8);
    EXPECT_GE(index, 0);
    if (e.store) zip_set_file_compression(z, static_cast<zip_uint64_t>(index), ZIP_CM_STORE, 0);
  }
  EXPECT_EQ(zip_close(z), 0);
  return path;
}

std::vector<std::string> ReadAll(LineSource& source, std::vector<LinePosition>* where = nullptr) {
  std::vector<std::string> out;
  Line line;
  for (;;) {
    Result<bool> got = source.Next(&line);
    EXPECT_TRUE(got.ok()) << got.status().message();
    if (!got.ok() || !*got) break;
    // A long line is shown by its size, so a failure does not print megabytes.
    out.push_back(line.too_long            ? "<too long>"
                  : line.text.size() > 100 ? "<" + std::to_string(line.text.size()) + " bytes>"
                                           : line.text);
    if (where != nullptr) where->push_back(line.where);
  }
  return out;
}

TEST(NaturalLess, OrdersAmplitudesHourFilesByTheirHour) {
  EXPECT_TRUE(NaturalLess("1/1_2024-01-01_2#0.json.gz", "1/1_2024-01-01_10#0.json.gz"));
  EXPECT_FALSE(NaturalLess("1/1_2024-01-01_10#0.json.gz", "1/1_2024-01-01_2#0.json.gz"));
  EXPECT_TRUE(NaturalLess("1/1_2024-01-01_23#1.json.gz", "1/1_2024-01-02_0#0.json.gz"));
  EXPECT_TRUE(NaturalLess("a_5#0", "a_5#1"));
  EXPECT_TRUE(NaturalLess("x2", "x02"));
  EXPECT_TRUE(NaturalLess("ab", "abc"));
  EXPECT_FALSE(NaturalLess("abc", "abc"));
}

TEST(AmplitudeExport, ReadsGzippedEntriesInHourOrderWithLinePositions) {
  TempDir dir;
  const std::string path =
      WriteZip(dir, {{"123/", ""},
                     {"123/123_2024-01-01_10#0.json.gz", Gzip("{\"n\":3}\n{\"n\":4}\n")},
                     {"123/123_2024-01-01_2#0.json.gz", Gzip("{\"n\":1}\r\n\n  \n{\"n\":2}")},
                     {"123/readme.txt", "not events"},
                     {"123/123_2024-01-01_11#0.json", "{\"n\":5}\n", true}});
  Result<std::unique_ptr<LineSource>> source = OpenAmplitudeExport(path);
  ASSERT_TRUE(source.ok()) << source.status().message();
  EXPECT_EQ((*source)->Entries(), (std::vector<std::string>{"123/123_2024-01-01_2#0.json.gz",
                                                            "123/123_2024-01-01_10#0.json.gz",
                                                            "123/123_2024-01-01_11#0.json"}));
  EXPECT_EQ((*source)->IgnoredEntries(), 1u);
  std::vector<LinePosition> where;
  EXPECT_EQ(
      ReadAll(**source, &where),
      (std::vector<std::string>{"{\"n\":1}", "{\"n\":2}", "{\"n\":3}", "{\"n\":4}", "{\"n\":5}"}));
  ASSERT_EQ(where.size(), 5u);
  // Blank lines are not returned but keep their numbers.
  EXPECT_EQ(where[0].entry, 0u);
  EXPECT_EQ(where[0].line, 1u);
  EXPECT_EQ(where[1].line, 4u);
  EXPECT_EQ(where[2].entry, 1u);
  EXPECT_EQ(where[2].line, 1u);
  EXPECT_EQ(where[4].entry, 2u);
  EXPECT_EQ((*source)->BytesRead(), (*source)->TotalBytes());
}

TEST(AmplitudeExport, ReadsGzipFilesOfSeveralMembersAndStoredEntries) {
  TempDir dir;
  const std::string path =
      WriteZip(dir, {{"1/1_2024-01-01_0#0.json.gz", Gzip("a\nb") + Gzip("c\n") + Gzip(""), true}});
  Result<std::unique_ptr<LineSource>> source = OpenAmplitudeExport(path);
  ASSERT_TRUE(source.ok());
  // A member's last line without a newline runs on into the next member's first line, as
  // `zcat` would print it.
  EXPECT_EQ(ReadAll(**source), (std::vector<std::string>{"a", "bc"}));
}

TEST(AmplitudeExport, SeekResumesAfterTheGivenLine) {
  TempDir dir;
  const std::string path = WriteZip(dir, {{"1/1_2024-01-01_0#0.json.gz", Gzip("a\n\nb\nc\n")},
                                          {"1/1_2024-01-01_1#0.json.gz", Gzip("d\ne\n")}});
  auto reopen = [&] {
    Result<std::unique_ptr<LineSource>> s = OpenAmplitudeExport(path);
    EXPECT_TRUE(s.ok());
    return std::move(s.value());
  };
  auto s1 = reopen();
  ASSERT_TRUE(s1->Seek(0, 2).ok());  // line 2 was blank: b (line 3) comes next
  EXPECT_EQ(ReadAll(*s1), (std::vector<std::string>{"b", "c", "d", "e"}));
  auto s2 = reopen();
  ASSERT_TRUE(s2->Seek(0, 4).ok());  // all of the first file
  EXPECT_EQ(ReadAll(*s2), (std::vector<std::string>{"d", "e"}));
  auto s3 = reopen();
  ASSERT_TRUE(s3->Seek(1, 1).ok());
  EXPECT_EQ(ReadAll(*s3), (std::vector<std::string>{"e"}));
  auto s4 = reopen();
  ASSERT_TRUE(s4->Seek(2, 0).ok());
  EXPECT_TRUE(ReadAll(*s4).empty());
  EXPECT_FALSE(reopen()->Seek(3, 0).ok());
}

TEST(AmplitudeExport, TooLongLinesAreFlaggedAndReadingGoesOn) {
  TempDir dir;
  const std::string huge(kMaxLineBytes + 10, 'x');
  const std::string longest(kMaxLineBytes, 'y');
  // The too-long line both in the middle (ended by its newline) and last (ended by the end).
  const std::string path = WriteZip(
      dir, {{"1/1_2024-01-01_0#0.json.gz", Gzip("a\n" + huge + "\n" + longest + "\nb\n" + huge)}});
  Result<std::unique_ptr<LineSource>> source = OpenAmplitudeExport(path);
  ASSERT_TRUE(source.ok());
  EXPECT_EQ(
      ReadAll(**source),
      (std::vector<std::string>{"a", "<too long>", "<" + std::to_string(kMaxLineBytes) + " bytes>",
                                "b", "<too long>"}));
}

TEST(AmplitudeExport, ATruncatedGzipFileIsAnErrorNamingIt) {
  TempDir dir;
  std::string gz = Gzip("{\"n\":1}\n{\"n\":2}\n");
  gz.resize(gz.size() - 6);
  const std::string path = WriteZip(dir, {{"1/1_2024-01-01_0#0.json.gz", gz}});
  Result<std::unique_ptr<LineSource>> source = OpenAmplitudeExport(path);
  ASSERT_TRUE(source.ok());
  Line line;
  Status error;
  for (;;) {
    Result<bool> got = (*source)->Next(&line);
    if (!got.ok()) {
      error = got.status();
      break;
    }
    ASSERT_TRUE(*got) << "the end was reached without an error";
  }
  EXPECT_EQ(error.code(), ErrorCode::kCorruption);
  EXPECT_NE(error.message().find("1/1_2024-01-01_0#0.json.gz"), std::string::npos)
      << error.message();
}

TEST(AmplitudeExport, RefusesWhatIsNotAnExportArchive) {
  TempDir dir;
  const std::string text = dir.path() + "/x.zip";
  std::ofstream(text) << "PK but not really a zip file";
  Result<std::unique_ptr<LineSource>> not_zip = OpenAmplitudeExport(text);
  ASSERT_FALSE(not_zip.ok());
  EXPECT_NE(not_zip.status().message().find("not a readable zip archive"), std::string::npos);
  EXPECT_FALSE(OpenAmplitudeExport(dir.path() + "/missing.zip").ok());
  const std::string empty = WriteZip(dir, {{"notes.txt", "hello"}});
  Result<std::unique_ptr<LineSource>> no_events = OpenAmplitudeExport(empty);
  ASSERT_FALSE(no_events.ok());
  EXPECT_NE(no_events.status().message().find("no .json.gz"), std::string::npos);
}

TEST(Ndjson, ReadsPlainAndGzippedFiles) {
  TempDir dir;
  const std::string plain = dir.path() + "/e.ndjson";
  std::ofstream(plain) << "{\"a\":1}\n\n{\"a\":2}\n";
  const std::string gz = dir.path() + "/e.ndjson.gz";
  std::ofstream(gz, std::ios::binary) << Gzip("{\"a\":3}\n");
  Result<std::unique_ptr<LineSource>> p = OpenNdjson(plain);
  ASSERT_TRUE(p.ok());
  std::vector<LinePosition> where;
  EXPECT_EQ(ReadAll(**p, &where), (std::vector<std::string>{"{\"a\":1}", "{\"a\":2}"}));
  EXPECT_EQ(where[1].line, 3u);
  Result<std::unique_ptr<LineSource>> g = OpenNdjson(gz);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(ReadAll(**g), (std::vector<std::string>{"{\"a\":3}"}));
  Result<std::unique_ptr<LineSource>> resumed = OpenNdjson(plain);
  ASSERT_TRUE(resumed.ok());
  ASSERT_TRUE((*resumed)->Seek(0, 1).ok());
  EXPECT_EQ(ReadAll(**resumed), (std::vector<std::string>{"{\"a\":2}"}));
  EXPECT_FALSE(OpenNdjson(dir.path() + "/missing").ok());
}

}  // namespace
}  // namespace profiled::cli
