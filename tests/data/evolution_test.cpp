// Schema evolution across programs, and corrupted records.
#include <catch2/catch.hpp>

#include "support/test_support.hpp"

namespace {

// The current version of the Player that test_helper stores in version 1:
// motto (3) was dropped, gold (4) was added with a default.
struct Player final : starhold::Managed<Player> {
  static constexpr std::string_view type_name = "evolve.Player";
  std::string name;
  std::int32_t level = 0;
  std::int64_t gold = 100;
  template <class F>
  void fields(F& f) {
    f(1, name);
    f(2, level);
    f(4, gold);
  }
};

std::string run_helper(const std::string& command, const std::string& dir) {
  test::Child child({test::helper_path(), command, dir});
  std::string out;
  while (auto line = child.read_line(std::chrono::seconds(30)))
    out += *line;
  REQUIRE(child.wait() == 0);
  return out;
}

}  // namespace

TEST_CASE("a record from an older program reads with defaults and keeps its unknown fields") {
  test::TempDir dir;
  const std::string store = dir.sub("world");
  run_helper("write-v1", store);
  {
    test::LogCapture log;
    starhold::Server server(test::options_for(store, log));
    server.start();
    test::run(server, [](starhold::Transaction& tx) {
      auto& p = tx.lookup<Player>("player");
      CHECK(p.name == "ana");
      CHECK(p.level == 12);
      CHECK(p.gold == 100);
      p.level = 13;
      p.gold = 250;
    });
  }
  // The old program still reads what the new one wrote, its motto intact.
  CHECK(run_helper("read-v1", store) == "ana|13|carpe diem");
}

namespace {
struct Sword final : starhold::Managed<Sword> {
  static constexpr std::string_view type_name = "test.Sword";
  std::string name;
  std::int32_t damage = 0;
  template <class F>
  void fields(F& f) {
    f(1, name);
    f(2, damage);
  }
};

std::string id_key(std::uint64_t id) {
  std::string k(8, '\0');
  for (int i = 0; i < 8; ++i)
    k[static_cast<std::size_t>(i)] = static_cast<char>(id >> (8 * (7 - i)));
  return k;
}
}  // namespace

TEST_CASE("a corrupted record raises DecodeError naming the object and its type") {
  test::TempDir dir;
  test::LogCapture log;
  starhold::Ref<Sword> sword, other;
  {
    starhold::Server server(test::options_for(dir.path(), log));
    server.start();
    test::run(server, [&](starhold::Transaction& tx) {
      auto& s = tx.create<Sword>();
      s.name = "excalibur";
      s.damage = 99;
      sword = s;
      other = tx.create<Sword>();
    });
  }
  {
    // Damage the records on disk: keep sword's 12-byte header but break its
    // fields; cut the other record short of its header.
    auto store = starhold::open_lmdb_store({dir.path()});
    std::string value;
    REQUIRE(store->get(starhold::Table::objects, id_key(sword.id().value), value));
    REQUIRE(value.size() > 14);
    std::string broken =
        value.substr(0, 12) + "\x12\xff\x01";  // field 2 as bytes, length past the end
    std::string cut = "\x01\x02\x03";
    const std::string k1 = id_key(sword.id().value), k2 = id_key(other.id().value);
    std::vector<starhold::StoreWrite> writes{{starhold::Table::objects, k1, &broken},
                                             {starhold::Table::objects, k2, &cut}};
    store->write(writes);
  }
  starhold::Server server(test::options_for(dir.path(), log));
  server.start();
  test::run(server, [&](starhold::Transaction& tx) {
    try {
      tx.get(sword);
      FAIL("decoding a corrupted record must throw");
    } catch (const starhold::DecodeError& e) {
      CHECK(e.id() == sword.id().value);
      CHECK(e.type() == "test.Sword");
      CHECK(std::string(e.what()).find("#" + std::to_string(sword.id().value)) !=
            std::string::npos);
    }
    CHECK_THROWS_WITH(tx.get(other), Catch::Contains("header") &&
                                         Catch::Contains(std::to_string(other.id().value)));
  });
}
