#include "redis/reply.h"

#include <cstdio>

namespace profiled::redis {

std::string_view Reply::error_code() const {
  if (type != ReplyType::kError) return {};
  std::string_view s = str;
  return s.substr(0, s.find(' '));
}

std::string Reply::ToString() const {
  switch (type) {
    case ReplyType::kNil: return "nil";
    case ReplyType::kString: {
      std::string out = "\"";
      for (char c : str) {
        auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte >= 0x7f || c == '"' || c == '\\') {
          char hex[5];
          std::snprintf(hex, sizeof hex, "\\x%02x", byte);
          out += hex;
        } else {
          out += c;
        }
      }
      return out + "\"";
    }
    case ReplyType::kStatus: return "+" + str;
    case ReplyType::kError: return "-" + str;
    case ReplyType::kInteger: return ":" + std::to_string(integer);
    case ReplyType::kArray: {
      std::string out = "[";
      for (size_t i = 0; i < elements.size(); ++i) {
        if (i > 0) out += ", ";
        out += elements[i].ToString();
      }
      return out + "]";
    }
  }
  return "?";
}

}  // namespace profiled::redis
