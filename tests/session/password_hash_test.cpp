// Stored password hashes: upgraded when the configured cost rises, and
// never trusted to set the server's work. The stored Account records are
// read and edited in the store itself (their layout is the documented record
// format: docs/architecture.md, "Managed objects and their records").
#include <catch2/catch.hpp>

#include <optional>

#include "starhold/fields.hpp"
#include "support/raw_client.hpp"
#include "support/test_world.hpp"

namespace {

using test::op::login_failed;
using test::op::login_ok;

constexpr std::size_t kRecordHeader = 12;

// The stored record of the account `name`, with the object key it lives under.
struct StoredAccount {
  std::string key;
  std::string record;
};

StoredAccount read_account(const std::string& store, const std::string& name) {
  auto s = starhold::open_lmdb_store({store});
  std::string bound;
  REQUIRE(s->get(starhold::Table::names, "starhold.account." + name, bound));
  REQUIRE(bound.size() == 16);  // version, then object id, little-endian
  std::uint64_t id = 0;
  for (int i = 0; i < 8; ++i)
    id |= static_cast<std::uint64_t>(static_cast<unsigned char>(bound[8 + i])) << (8 * i);
  StoredAccount a;
  for (int i = 7; i >= 0; --i)
    a.key.push_back(static_cast<char>(id >> (8 * i)));  // object keys are big-endian
  REQUIRE(s->get(starhold::Table::objects, a.key, a.record));
  return a;
}

void write_account(const std::string& store, const StoredAccount& a) {
  auto s = starhold::open_lmdb_store({store});
  const starhold::StoreWrite w{starhold::Table::objects, a.key, &a.record};
  s->write({&w, 1});
}

// Field `number` of a record: where its value starts, and a varint's value
// or a byte string's length (fields: 1 name, 2 salt, 3 hash, 4 cost, 5 parallelism).
struct Field {
  std::uint64_t varint = 0;
  std::size_t at = 0, size = 0;
};
std::optional<Field> field(const std::string& record, std::uint64_t number) {
  starhold::wire::Cursor in(std::string_view(record).substr(kRecordHeader));
  while (!in.empty()) {
    const std::uint64_t tag = in.varint();
    Field f;
    if ((tag & 7) == 0) {
      f.at = static_cast<std::size_t>(in.position() - record.data());
      f.varint = in.varint();
    } else {
      const std::string_view bytes = in.framed();
      f.at = static_cast<std::size_t>(bytes.data() - record.data());
      f.size = bytes.size();
    }
    if (tag >> 3 == number) return f;
  }
  return std::nullopt;
}
std::int64_t signed_field(const std::string& record, std::uint64_t number, std::int64_t absent) {
  auto f = field(record, number);
  return f ? starhold::wire::unzigzag(f->varint) : absent;
}

std::uint16_t login_reason(std::uint16_t port, const std::string& name, const std::string& pw) {
  test::RawClient c(port);
  c.hello();
  const test::Frame f = c.login(name, pw);
  return f.op == login_ok ? 0 : test::get16(f.body, 0);
}

void hash_cost(starhold::ServerOptions& o, int cost, int parallelism) {
  o.password_hash_cost = cost;
  o.password_hash_parallelism = parallelism;
  o.signup_on_first_login = false;
}

// Creates the account `name` (password "secret", N=2^8, p=1) with a server
// that then stops, and returns its stored record.
StoredAccount create_account(const test::TempDir& dir, test::LogCapture& log,
                             const std::string& name) {
  {
    test::NetServer net(dir.path(), log, [](auto& o) { hash_cost(o, 8, 1); });
    net.server->set_password(name, "secret").get();
  }
  return read_account(dir.sub("store"), name);
}

}  // namespace

TEST_CASE("a stored hash is upgraded at the next login once the configured cost rises") {
  test::TempDir dir;
  test::LogCapture log;
  const std::string store = dir.sub("store");
  const auto before = create_account(dir, log, "up");
  CHECK(signed_field(before.record, 4, -1) == 8);
  CHECK(signed_field(before.record, 5, 1) == 1);
  {
    test::NetServer net(dir.path(), log, [](auto& o) { hash_cost(o, 10, 2); });
    CHECK(login_reason(net.tcp, "up", "secret") == 0);
    CHECK(test::wait_until([&] {
      return log.count({"upgraded the password hash of 'up'", "N=2^8, r=8, p=1",
                        "N=2^10, r=8, p=2"}) == 1;
    }));
  }
  const auto after = read_account(store, "up");
  CHECK(signed_field(after.record, 4, -1) == 10);
  CHECK(signed_field(after.record, 5, 1) == 2);
  {
    test::NetServer net(dir.path(), log, [](auto& o) { hash_cost(o, 10, 2); });
    CHECK(login_reason(net.tcp, "up", "secret") == 0);
    CHECK(login_reason(net.tcp, "up", "other") == 6);  // bad_credentials
  }
  CHECK(log.count({"upgraded the password hash"}) == 1);
}

TEST_CASE("a stored record with an absurd scrypt cost is refused without hashing") {
  test::TempDir dir;
  test::LogCapture log;
  const std::string store = dir.sub("store");
  auto a = create_account(dir, log, "big");
  auto cost = field(a.record, 4);
  REQUIRE(cost);
  // Replace the one-byte varint 16 (zig-zag of 8) by 80 (zig-zag of 40): N = 2^40.
  REQUIRE(a.record[cost->at] == '\x10');
  a.record[cost->at] = '\x50';
  REQUIRE(signed_field(a.record, 4, -1) == 40);
  write_account(store, a);

  test::NetServer net(dir.path(), log, [](auto& o) { hash_cost(o, 8, 1); });
  CHECK(login_reason(net.tcp, "big", "secret") == 21);  // internal_error
  CHECK(log.count({"'big'", "N=2^40", "outside"}) == 1);
}

TEST_CASE("a stored hash of the wrong length is refused, not compared past its end") {
  test::TempDir dir;
  test::LogCapture log;
  const std::string store = dir.sub("store");
  auto a = create_account(dir, log, "short");
  auto hash = field(a.record, 3);
  REQUIRE(hash);
  REQUIRE(hash->size == 32);
  // The field now says 8 bytes; the other 24 become an unknown field 9.
  a.record[hash->at - 1] = 8;
  a.record.insert(hash->at + 8, std::string(1, static_cast<char>((9 << 3) | 2)) + "\x18");
  REQUIRE(field(a.record, 3)->size == 8);
  write_account(store, a);

  test::NetServer net(dir.path(), log, [](auto& o) { hash_cost(o, 8, 1); });
  CHECK(login_reason(net.tcp, "short", "secret") == 21);  // internal_error
  CHECK(log.count({"'short'", "8 bytes"}) == 1);
}

TEST_CASE("scrypt parameters a server would not compute are refused at construction") {
  test::TempDir dir;
  test::LogCapture log;
  for (auto [cost, parallelism] : {std::pair{19, 1}, std::pair{3, 1}, std::pair{14, 17}}) {
    auto o = test::options_for(dir.sub("store"), log);
    o.password_hash_cost = cost;
    o.password_hash_parallelism = parallelism;
    CHECK_THROWS_AS(starhold::Server(o), starhold::UsageError);
  }
}
