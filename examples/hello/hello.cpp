// hello: a persistent counter and a periodic task.
//
// Run it twice: the counter continues where the last run stopped, because
// every change is a committed transaction in the store under ./hello-data.
#include <chrono>
#include <cstdio>
#include <thread>

#include "starhold/starhold.hpp"

// A managed object: a class whose fields Starhold stores.
struct Counter final : starhold::Managed<Counter> {
  static constexpr std::string_view type_name = "hello.Counter";
  std::int64_t value = 0;
  template <class F>
  void fields(F& f) {
    f(1, value);
  }
};

int main() {
  starhold::ServerOptions options;
  options.store_path = "hello-data";
  starhold::Server server(options);

  // A task handler: runs as a transaction each time the "tick" task fires.
  server.handle("tick", [](starhold::Transaction& tx, std::string_view) {
    auto& counter = tx.lookup<Counter>("counter");
    ++counter.value;  // detected and stored when the task commits
    // A task may run more than once (it is retried after a conflict), so
    // anything that leaves the transaction waits for the commit.
    tx.on_commit([value = counter.value] {
      std::printf("tick: counter = %lld\n", static_cast<long long>(value));
    });
  });
  server.start();

  // First run: create the counter and bind it to a name, then schedule the
  // periodic tick. Both are stored, so a later run finds them again.
  bool first_run = false;
  server
      .submit("setup",
              [&](starhold::Transaction& tx) {
                first_run = false;  // reset: the body may run again after a conflict
                if (tx.find<Counter>("counter") != nullptr) return;
                first_run = true;
                tx.bind("counter", tx.create<Counter>());
                tx.schedule_periodic("tick", "", std::chrono::milliseconds(0),
                                     std::chrono::milliseconds(200));
              })
      .get();
  std::printf(first_run ? "created a new counter\n" : "found the counter from an earlier run\n");

  std::this_thread::sleep_for(std::chrono::seconds(1));
  server.stop();  // the periodic task stays stored and resumes on the next run
}
