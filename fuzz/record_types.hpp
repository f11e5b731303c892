// Managed types whose records the fields fuzzer decodes, chosen to reach every
// codec in starhold/fields.hpp: scalars, strings and blobs, every container,
// nested structs (also recursive, up to the nesting limit), and a later and an
// earlier version of one type, so that unknown fields are kept and written back.
// Shared by fields.cpp (the fuzzer) and make_corpus.cpp (its seeds).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <starhold/data.hpp>

namespace fuzz {

enum class Colour : std::int16_t { red = -1, green = 0, blue = 7 };

// Every scalar codec. Compared by its encoding, since a NaN is not equal to itself.
struct Scalars final : starhold::Managed<Scalars> {
  static constexpr std::string_view type_name = "fuzz.Scalars";
  bool flag = false;
  std::int8_t i8 = 0;
  std::uint8_t u8 = 0;
  std::int16_t i16 = 0;
  std::uint16_t u16 = 0;
  std::int32_t i32 = 0;
  std::uint32_t u32 = 0;
  std::int64_t i64 = 0;
  std::uint64_t u64 = 0;
  float ratio = 0;
  double d = 0;
  Colour colour = Colour::green;
  std::chrono::milliseconds wait{0};
  std::chrono::system_clock::time_point when{};
  starhold::ObjectId id;
  starhold::Ref<Scalars> other;
  std::optional<std::int32_t> maybe;
  std::string text;
  std::vector<std::uint8_t> blob;
  template <class F>
  void fields(F& f) {
    f(1, flag);
    f(2, i8);
    f(3, u8);
    f(4, i16);
    f(5, u16);
    f(6, i32);
    f(7, u32);
    f(8, i64);
    f(9, u64);
    f(10, ratio);
    f(11, d);
    f(12, colour);
    f(13, wait);
    f(14, when);
    f(15, id);
    f(16, other);
    f(17, maybe);
    f(18, text);
    f(19, blob);
  }
};

// A nested message.
struct Item {
  std::string name;
  std::uint32_t count = 0;
  std::optional<std::string> note;
  friend bool operator==(const Item&, const Item&) = default;
  friend auto operator<=>(const Item&, const Item&) = default;
  template <class F>
  void fields(F& f) {
    f(1, name);
    f(2, count);
    f(3, note);
  }
};

// A message that contains itself: bounded only by the nesting limit.
struct Tree {
  std::int32_t value = 0;
  std::vector<Tree> children;
  friend bool operator==(const Tree&, const Tree&) = default;
  template <class F>
  void fields(F& f) {
    f(1, value);
    f(2, children);
  }
};

// Ordered containers and nested messages; re-encoding gives the same bytes.
struct Containers final : starhold::Managed<Containers> {
  static constexpr std::string_view type_name = "fuzz.Containers";
  std::vector<std::int64_t> numbers;
  std::deque<std::string> lines;
  std::set<std::int32_t> ids;
  std::map<std::string, Item> items;
  std::array<std::uint16_t, 3> triple{};
  std::pair<std::int32_t, std::string> pair;
  std::vector<std::vector<std::int32_t>> grid;
  std::map<std::int32_t, std::vector<Item>> groups;
  std::optional<Item> held;
  std::vector<std::optional<std::string>> slots;
  std::set<Item> unique_items;
  Tree tree;
  friend bool operator==(const Containers& a, const Containers& b) {
    return a.numbers == b.numbers && a.lines == b.lines && a.ids == b.ids && a.items == b.items &&
           a.triple == b.triple && a.pair == b.pair && a.grid == b.grid && a.groups == b.groups &&
           a.held == b.held && a.slots == b.slots && a.unique_items == b.unique_items &&
           a.tree == b.tree;
  }
  template <class F>
  void fields(F& f) {
    f(1, numbers);
    f(2, lines);
    f(3, ids);
    f(4, items);
    f(5, triple);
    f(6, pair);
    f(7, grid);
    f(8, groups);
    f(9, held);
    f(10, slots);
    f(11, unique_items);
    f(12, tree);
  }
};

// Unordered containers: compared by value, as their encoded order may vary.
struct Unordered final : starhold::Managed<Unordered> {
  static constexpr std::string_view type_name = "fuzz.Unordered";
  std::unordered_map<std::string, std::int32_t> scores;
  std::unordered_set<std::uint64_t> members;
  std::unordered_map<std::int32_t, std::vector<std::string>> tags;
  friend bool operator==(const Unordered& a, const Unordered& b) {
    return a.scores == b.scores && a.members == b.members && a.tags == b.tags;
  }
  template <class F>
  void fields(F& f) {
    f(1, scores);
    f(2, members);
    f(3, tags);
  }
};

// Two versions of one type. The old one knows fields 1-3; the new one renames
// nothing and adds 4-6. An old program keeps the new fields it cannot read.
struct ProfileV1 final : starhold::Managed<ProfileV1> {
  static constexpr std::string_view type_name = "fuzz.ProfileV1";
  std::string name;
  std::int32_t level = 1;
  std::vector<Item> bag;
  template <class F>
  void fields(F& f) {
    f(1, name);
    f(2, level);
    f(3, bag);
  }
};

struct ProfileV2 final : starhold::Managed<ProfileV2> {
  static constexpr std::string_view type_name = "fuzz.ProfileV2";
  std::string name;
  std::int32_t level = 1;
  std::vector<Item> bag;
  std::map<std::string, std::int64_t> counters;
  std::optional<Item> equipped;
  std::uint64_t gold = 0;
  friend bool operator==(const ProfileV2& a, const ProfileV2& b) {
    return a.name == b.name && a.level == b.level && a.bag == b.bag && a.counters == b.counters &&
           a.equipped == b.equipped && a.gold == b.gold;
  }
  template <class F>
  void fields(F& f) {
    f(1, name);
    f(2, level);
    f(3, bag);
    f(4, counters);
    f(5, equipped);
    f(6, gold);
  }
};

// The first byte of a fuzz input says which type decodes the rest.
enum class Subject : std::uint8_t { scalars, containers, unordered, profile };
inline constexpr int kSubjects = 4;

}  // namespace fuzz
