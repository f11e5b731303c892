#include <memory>
#include <mutex>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/engine.hpp"
#include "data/type_registry.hpp"
#include "net/tls.hpp"
#include "starhold/server.hpp"

namespace starhold {
namespace detail {
namespace {

data::DataOptions data_options(const ServerOptions& o) {
  return data::DataOptions{o.cache_bytes, o.max_pending_commits, o.max_pending_commit_bytes};
}

void check_options(const ServerOptions& o) {
  std::vector<std::string> bad;
  if (o.workers < 0) bad.push_back("workers must be >= 0");
  if (o.task_time_limit.count() <= 0) bad.push_back("task_time_limit must be positive");
  if (o.max_conflict_retries < 0) bad.push_back("max_conflict_retries must be >= 0");
  if (o.max_timeout_retries < 0) bad.push_back("max_timeout_retries must be >= 0");
  if (o.retry_backoff_min.count() <= 0 || o.retry_backoff_max < o.retry_backoff_min) {
    bad.push_back("retry backoff needs 0 < retry_backoff_min <= retry_backoff_max");
  }
  if (o.max_pending_commits == 0) bad.push_back("max_pending_commits must be positive");
  if (o.max_pending_commit_bytes == 0) {
    bad.push_back("max_pending_commit_bytes must be positive");
  }
  if (o.max_pending_tasks == 0) bad.push_back("max_pending_tasks must be positive");
  if (o.task_stack_bytes < 16384) bad.push_back("task_stack_bytes must be at least 16384");
  if (o.cache_bytes < (std::size_t{1} << 20)) bad.push_back("cache_bytes must be at least 1 MiB");
  for (auto& p : type_registry_problems())
    bad.push_back(p);
  for (auto& p : field_number_problems())
    bad.push_back(p);
  if (!bad.empty()) throw UsageError(fmt::format("invalid server setup: {}", fmt::join(bad, "; ")));
}

std::unique_ptr<Store> open_default_store(const ServerOptions& o) {
  LmdbOptions l;
  l.path = o.store_path;
  l.durable = o.durable;
  l.initial_map_bytes = o.initial_store_bytes;
  l.max_bytes = o.max_store_bytes;
  return open_lmdb_store(l);
}

}  // namespace

Engine::Engine(ServerOptions opts, std::unique_ptr<Store> s)
    : options((check_options(opts), std::move(opts))),
      log(options.log, options.log_level),
      store(std::move(s)),
      data(*store, data_options(options), log),
      tasks(options, data, log),
      sessions(options, tasks, log),
      channels(sessions, log),
      services{&sessions, &channels} {
  sessions.set_channels(&channels);
  tasks.set_services(&services);
}

Engine::~Engine() {
  stop();
}

void Engine::stop() {
  sessions.stop();
  tasks.stop();
  data.stop();
}

}  // namespace detail

Server::Server(ServerOptions options) : Server(options, detail::open_default_store(options)) {}

Server::Server(ServerOptions options, std::unique_ptr<Store> store)
    : engine_(std::make_unique<detail::Engine>(std::move(options), std::move(store))) {}

Server::~Server() = default;

void Server::handle(std::string name, TaskHandler handler, TaskOptions options) {
  engine_->tasks.handle(std::move(name), std::move(handler), options);
}

void Server::start() {
  engine_->data.start();
  try {
    engine_->tasks.start();
    engine_->sessions.start();
  } catch (...) {
    engine_->stop();
    throw;
  }
}

void Server::set_app_listener(std::shared_ptr<AppListener> app) {
  engine_->sessions.set_app(std::move(app));
}

void Server::set_authenticator(std::shared_ptr<Authenticator> authenticator) {
  engine_->sessions.set_authenticator(std::move(authenticator));
}

std::future<void> Server::set_password(std::string name, std::string password) {
  return engine_->sessions.set_password(std::move(name), std::move(password));
}

void Server::reload_tls() {
  engine_->sessions.reload_tls();
}

std::uint16_t Server::port(Listener which) const {
  return engine_->sessions.port(which);
}

void Server::stop() {
  engine_->stop();
}

void Server::submit(std::string name, TaskBody body, std::function<void(std::exception_ptr)> done,
                    TaskOptions options) {
  engine_->tasks.submit(std::move(name), std::move(body), std::move(done), {}, true, options);
}

std::future<void> Server::submit(std::string name, TaskBody body, TaskOptions options) {
  return engine_->tasks.submit_future(std::move(name), std::move(body), true, options);
}

namespace {
std::future<TaskHandle> schedule_from_outside(Server& server, std::string handler,
                                              std::string payload, std::chrono::milliseconds delay,
                                              std::chrono::milliseconds period) {
  struct State {
    std::promise<TaskHandle> promise;
    TaskHandle handle;
  };
  auto st = std::make_shared<State>();
  std::future<TaskHandle> f = st->promise.get_future();
  std::string label = "starhold.schedule(" + handler + ")";
  server.submit(
      std::move(label),
      [st, handler = std::move(handler), payload = std::move(payload), delay,
       period](Transaction& tx) {
        st->handle = period.count() > 0 ? tx.schedule_periodic(handler, payload, delay, period)
                                        : tx.schedule(handler, payload, delay);
      },
      [st](std::exception_ptr e) {
        if (e) {
          st->promise.set_exception(e);
        } else {
          st->promise.set_value(st->handle);
        }
      });
  return f;
}
}  // namespace

std::future<TaskHandle> Server::schedule(std::string handler, std::string payload,
                                         std::chrono::milliseconds delay) {
  return schedule_from_outside(*this, std::move(handler), std::move(payload), delay,
                               std::chrono::milliseconds(0));
}

std::future<TaskHandle> Server::schedule_periodic(std::string handler, std::string payload,
                                                  std::chrono::milliseconds delay,
                                                  std::chrono::milliseconds period) {
  if (period.count() <= 0) throw UsageError("schedule_periodic needs a positive period");
  return schedule_from_outside(*this, std::move(handler), std::move(payload), delay, period);
}

const ServerOptions& Server::options() const noexcept {
  return engine_->options;
}

Metrics Server::metrics() const {
  auto& c = engine_->tasks.counters();
  auto& d = engine_->data.counters();
  Metrics m;
  m.tasks_submitted = c.submitted.load();
  m.attempts_started = c.attempts.load();
  m.tasks_committed = c.committed.load();
  m.tasks_failed = c.failed.load();
  m.aborts_conflict = c.conflicts.load();
  m.aborts_timeout = c.timeouts.load();
  m.aborts_exception = c.exceptions.load();
  m.aborts_storage = c.storage.load();
  m.retries = c.retries.load();
  m.hot_waits = c.hot_waits.load();
  m.attempts_behind = c.behind.load();
  m.store_batches = d.batches.load();
  m.store_writes = d.writes.load();
  StoreStats s = engine_->store->stats();
  m.store_resizes = s.resizes;
  m.store_bytes = s.used_bytes;
  m.scheduled_pending = engine_->tasks.scheduled_pending();
  m.tasks_pending = engine_->tasks.pending_from_outside();
  m.attempts_parked = engine_->tasks.parked();
  m.commits_pending = engine_->data.commits_pending();
  m.commit_bytes_pending = engine_->data.commit_bytes_pending();
  for (std::size_t i = 0; i < Histogram::kBuckets; ++i) {
    m.commit_latency.buckets[i] = c.commit_latency[i].load();
    m.commit_latency.count += m.commit_latency.buckets[i];
  }
  auto& n = engine_->sessions.counters();
  m.connections_open = n.open.load();
  m.connections_accepted = n.accepted.load();
  m.sessions_active = engine_->sessions.active();
  m.logins_succeeded = n.logins_ok.load();
  m.logins_failed = n.logins_failed.load();
  m.reconnects = n.reconnects.load();
  m.login_throttle_entries = engine_->sessions.throttle_entries();
  m.messages_received = n.received.load();
  m.messages_sent = n.sent.load();
  for (std::size_t i = 0; i < m.disconnects.size(); ++i)
    m.disconnects[i] = n.disconnects[i].load();
  return m;
}

Health Server::health() const {
  Health h;
  h.running = engine_->tasks.running();
  if (std::exception_ptr e = engine_->data.fatal_error()) {
    h.store_writable = false;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      h.store_error = x.what();
    }
  }
  return h;
}

void write_development_certificate(const std::string& cert_file, const std::string& key_file) {
  net::write_self_signed_certificate(cert_file, key_file);
}

double Histogram::quantile_us(double q) const noexcept {
  if (count == 0) return 0;
  const auto target = static_cast<std::uint64_t>(q * static_cast<double>(count - 1)) + 1;
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += buckets[i];
    if (seen >= target) return static_cast<double>(std::uint64_t{1} << i);
  }
  return static_cast<double>(std::uint64_t{1} << (kBuckets - 1));
}

}  // namespace starhold
