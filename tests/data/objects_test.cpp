// Managed objects and names through the public API.
#include <catch2/catch.hpp>

#include "support/test_support.hpp"

namespace {

struct Room;

struct Item final : starhold::Managed<Item> {
  static constexpr std::string_view type_name = "test.Item";
  std::string label;
  std::int32_t weight = 0;
  Item() = default;
  Item(std::string l, std::int32_t w) : label(std::move(l)), weight(w) {}
  template <class F>
  void fields(F& f) {
    f(1, label);
    f(2, weight);
  }
};

// An abstract managed interface and two implementations, for polymorphic refs.
struct Creature : starhold::ManagedObject {
  virtual std::string speak() const = 0;
};
struct Cat final : starhold::Managed<Cat, Creature> {
  static constexpr std::string_view type_name = "test.Cat";
  std::string name;
  std::string speak() const override { return name + ": meow"; }
  template <class F>
  void fields(F& f) {
    f(1, name);
  }
};
struct Dog final : starhold::Managed<Dog, Creature> {
  static constexpr std::string_view type_name = "test.Dog";
  std::int32_t volume = 1;
  std::string speak() const override { return std::string(static_cast<std::size_t>(volume), '!'); }
  template <class F>
  void fields(F& f) {
    f(1, volume);
  }
};

struct Room final : starhold::Managed<Room> {
  static constexpr std::string_view type_name = "test.Room";
  std::vector<starhold::Ref<Item>> items;
  std::vector<starhold::Ref<Creature>> creatures;
  template <class F>
  void fields(F& f) {
    f(1, items);
    f(2, creatures);
  }
};

}  // namespace

TEST_CASE("objects created in one task are found by later tasks, by name and by ref") {
  test::TempDir dir;
  test::LogCapture log;
  starhold::Server server(test::options_for(dir.path(), log));
  server.start();

  starhold::Ref<Item> sword;
  test::run(server, [&](starhold::Transaction& tx) {
    auto& room = tx.create<Room>();
    auto& item = tx.create<Item>("sword", 12);
    sword = item;
    room.items.push_back(item);
    room.creatures.push_back(tx.create<Cat>());
    tx.bind("hall", room);
  });
  REQUIRE(sword);

  test::run(server, [&](starhold::Transaction& tx) {
    auto& room = tx.lookup<Room>("hall");
    REQUIRE(room.items.size() == 1);
    CHECK(room.items[0] == sword);
    auto& item = room.items[0].get(tx);
    CHECK(item.label == "sword");
    CHECK(item.weight == 12);
    CHECK(&tx.get(sword) == &item);  // one instance per object within a task
    CHECK(tx.get(room.creatures[0]).speak() == ": meow");
  });
}

TEST_CASE("a reference to a base class loads the stored derived class") {
  test::TempDir dir;
  test::LogCapture log;
  starhold::Server server(test::options_for(dir.path(), log));
  server.start();
  test::run(server, [&](starhold::Transaction& tx) {
    auto& room = tx.create<Room>();
    auto& cat = tx.create<Cat>();
    cat.name = "tom";
    auto& dog = tx.create<Dog>();
    dog.volume = 3;
    room.creatures = {cat, dog};
    tx.bind("zoo", room);
  });
  test::run(server, [&](starhold::Transaction& tx) {
    auto& room = tx.lookup<Room>("zoo");
    CHECK(tx.get(room.creatures[0]).speak() == "tom: meow");
    CHECK(tx.get(room.creatures[1]).speak() == "!!!");
    // Asking for the wrong concrete type names both types.
    CHECK_THROWS_WITH(tx.get(starhold::Ref<Cat>(room.creatures[1].id())),
                      Catch::Contains("test.Dog") && Catch::Contains("test.Cat"));
  });
}

TEST_CASE("missing names, wrong types and removed objects give clear errors") {
  test::TempDir dir;
  test::LogCapture log;
  starhold::Server server(test::options_for(dir.path(), log));
  server.start();
  starhold::Ref<Item> gone;
  test::run(server, [&](starhold::Transaction& tx) {
    auto& item = tx.create<Item>("old", 1);
    gone = item;
    tx.bind("item", item);
  });
  test::run(server, [&](starhold::Transaction& tx) {
    CHECK_THROWS_AS(tx.lookup<Item>("nothing"), starhold::NameNotBound);
    CHECK(tx.find<Item>("nothing") == nullptr);
    CHECK_THROWS_AS(tx.lookup<Room>("item"), starhold::WrongType);
    tx.remove(gone);
    // Removed within this task already.
    CHECK_THROWS_AS(tx.get(gone), starhold::ObjectNotFound);
  });
  test::run(server, [&](starhold::Transaction& tx) {
    try {
      tx.get(gone);
      FAIL("get of a removed object must throw");
    } catch (const starhold::ObjectNotFound& e) {
      CHECK(e.id() == gone.id().value);
      CHECK(e.type() == "test.Item");
      CHECK(std::string(e.what()).find(std::to_string(gone.id().value)) != std::string::npos);
    }
    // The name still points at the removed object: lookup says so clearly.
    CHECK_THROWS_AS(tx.lookup<Item>("item"), starhold::ObjectNotFound);
    CHECK(tx.unbind("item"));
    CHECK_FALSE(tx.unbind("item"));
  });
  test::run(server, [&](starhold::Transaction& tx) { CHECK(tx.find<Item>("item") == nullptr); });
}

TEST_CASE("next_bound_name visits names in order, including this task's own changes") {
  test::TempDir dir;
  test::LogCapture log;
  starhold::Server server(test::options_for(dir.path(), log));
  server.start();
  test::run(server, [&](starhold::Transaction& tx) {
    auto& item = tx.create<Item>("x", 0);
    for (const char* n : {"player.carol", "player.alice", "zone.1", "player.bob"})
      tx.bind(n, item);
  });
  auto names_after = [&](starhold::Transaction& tx, std::string from) {
    std::vector<std::string> out;
    while (auto n = tx.next_bound_name(from)) {
      if (n->rfind("player.", 0) != 0) break;
      out.push_back(*n);
      from = *n;
    }
    return out;
  };
  test::run(server, [&](starhold::Transaction& tx) {
    CHECK(names_after(tx, "player.") ==
          std::vector<std::string>{"player.alice", "player.bob", "player.carol"});
    tx.unbind("player.bob");
    tx.bind("player.dave", tx.create<Item>("d", 0));
    CHECK(names_after(tx, "player.") ==
          std::vector<std::string>{"player.alice", "player.carol", "player.dave"});
    CHECK(*tx.next_bound_name("") == "player.alice");
  });
  test::run(server, [&](starhold::Transaction& tx) {
    CHECK(names_after(tx, "player.") ==
          std::vector<std::string>{"player.alice", "player.carol", "player.dave"});
  });
}

TEST_CASE("objects and names persist across a restart") {
  test::TempDir dir;
  test::LogCapture log;
  starhold::Ref<Item> ref;
  {
    starhold::Server server(test::options_for(dir.path(), log));
    server.start();
    test::run(server, [&](starhold::Transaction& tx) {
      auto& item = tx.create<Item>("kept", 7);
      ref = item;
      tx.bind("kept", item);
    });
  }
  starhold::Server server(test::options_for(dir.path(), log));
  server.start();
  test::run(server, [&](starhold::Transaction& tx) {
    auto& item = tx.lookup<Item>("kept");
    CHECK(item.id() == ref.id());
    CHECK(item.weight == 7);
    // Ids keep growing after a restart: a new object never reuses one.
    CHECK(tx.create<Item>("new", 1).id().value > ref.id().value);
  });
}
