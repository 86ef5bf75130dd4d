#include "ingest/builtins.h"

#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace profiled::ingest {

namespace json = boost::json;

namespace {

constexpr const char* kDeviceGroup[] = {
    "platform",     "os_name", "os_version", "device_brand", "device_manufacturer",
    "device_model", "carrier"};
constexpr const char* kLocationGroup[] = {"country", "region", "city", "dma"};

template <size_t N>
void ReplaceGroup(const json::object& update, const char* const (&group)[N], json::object* out) {
  if (update.empty()) return;
  for (const char* key : group) out->erase(key);
  for (const auto& kv : update) (*out)[kv.key()] = kv.value();
}

// "YYYY-MM-DD", the UTC date of an epoch-ms time. Every event's time passes here, so the
// usual years are written digit by digit (no gmtime_r, no snprintf).
std::string DateOf(int64_t time_ms) {
  using namespace std::chrono;  // NOLINT(google-build-using-namespace)
  const year_month_day date{floor<days>(sys_time<milliseconds>(milliseconds(time_ms)))};
  int year = static_cast<int>(date.year());
  if (year < 0 || year > 9999) {
    std::time_t secs = static_cast<std::time_t>(time_ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[48];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    return buf;
  }
  auto month = static_cast<unsigned>(date.month());
  auto day = static_cast<unsigned>(date.day());
  std::string out(10, '-');
  out[0] = static_cast<char>('0' + year / 1000);
  out[1] = static_cast<char>('0' + year / 100 % 10);
  out[2] = static_cast<char>('0' + year / 10 % 10);
  out[3] = static_cast<char>('0' + year % 10);
  out[5] = static_cast<char>('0' + month / 10);
  out[6] = static_cast<char>('0' + month % 10);
  out[8] = static_cast<char>('0' + day / 10);
  out[9] = static_cast<char>('0' + day % 10);
  return out;
}

struct LanguageEntry {
  const char* code;
  const char* name;
};
// ISO 639-1 codes of the languages most apps localise into.
constexpr LanguageEntry kLanguages[] = {
    {"ar", "Arabic"},     {"bg", "Bulgarian"},  {"bn", "Bengali"},
    {"ca", "Catalan"},    {"cs", "Czech"},      {"da", "Danish"},
    {"de", "German"},     {"el", "Greek"},      {"en", "English"},
    {"es", "Spanish"},    {"et", "Estonian"},   {"fa", "Persian"},
    {"fi", "Finnish"},    {"fil", "Filipino"},  {"fr", "French"},
    {"he", "Hebrew"},     {"hi", "Hindi"},      {"hr", "Croatian"},
    {"hu", "Hungarian"},  {"id", "Indonesian"}, {"it", "Italian"},
    {"ja", "Japanese"},   {"ko", "Korean"},     {"lt", "Lithuanian"},
    {"lv", "Latvian"},    {"ms", "Malay"},      {"nb", "Norwegian Bokmål"},
    {"nl", "Dutch"},      {"no", "Norwegian"},  {"pl", "Polish"},
    {"pt", "Portuguese"}, {"ro", "Romanian"},   {"ru", "Russian"},
    {"sk", "Slovak"},     {"sl", "Slovenian"},  {"sr", "Serbian"},
    {"sv", "Swedish"},    {"sw", "Swahili"},    {"ta", "Tamil"},
    {"th", "Thai"},       {"tl", "Tagalog"},    {"tr", "Turkish"},
    {"uk", "Ukrainian"},  {"ur", "Urdu"},       {"vi", "Vietnamese"},
    {"zh", "Chinese"},
};

}  // namespace

std::string LanguageName(std::string_view tag) {
  std::string primary;
  for (char c : tag) {
    if (c == '-' || c == '_') break;
    primary.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  for (const auto& e : kLanguages) {
    if (primary == e.code) return e.name;
  }
  return std::string(tag);
}

void ApplyBuiltins(const BuiltinUpdate& update, json::object* builtins) {
  ReplaceGroup(update.device, kDeviceGroup, builtins);
  ReplaceGroup(update.location, kLocationGroup, builtins);
  for (const auto& kv : update.single) {
    if (kv.key() == "language" && kv.value().is_string()) {
      (*builtins)["language"] = LanguageName(kv.value().get_string());
    } else {
      (*builtins)[kv.key()] = kv.value();
    }
  }
  if (!builtins->contains("start_version")) {
    if (const json::value* v = update.single.if_contains("app_version")) {
      (*builtins)["start_version"] = *v;
    }
  }
}

void RecordActivity(int64_t time_ms, json::object* builtins) {
  std::string date = DateOf(time_ms);
  // ISO dates compare correctly as strings; events may arrive out of order.
  const json::value* first = builtins->if_contains("first_used");
  if (first == nullptr || !first->is_string() || date < first->get_string()) {
    (*builtins)["first_used"] = date;
  }
  const json::value* last = builtins->if_contains("last_used");
  if (last == nullptr || !last->is_string() || last->get_string() < date) {
    (*builtins)["last_used"] = date;
  }
}

}  // namespace profiled::ingest
