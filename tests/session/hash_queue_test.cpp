// Password hashing has a bounded queue and threads of its own: a login storm
// beyond the queue is told to retry at once, not queued without end, and
// the hashing threads yield the cores to the workers.
#include <catch2/catch.hpp>

#include <dirent.h>
#include <sys/resource.h>

#include <fmt/format.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

#include "support/raw_client.hpp"
#include "support/test_world.hpp"

namespace {

constexpr std::uint16_t kServerBusy = 22;

// Field `field` of /proc's stat line (nice is 19, user CPU ticks 14) of
// each thread of this process named `name`.
std::vector<long> stat_of_threads(const std::string& name, int field) {
  std::vector<long> out;
  DIR* dir = ::opendir("/proc/self/task");
  REQUIRE(dir != nullptr);
  while (const dirent* e = ::readdir(dir)) {
    const std::string tid = e->d_name;
    if (tid == "." || tid == "..") continue;
    std::string comm;
    std::getline(std::ifstream("/proc/self/task/" + tid + "/comm"), comm);
    if (comm != name) continue;
    std::string stat;
    std::getline(std::ifstream("/proc/self/task/" + tid + "/stat"), stat);
    // Fields after the command's closing parenthesis, from field 3 (state).
    std::istringstream rest(stat.substr(stat.rfind(')') + 2));
    std::string value;
    for (int i = 3; i <= field; ++i)
      rest >> value;
    out.push_back(std::stol(value));
  }
  ::closedir(dir);
  return out;
}

}  // namespace

TEST_CASE("a login storm beyond the hashing queue is told to retry, at once") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log, [](starhold::ServerOptions& o) {
    o.password_hash_threads = 1;
    o.password_hash_queue = 2;
    o.password_hash_cost = 14;  // tens of milliseconds a hash: the storm arrives within one
    o.password_hash_parallelism = 1;
  });
  constexpr int kClients = 12;
  std::vector<std::unique_ptr<test::RawClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    // Distinct addresses and names: the login limits stay out of the way.
    clients.push_back(std::make_unique<test::RawClient>(net.tcp, fmt::format("127.0.4.{}", i + 1)));
    clients.back()->hello();
  }
  for (int i = 0; i < kClients; ++i)
    clients[i]->send(test::op::login, test::str16(fmt::format("storm-{}", i)) + test::str16("pw"));
  int ok = 0, busy = 0;
  std::vector<int> refused;
  for (int i = 0; i < kClients; ++i) {
    auto f = clients[i]->read_skipping_heartbeats();
    REQUIRE(f);
    if (f->op == test::op::login_ok) {
      ++ok;
    } else {
      REQUIRE(f->op == test::op::login_failed);
      CHECK(test::get16(f->body, 0) == kServerBusy);
      ++busy;
      refused.push_back(i);
    }
  }
  CHECK(ok + busy == kClients);
  CHECK(ok >= 2);  // at least the two the queue holds
  CHECK(busy >= 1);
  CHECK(log.count({"hashing queue is full"}) == static_cast<std::size_t>(busy));
  // A refused client that tries again on the same connection gets in.
  for (int i : refused) {
    auto f = clients[i]->login(fmt::format("storm-{}", i), "pw");
    for (int tries = 0; f.op == test::op::login_failed && tries < 1000; ++tries) {
      REQUIRE(test::get16(f.body, 0) == kServerBusy);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // as a client backs off
      f = clients[i]->login(fmt::format("storm-{}", i), "pw");
    }
    CHECK(f.op == test::op::login_ok);
  }
}

TEST_CASE("passwords are hashed on threads of their own that yield to the workers") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log,
                      [](starhold::ServerOptions& o) { o.password_hash_threads = 3; });
  const int own = ::getpriority(PRIO_PROCESS, 0);
  const auto nice = stat_of_threads("sh-hash", 19);
  REQUIRE(nice.size() == 3);
  for (long n : nice)
    CHECK(n == std::min(19, own + 10));
}

TEST_CASE("a server stopped while it hashes passwords stops cleanly") {
  // One login is being hashed and two wait in the queue when the server
  // stops: each holds its connection, which must be let go while the
  // network's io_contexts still exist (AddressSanitizer sees it otherwise).
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log, [](starhold::ServerOptions& o) {
    o.password_hash_threads = 1;
    o.password_hash_queue = 4;
    o.password_hash_cost = 14;  // a hash takes long enough for the stop to find it running
    o.password_hash_parallelism = 4;
  });
  std::vector<std::unique_ptr<test::RawClient>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<test::RawClient>(net.tcp, fmt::format("127.0.5.{}", i + 1)));
    clients.back()->hello();
    clients.back()->send(test::op::login,
                         test::str16(fmt::format("late-{}", i)) + test::str16("pw"));
  }
  // The first hash is under way once its thread has used CPU time.
  CHECK(test::wait_until([] { return stat_of_threads("sh-hash", 14).at(0) > 0; }));
  net.server->stop();
  net.server.reset();
  for (auto& c : clients) {
    // A goodbye, or the connection closed: no session began.
    while (auto f = c->read(std::chrono::seconds(5)))
      CHECK(f->op == test::op::disconnect);
  }
}
