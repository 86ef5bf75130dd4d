#include "recs/ratings.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>

namespace profiled::recs {

Result<RatingsFormat> ParseRatingsFormat(std::string_view name) {
  if (name == "movielens-csv") return RatingsFormat::kMovieLensCsv;
  if (name == "movielens-tsv") return RatingsFormat::kMovieLensTsv;
  return Status::InvalidArgument("unknown ratings format \"" + std::string(name) +
                                 "\" (expected movielens-csv or movielens-tsv)");
}

namespace {

Status LineError(size_t line, const std::string& what) {
  return Status::InvalidArgument("line " + std::to_string(line) + ": " + what);
}

bool ParseId(std::string_view field, int64_t* out) {
  auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), *out);
  return ec == std::errc() && end == field.data() + field.size() && *out >= 0;
}

bool ParseRatingValue(std::string_view field, double* out) {
  auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), *out);
  return ec == std::errc() && end == field.data() + field.size() && std::isfinite(*out);
}

}  // namespace

Result<std::vector<Rating>> ParseRatings(std::string_view text, RatingsFormat format) {
  const char separator = format == RatingsFormat::kMovieLensCsv ? ',' : '\t';
  std::vector<Rating> out;
  size_t line_number = 0;
  bool header_seen = format != RatingsFormat::kMovieLensCsv;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (!header_seen) {
      if (line.substr(0, 15) != "userId,movieId,") {
        return LineError(line_number, "expected the header userId,movieId,rating,timestamp");
      }
      header_seen = true;
      continue;
    }
    std::string_view fields[4];
    size_t count = 0;
    while (count < 4) {
      size_t sep = line.find(separator);
      fields[count++] = line.substr(0, sep);
      if (sep == std::string_view::npos) {
        line = {};
        break;
      }
      line.remove_prefix(sep + 1);
    }
    if (count != 4 || !line.empty()) {
      return LineError(line_number, std::string("expected 4 fields separated by ") +
                                        (separator == ',' ? "commas" : "tabs"));
    }
    Rating r;
    if (!ParseId(fields[0], &r.user)) return LineError(line_number, "bad user id");
    if (!ParseId(fields[1], &r.item)) return LineError(line_number, "bad item id");
    if (!ParseRatingValue(fields[2], &r.rating)) return LineError(line_number, "bad rating");
    if (!ParseId(fields[3], &r.timestamp)) return LineError(line_number, "bad timestamp");
    out.push_back(r);
  }
  if (out.empty()) return Status::InvalidArgument("the ratings file holds no rating");
  return out;
}

Positives PositivesOf(const std::vector<Rating>& ratings, double min_rating) {
  Positives out;
  for (const Rating& r : ratings) {
    if (r.rating < min_rating) continue;
    out.user_ids.push_back(r.user);
    out.item_ids.push_back(r.item);
  }
  for (std::vector<int64_t>* ids : {&out.user_ids, &out.item_ids}) {
    std::sort(ids->begin(), ids->end());
    ids->erase(std::unique(ids->begin(), ids->end()), ids->end());
  }
  auto index_of = [](const std::vector<int64_t>& ids, int64_t id) {
    return static_cast<int32_t>(std::lower_bound(ids.begin(), ids.end(), id) - ids.begin());
  };
  std::vector<std::vector<int32_t>> user_items(out.user_ids.size());
  for (const Rating& r : ratings) {
    if (r.rating < min_rating) continue;
    user_items[static_cast<size_t>(index_of(out.user_ids, r.user))].push_back(
        index_of(out.item_ids, r.item));
  }
  // Every index is in range by construction, so this cannot fail.
  out.data = std::move(
      Interactions::FromUserItems(static_cast<int32_t>(out.item_ids.size()), std::move(user_items))
          .value());
  return out;
}

}  // namespace profiled::recs
