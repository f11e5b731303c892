// Bounds that hold however a client behaves: a client that sends faster than
// its messages are handled fills its session's inbound queue to the
// configured bound, and the server then stops reading from it (TCP holds
// the rest back) until the queue drains; nothing is lost.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "support/raw_client.hpp"
#include "support/test_world.hpp"

namespace {

using test::op::session_message;

// Occupies every task worker until release() (or destruction).
class BusyWorkers {
 public:
  // One at a time: each is submitted once the one before occupies a worker.
  BusyWorkers(starhold::Server& server, int workers) {
    for (int i = 0; i < workers; ++i) {
      server.submit(
          "test.busy",
          [this](starhold::Transaction&) {
            started_.fetch_add(1);
            while (!released_.load())
              std::this_thread::yield();
            finished_.fetch_add(1);  // the last touch of this object
          },
          [](std::exception_ptr) {});
      if (!test::wait_until([&] { return started_.load() > i; })) {
        release();  // the destructor does not run for a constructor that throws
        FAIL("a busy task did not start");
      }
    }
  }
  // Releases the tasks and waits until none of them touches this object.
  ~BusyWorkers() {
    release();
    while (finished_.load() < started_.load())
      std::this_thread::yield();
  }
  void release() { released_ = true; }

 private:
  std::atomic<int> started_{0};
  std::atomic<int> finished_{0};
  std::atomic<bool> released_{false};
};

// Sends count "num:i" messages of about `bytes` bytes each while every
// worker is busy, and checks the server read exactly `expected` of them
// before it stopped reading; then lets the workers go and checks every
// message is answered, in order.
void check_inbound_bound(std::size_t queue_messages, std::size_t queue_bytes, int count,
                         std::size_t bytes, std::uint64_t expected) {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log, [&](starhold::ServerOptions& o) {
    o.inbound_queue_messages = queue_messages;
    o.inbound_queue_bytes = queue_bytes;
    o.task_time_limit = std::chrono::seconds(60);
    o.log_level = starhold::LogLevel::debug;
    // Messages must queue behind busy workers, not run on the network thread.
    o.tasks_on_network_threads = false;
  });
  test::RawClient c(net.tcp);
  c.connect_session("eager", "pw");
  REQUIRE(c.read_skipping_heartbeats());  // the welcome
  const std::uint64_t before = net.server->metrics().messages_received;
  BusyWorkers busy(*net.server, 2);
  std::string burst;
  for (int i = 1; i <= count; ++i) {
    const std::string m = "num:" + std::to_string(i);
    burst += test::frame(session_message, m + std::string(bytes - m.size(), ' '));
  }
  std::thread sender([&] { c.send_raw(burst); });
  REQUIRE(test::wait_until([&] { return log.count({"stops reading", "inbound queue is full"}); }));
  // One message taken for its (waiting) task, and the queue's worth.
  CHECK(net.server->metrics().messages_received - before == expected);
  busy.release();
  int n = 0;
  while (auto f = c.read_skipping_heartbeats()) {
    if (f->body != "ack:" + std::to_string(n + 1)) break;
    if (++n == count) break;
  }
  sender.join();
  CHECK(n == count);
}

}  // namespace

TEST_CASE("a session's inbound queue holds at most inbound_queue_messages") {
  check_inbound_bound(8, std::size_t{1} << 20, 200, 16, 1 + 8);
}

TEST_CASE("a session's inbound queue holds at most inbound_queue_bytes") {
  // Messages of 10,000 bytes: the 7th brings the queue to 70,000 >= 65,536.
  check_inbound_bound(256, 65536, 100, 10000, 1 + 7);
}

TEST_CASE(
    "a session's message is answered while every worker is busy: its task runs on the "
    "network thread") {
  for (const bool here : {true, false}) {
    CAPTURE(here);
    test::TempDir dir;
    test::LogCapture log;
    test::NetServer net(dir.path(), log, [&](starhold::ServerOptions& o) {
      o.task_time_limit = std::chrono::seconds(60);
      o.tasks_on_network_threads = here;
    });
    test::RawClient c(net.tcp);
    c.connect_session("prompt", "pw");
    REQUIRE(c.read_skipping_heartbeats());  // the welcome
    {
      BusyWorkers busy(*net.server, 2);
      c.send(session_message, "echo:now");
      auto f = c.read_skipping_heartbeats(here ? std::chrono::seconds(20)
                                               : std::chrono::milliseconds(300));
      if (here) {
        REQUIRE(f);
        CHECK(f->body == "now");
      } else {
        CHECK_FALSE(f);  // it waits for a worker
      }
    }
    if (!here) {
      auto f = c.read_skipping_heartbeats();
      REQUIRE(f);
      CHECK(f->body == "now");
    }
  }
}
