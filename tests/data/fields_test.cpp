// Field encoding: round trips, schema evolution, and corrupted input.
#include <catch2/catch.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "starhold/data.hpp"

namespace {

using starhold::FieldError;
using starhold::FieldReader;
using starhold::FieldWriter;

template <class T>
std::string encode(const T& v) {
  std::string out;
  FieldWriter w(out);
  const_cast<T&>(v).fields(w);
  return out;
}

template <class T>
T decode(const std::string& bytes) {
  T v;
  FieldReader r(bytes);
  v.fields(r);
  return v;
}

struct Point {
  std::int32_t x = 0;
  std::int32_t y = 0;
  template <class F>
  void fields(F& f) {
    f(1, x);
    f(2, y);
  }
  bool operator==(const Point&) const = default;
};

enum class Color : std::uint8_t { red = 1, green = 2 };

struct Everything {
  bool flag = false;
  std::int8_t small = 0;
  std::uint16_t u16 = 0;
  std::int64_t big = 0;
  std::uint64_t ubig = 0;
  double ratio = 0;
  float fl = 0;
  Color color = Color::red;
  std::string name;
  std::vector<std::uint8_t> blob;
  std::vector<std::string> tags;
  std::map<std::string, std::int32_t> scores;
  std::optional<std::string> nickname = "default";
  std::vector<Point> path;
  Point origin;
  std::pair<int, std::string> pair;
  std::array<std::int16_t, 3> triple{};
  std::set<std::uint32_t> ids;
  std::chrono::milliseconds cooldown{0};
  starhold::Ref<Everything> next;

  template <class F>
  void fields(F& f) {
    f(1, flag);
    f(2, small);
    f(3, u16);
    f(4, big);
    f(5, ubig);
    f(6, ratio);
    f(7, fl);
    f(8, color);
    f(9, name);
    f(10, blob);
    f(11, tags);
    f(12, scores);
    f(13, nickname);
    f(14, path);
    f(15, origin);
    f(16, pair);
    f(17, triple);
    f(18, ids);
    f(19, cooldown);
    f(20, next);
  }
};

}  // namespace

TEST_CASE("every supported field type round-trips") {
  Everything e;
  e.flag = true;
  e.small = -128;
  e.u16 = 65535;
  e.big = std::numeric_limits<std::int64_t>::min();
  e.ubig = std::numeric_limits<std::uint64_t>::max();
  e.ratio = 3.25;
  e.fl = -1.5f;
  e.color = Color::green;
  e.name = std::string(300, 'n');  // longer than one length byte
  e.blob = {0, 1, 255};
  e.tags = {"a", "", "ccc"};
  e.scores = {{"x", -1}, {"y", 7}};
  e.nickname.reset();
  e.path = {{1, 2}, {-3, 4}};
  e.origin = {5, -6};
  e.pair = {9, "nine"};
  e.triple = {1, -2, 3};
  e.ids = {3, 1, 2};
  e.cooldown = std::chrono::milliseconds(1500);
  e.next = starhold::Ref<Everything>(starhold::ObjectId{42});

  Everything d = decode<Everything>(encode(e));
  CHECK(d.flag);
  CHECK(d.small == -128);
  CHECK(d.u16 == 65535);
  CHECK(d.big == e.big);
  CHECK(d.ubig == e.ubig);
  CHECK(d.ratio == 3.25);
  CHECK(d.fl == -1.5f);
  CHECK(d.color == Color::green);
  CHECK(d.name == e.name);
  CHECK(d.blob == e.blob);
  CHECK(d.tags == e.tags);
  CHECK(d.scores == e.scores);
  CHECK_FALSE(d.nickname.has_value());  // an empty optional stays empty despite its default
  CHECK(d.path == e.path);
  CHECK(d.origin == e.origin);
  CHECK(d.pair == e.pair);
  CHECK(d.triple == e.triple);
  CHECK(d.ids == e.ids);
  CHECK(d.cooldown == e.cooldown);
  CHECK(d.next.id().value == 42);
}

namespace {
struct PlayerV1 {
  std::string name;
  std::int32_t level = 0;
  std::string motto;
  template <class F>
  void fields(F& f) {
    f(1, name);
    f(2, level);
    f(3, motto);
  }
};
// V2 dropped motto (3) and added gold (4) and a nested home (5).
struct PlayerV2 {
  std::string name;
  std::int32_t level = 0;
  std::int64_t gold = 100;
  Point home{7, 7};
  template <class F>
  void fields(F& f) {
    f(1, name);
    f(2, level);
    f(4, gold);
    f(5, home);
  }
};
// V3 changed level from a number to a string: an incompatible change.
struct PlayerV3 {
  std::string level;
  template <class F>
  void fields(F& f) {
    f(2, level);
  }
};
}  // namespace

TEST_CASE("an old record reads into a newer schema with defaults for added fields") {
  PlayerV1 old{"ana", 12, "carpe diem"};
  const std::string bytes = encode(old);
  FieldReader r(bytes);
  PlayerV2 now;
  now.fields(r);
  CHECK(now.name == "ana");
  CHECK(now.level == 12);
  CHECK(now.gold == 100);
  CHECK(now.home == Point{7, 7});

  // The dropped field is kept byte for byte, so a newer program can read it back.
  std::string unknown;
  r.append_unknown(unknown);
  std::string rewritten = encode(now) + unknown;
  PlayerV1 back = decode<PlayerV1>(rewritten);
  CHECK(back.motto == "carpe diem");
  CHECK(back.level == 12);
}

TEST_CASE("a field whose kind changed is reported with its number") {
  PlayerV1 old{"ana", 12, ""};
  std::string bytes = encode(old);
  CHECK_THROWS_WITH(decode<PlayerV3>(bytes), Catch::Contains("field 2") &&
                                                 Catch::Contains("varint") &&
                                                 Catch::Contains("bytes"));
}

TEST_CASE("corrupted bytes give a FieldError, never a crash") {
  PlayerV2 p{"bob", 3, 5, {1, 2}};
  const std::string good = encode(p);
  // Every truncation of a valid message is either a shorter valid message or an error.
  for (std::size_t n = 0; n < good.size(); ++n) {
    try {
      (void)decode<PlayerV2>(good.substr(0, n));
    } catch (const FieldError&) {
    }
  }
  CHECK_THROWS_AS(decode<PlayerV2>(std::string("\x0a\x7f", 2)), FieldError);  // length past end
  CHECK_THROWS_AS(decode<PlayerV2>(std::string("\x0f", 1)), FieldError);      // invalid kind 7
  CHECK_THROWS_AS(decode<PlayerV2>(std::string("\x10\xff\xff\xff", 4)),
                  FieldError);                                                // truncated varint
  CHECK_THROWS_AS(decode<PlayerV2>(std::string("\x00\x01", 2)), FieldError);  // field number 0
}

namespace {
struct Wide {
  std::int64_t v = 300;
  template <class F>
  void fields(F& f) {
    f(1, v);
  }
};
struct Narrow {
  std::int8_t v = 0;
  template <class F>
  void fields(F& f) {
    f(1, v);
  }
};
}  // namespace

TEST_CASE("a value out of range for its field is an error, not a silent truncation") {
  CHECK_THROWS_WITH(decode<Narrow>(encode(Wide{})), Catch::Contains("out of range"));
}

namespace {
struct Node {
  std::vector<Node> children;
  template <class F>
  void fields(F& f) {
    f(1, children);
  }
};
}  // namespace

TEST_CASE("deeply nested values are refused instead of exhausting the stack") {
  Node root;
  Node* at = &root;
  for (int i = 0; i < 30; ++i) {
    at->children.emplace_back();
    at = &at->children.back();
  }
  CHECK_NOTHROW(decode<Node>(encode(root)));  // 30 levels is fine
  for (int i = 0; i < 200; ++i) {
    at->children.emplace_back();
    at = &at->children.back();
  }
  CHECK_THROWS_WITH(decode<Node>(encode(root)), Catch::Contains("nested too deeply"));
}
