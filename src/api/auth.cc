#include "api/auth.h"

#include <cstdint>
#include <random>

#include "core/hash.h"

namespace profiled::api {

namespace {
uint64_t RandomWord() {
  std::random_device random;
  return (uint64_t{random()} << 32) ^ random();
}
}  // namespace

SecretIndex::SecretIndex() : k0_(RandomWord()), k1_(RandomWord()) {}

uint64_t SecretIndex::Hash(std::string_view key) const { return SipHash24(k0_, k1_, key); }

bool SecretIndex::Add(std::string_view key, size_t value) {
  if (Find(key) != kNone) return false;
  entries_.emplace(Hash(key), Entry{std::string(key), value});
  return true;
}

size_t SecretIndex::Find(std::string_view presented) const {
  // Only keys with the presented key's hash are compared, in full: a wrong guess almost
  // never gets that far, so neither the stored keys' contents nor their lengths show.
  auto [begin, end] = entries_.equal_range(Hash(presented));
  size_t found = kNone;
  for (auto it = begin; it != end; ++it) {
    if (SameSecret(presented, it->second.key)) found = it->second.value;
  }
  return found;
}

std::string_view CredentialsOf(std::string_view header, std::string_view scheme) {
  if (header.size() <= scheme.size() || header[scheme.size()] != ' ') return {};
  for (size_t i = 0; i < scheme.size(); ++i) {
    char c = header[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != scheme[i]) return {};
  }
  std::string_view rest = header.substr(scheme.size() + 1);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  while (!rest.empty() && rest.back() == ' ') rest.remove_suffix(1);
  return rest;
}

bool SameSecret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

bool DecodeBase64(std::string_view in, std::string* out) {
  out->clear();
  uint32_t bits = 0;
  int count = 0;
  size_t i = 0;
  for (; i < in.size() && in[i] != '='; ++i) {
    char c = in[i];
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '+') {
      v = 62;
    } else if (c == '/') {
      v = 63;
    } else {
      return false;
    }
    bits = (bits << 6) | static_cast<uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out->push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  for (size_t pad = 0; i < in.size(); ++i, ++pad) {
    if (in[i] != '=' || pad >= 2) return false;
  }
  return true;
}

}  // namespace profiled::api
