// The program-wide registry of managed types. It is filled during static
// initialisation (each Managed<T> registers itself) and read when a record is
// loaded through a Ref to a base class. It is the one piece of process-wide
// state in Starhold: type names are program-wide by nature.
#include <algorithm>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "data/type_registry.hpp"
#include "starhold/data.hpp"

namespace starhold {
namespace {

struct Registry {
  std::mutex mu;
  std::unordered_map<std::uint32_t, const TypeInfo*> by_hash;  // guarded by mu
  std::vector<std::string> problems;                           // guarded by mu
};

Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

namespace detail {

std::uint32_t type_hash(std::string_view name) noexcept {
  // FNV-1a: stable across compilers and runs, which std::hash is not.
  std::uint32_t h = 2166136261u;
  for (char c : name) {
    h ^= static_cast<std::uint8_t>(c);
    h *= 16777619u;
  }
  return h;
}

const TypeInfo& register_type_info(const TypeInfo& info) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  auto [it, inserted] = r.by_hash.try_emplace(info.hash, nullptr);
  if (!inserted) {
    if (it->second->name != info.name) {
      r.problems.push_back(fmt::format(
          "managed types '{}' and '{}' have the same type hash {:#010x}; rename one of them",
          it->second->name, info.name, info.hash));
    } else if (it->second->make != info.make) {
      r.problems.push_back(
          fmt::format("two different managed classes use the type name '{}'", info.name));
    }
    return *it->second;
  }
  it->second = new TypeInfo(info);  // lives for the whole program
  return *it->second;
}

const TypeInfo* find_type(std::uint32_t hash) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  auto it = r.by_hash.find(hash);
  return it == r.by_hash.end() ? nullptr : it->second;
}

std::vector<std::string> type_registry_problems() {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  return r.problems;
}

std::vector<const TypeInfo*> registered_types() {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  std::vector<const TypeInfo*> out;
  out.reserve(r.by_hash.size());
  for (auto& [h, info] : r.by_hash)
    out.push_back(info);
  return out;
}

std::vector<std::string> field_number_problems() {
  std::vector<std::string> problems;
  for (const TypeInfo* t : registered_types()) {
    if (t->make == nullptr) continue;
    std::string bytes;
    t->make()->encode(bytes);
    std::vector<std::uint64_t> seen;
    wire::Cursor c(bytes);
    while (!c.empty()) {
      const std::uint64_t tag = c.varint();
      const std::uint64_t number = tag >> 3;
      switch (static_cast<wire::Kind>(tag & 7)) {
        case wire::Kind::varint:
          c.varint();
          break;
        case wire::Kind::fixed64:
          c.take(8);
          break;
        case wire::Kind::fixed32:
          c.take(4);
          break;
        case wire::Kind::bytes:
          c.framed();
          break;
      }
      if (std::find(seen.begin(), seen.end(), number) != seen.end()) {
        problems.push_back(
            fmt::format("managed type '{}' declares field number {} twice", t->name, number));
      }
      seen.push_back(number);
    }
  }
  return problems;
}

}  // namespace detail

void ManagedObject::encode(std::string& out) const {
  FieldWriter w(out);
  write_fields(w);
  out.append(unknown_fields_);
}

void ManagedObject::decode(std::string_view record) {
  FieldReader r(record);
  read_fields(r);
  unknown_fields_.clear();
  r.append_unknown(unknown_fields_);
}

}  // namespace starhold
