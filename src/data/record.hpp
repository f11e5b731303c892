// Stored records and keys.
//
// An object's store value is a 12-byte header (commit version, 8 bytes
// little-endian; type hash, 4 bytes little-endian) followed by its encoded
// fields. A name's value is its version and the bound object id (8 + 8
// bytes). Keys of ids are 8 bytes big-endian so the store orders them.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace starhold::data {

// Commit sequence number. Each commit gets the next one; an object's version
// is the number of the commit that last wrote it. 0 means "absent".
using Version = std::uint64_t;

inline constexpr std::size_t kRecordHeader = 12;

// An immutable record shared by the cache, running transactions and the
// group committer. An empty value means the object does not exist (never
// created, or removed by commit `version`).
struct Record {
  Version version = 0;
  std::uint32_t type_hash = 0;
  std::string value;

  bool exists() const noexcept { return !value.empty(); }
  std::string_view fields() const noexcept {
    return value.size() < kRecordHeader ? std::string_view()
                                        : std::string_view(value).substr(kRecordHeader);
  }
  std::size_t footprint() const noexcept { return sizeof(Record) + value.capacity() + 32; }
};
using RecordPtr = std::shared_ptr<const Record>;

inline void store_u64le(char* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i)
    p[i] = static_cast<char>(v >> (8 * i));
}
inline std::uint64_t load_u64le(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}
inline void store_u32le(char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i)
    p[i] = static_cast<char>(v >> (8 * i));
}
inline std::uint32_t load_u32le(const char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<std::uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

// A record read from the store. A value too short for its header is kept
// as is (version 0) so that decoding reports it as corrupt.
inline RecordPtr parse_record(std::string value) {
  auto r = std::make_shared<Record>();
  if (value.size() >= kRecordHeader) {
    r->version = load_u64le(value.data());
    r->type_hash = load_u32le(value.data() + 8);
  }
  r->value = std::move(value);
  if (r->value.empty()) r->value.push_back('\0');  // stored but empty: corrupt, not absent
  return r;
}

struct IdKey {
  char bytes[8];
  explicit IdKey(std::uint64_t id) {
    for (int i = 0; i < 8; ++i)
      bytes[i] = static_cast<char>(id >> (8 * (7 - i)));
  }
  std::string_view view() const noexcept { return std::string_view(bytes, 8); }
};

inline std::uint64_t parse_id_key(std::string_view k) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < k.size() && i < 8; ++i)
    v = (v << 8) | static_cast<unsigned char>(k[i]);
  return v;
}

}  // namespace starhold::data
