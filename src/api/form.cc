#include "api/form.h"

#include <cctype>

namespace profiled::api {

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes `in`; `plus_is_space` for form encoding (a path keeps its '+').
bool Decode(std::string_view in, std::string* out, bool plus_is_space = true) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+' && plus_is_space) {
      out->push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = HexValue(in[i + 1]);
      int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out->push_back(c);
    }
  }
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The value of parameter `name` in a header value like `multipart/form-data; boundary=x`.
std::string HeaderParam(std::string_view header, std::string_view name) {
  std::string lower = Lower(header);
  std::string needle = std::string(name) + "=";
  size_t pos = 0;
  while ((pos = lower.find(needle, pos)) != std::string::npos) {
    bool at_start = pos == 0 || lower[pos - 1] == ';' || lower[pos - 1] == ' ';
    if (at_start) break;
    pos += needle.size();
  }
  if (pos == std::string::npos) return {};
  std::string_view v = header.substr(pos + needle.size());
  if (!v.empty() && v.front() == '"') {
    v.remove_prefix(1);
    return std::string(v.substr(0, v.find('"')));
  }
  return std::string(v.substr(0, v.find_first_of("; ")));
}

std::string ParseMultipart(std::string_view content_type, std::string_view body,
                           std::map<std::string, std::string>* fields) {
  std::string boundary = HeaderParam(content_type, "boundary");
  if (boundary.empty()) return "multipart/form-data without a boundary";
  std::string delimiter = "--" + boundary;
  size_t pos = body.find(delimiter);
  if (pos == std::string_view::npos) return "multipart body without its boundary";
  for (;;) {
    pos += delimiter.size();
    if (body.substr(pos, 2) == "--") return {};  // closing delimiter
    if (body.substr(pos, 2) != "\r\n") return "malformed multipart delimiter line";
    pos += 2;
    size_t headers_end = body.find("\r\n\r\n", pos);
    if (headers_end == std::string_view::npos) return "multipart part without headers";
    std::string_view headers = body.substr(pos, headers_end - pos);
    size_t content_start = headers_end + 4;
    size_t next = body.find("\r\n" + delimiter, content_start);
    if (next == std::string_view::npos) return "multipart part without a closing boundary";
    std::string name;
    size_t line_start = 0;
    while (line_start <= headers.size()) {
      size_t line_end = headers.find("\r\n", line_start);
      if (line_end == std::string_view::npos) line_end = headers.size();
      std::string_view line = headers.substr(line_start, line_end - line_start);
      if (Lower(line.substr(0, 20)).starts_with("content-disposition:")) {
        name = HeaderParam(line, "name");
      }
      line_start = line_end + 2;
    }
    if (!name.empty() && fields->count(name) == 0) {
      (*fields)[name] = std::string(body.substr(content_start, next - content_start));
    }
    pos = next + 2;
  }
}

}  // namespace

bool ForEachFormField(std::string_view encoded,
                      const std::function<bool(std::string_view, std::string)>& fn) {
  size_t start = 0;
  std::string key;
  std::string value;
  while (start < encoded.size()) {
    size_t amp = encoded.find('&', start);
    if (amp == std::string_view::npos) amp = encoded.size();
    std::string_view pair = encoded.substr(start, amp - start);
    start = amp + 1;
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string_view k = pair.substr(0, eq);
    std::string_view v = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (!Decode(k, &key) || !Decode(v, &value)) return false;
    if (!fn(key, std::move(value))) return false;
  }
  return true;
}

std::string ParseFormBody(std::string_view content_type, std::string_view body,
                          std::map<std::string, std::string>* fields) {
  if (Lower(content_type).starts_with("multipart/form-data")) {
    return ParseMultipart(content_type, body, fields);
  }
  // v is moved into the map; clang-tidy 14 misses the move inside the lambda.
  // NOLINTNEXTLINE(performance-unnecessary-value-param)
  bool ok = ForEachFormField(body, [&](std::string_view k, std::string v) {
    fields->try_emplace(std::string(k), std::move(v));
    return true;
  });
  return ok ? std::string() : "malformed percent-encoding in form body";
}

bool DecodePathSegment(std::string_view segment, std::string* out) {
  return Decode(segment, out, false);
}

std::vector<std::string_view> PathSegments(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    size_t end = path.find('/');
    out.push_back(path.substr(0, end));
    path.remove_prefix(end == std::string_view::npos ? path.size() : end);
  }
  return out;
}

}  // namespace profiled::api
