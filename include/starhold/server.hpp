// The server: a game's world in one process. It owns the store, the data
// service and the task workers. A game creates one Server, registers its task
// handlers, calls start(), and then submits or schedules work.
#pragma once

#include <array>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "starhold/clock.hpp"
#include "starhold/log.hpp"
#include "starhold/session.hpp"
#include "starhold/store.hpp"
#include "starhold/task.hpp"

namespace starhold {

struct ServerOptions {
  // ---- Store (used when the Server opens its own LMDB store) ----
  std::string store_path = "starhold-data";
  // true: a commit is reported only once it is on disk (survives power loss).
  // false: relaxed; a crash may lose the last commits, never corrupts.
  bool durable = true;
  std::size_t initial_store_bytes = std::size_t{64} << 20;
  // The store grows up to this; past it, writes fail with StoreFull.
  std::size_t max_store_bytes = std::size_t{64} << 30;

  // ---- Tasks ----
  int workers = 0;  // worker threads; 0 = one per core
  // Each attempt of a task may run this long; past it, the attempt is aborted
  // at its next Starhold call or at commit. Time spent waiting for a hot
  // object held by another task does not count.
  std::chrono::milliseconds task_time_limit{100};
  // A task that conflicts this many times in a row fails (TaskFailed::conflict).
  int max_conflict_retries = 64;
  // A task that exceeds its time limit is tried this many more times, then fails.
  int max_timeout_retries = 2;
  // Backoff before retrying a conflicted task: doubles from min to max, with jitter.
  std::chrono::microseconds retry_backoff_min{50};
  std::chrono::microseconds retry_backoff_max{20000};
  // Stack of each task's fiber. Game code runs on it.
  std::size_t task_stack_bytes = std::size_t{256} << 10;
  // Tasks given to Server::submit and not finished yet; past this, submit
  // throws Overloaded (nothing is queued).
  std::size_t max_pending_tasks = 100000;
  // Attempts parked (each on its fiber) waiting for a hot object; past this,
  // further attempts run on without waiting, as optimistic transactions.
  std::size_t max_parked_attempts = 10000;
  // false: durable tasks in the store are neither run nor checked against the
  // registered handlers, and tasks scheduled in this process are stored but
  // not run; they run when a server with true opens the store. For tools
  // that open a game's store (stopped) to read or repair it.
  bool run_stored_tasks = true;

  // ---- Data ----
  // Memory for decoded-object records kept between tasks.
  std::size_t cache_bytes = std::size_t{256} << 20;
  // Commits validated but not yet durable; past this, committing tasks wait.
  // It also bounds the commits written in one store transaction.
  std::size_t max_pending_commits = 100000;
  // Bytes of records those commits wrote (held in memory until durable);
  // past this, committing tasks wait too.
  std::size_t max_pending_commit_bytes = std::size_t{256} << 20;

  // ---- Network (nothing listens unless a port is set) ----
  // Ports: -1 off; 0 any free port (see Server::port); otherwise that port.
  std::string listen_address = "127.0.0.1";
  int tls_port = -1;        // the protocol over TLS
  int tcp_port = -1;        // over plain TCP: development, or behind a TLS terminator
  int websocket_port = -1;  // over WebSocket, for browsers
  bool websocket_tls = true;
  std::string tls_certificate;  // PEM certificate chain, for TLS and secure WebSocket
  std::string tls_private_key;  // PEM key
  // Per listener: every connection starts with a PROXY protocol v2 header
  // (sent by a TLS terminator or load balancer in front of the server), whose
  // client address then counts for logs and login limits. A connection
  // without a valid header is refused (and logged). Enable only behind a
  // proxy that sends one: a client that connects directly could name any
  // address.
  bool tls_proxy_protocol = false;
  bool tcp_proxy_protocol = false;
  bool websocket_proxy_protocol = false;
  int network_threads = 1;
  // A session message's task runs on the network thread that read it, when
  // that thread has spent less than half of its last 10 ms on such tasks
  // (otherwise, and for retries, on a worker): no hand-off, no wake-up. Such
  // an attempt never waits for a hot object, and a long one delays that
  // thread's I/O while it runs. Off: every task runs on a worker, and the
  // network threads only do I/O (for games whose message tasks take long).
  bool tasks_on_network_threads = true;
  std::uint32_t max_message_bytes = 65536;  // largest frame either way
  std::size_t max_connections = 10000;
  std::chrono::milliseconds heartbeat_interval{5000};  // silence for 3 of these: disconnect
  std::chrono::milliseconds handshake_timeout{10000};  // to complete HELLO and login
  std::chrono::milliseconds reconnect_grace{30000};    // a lost session waits this long
  // The time source of reconnect grace periods. Empty: std::chrono::steady_clock.
  // Tests set a clock they step by hand; it must never go backwards.
  std::function<std::chrono::steady_clock::time_point()> session_clock;
  // A session's unhandled messages; past either bound the server stops reading.
  std::size_t inbound_queue_messages = 256;
  std::size_t inbound_queue_bytes = std::size_t{1} << 20;
  // Bytes queued to a client that does not read; past this it is disconnected.
  std::size_t outbound_buffer_bytes = std::size_t{1} << 20;
  // The replay budget (announced in LOGIN_OK): counted frames sent to a
  // session and not yet acknowledged are kept, up to this many bytes, and a
  // reconnect resends them. A session without a connection whose missed
  // frames pass it ends at once (replay_overflow). At most 2^32 - 1.
  std::size_t replay_buffer_bytes = std::size_t{1} << 20;
  // Tokens of ended sessions remembered, so that a late RECONNECT is told why
  // (session_expired, replay_overflow) rather than invalid_token. The oldest
  // are forgotten first; about 50 bytes each.
  std::size_t expired_token_memory = 65536;
  // RECONNECT attempts from one address: bursts of reconnect_burst, refilled
  // at reconnect_rate a second (on session_clock). Past that the connection
  // gets DISCONNECT too_many_attempts; no session is touched. 0: no limit.
  std::uint32_t reconnect_rate = 10;
  std::uint32_t reconnect_burst = 100;
  // Addresses the reconnect limit tracks at once (about 150 bytes each); the
  // least recently seen is forgotten first.
  std::size_t reconnect_rate_addresses = 65536;
  // Counted messages a client may send per second (bursts of twice that);
  // faster is a flood. 0: no limit.
  std::uint32_t max_message_rate = 1000;
  // Password guessing is counted before any password is checked: a login
  // attempt counts as failed from the moment it starts until it succeeds.
  // Per address: past max_failed_logins failed attempts (within
  // login_lockout of each other) the address is refused for login_lockout,
  // and at most that many attempts (less its failures) are checked at once.
  // Clients behind one NAT, or behind a proxy without the PROXY protocol,
  // share one address and so this budget.
  int max_failed_logins = 5;
  std::chrono::milliseconds login_lockout{60000};
  // Per account: attempts from addresses that have not logged into the
  // account in the last 24 hours share an allowance of this many failed
  // attempts, refilled at this many per login_lockout; while it is empty
  // they are refused (too_many_attempts). A throttle, not a lock: the
  // account's owner, from an address it logged in from, is never refused by it.
  int max_failed_logins_per_account = 20;
  // Addresses and accounts remembered for the limits above; past this many,
  // the least recently used are forgotten first.
  std::size_t login_throttle_entries = 100000;
  // Resume tokens (LOGIN_OK, RESUME): a client may log in again without its
  // password for this long after its login, even after a restart. Revoke an
  // identity's tokens with starhold::revoke_resume_tokens. 0: none issued.
  std::chrono::seconds resume_token_lifetime{86400};
  // A second login of a live identity: replace the old session, or refuse the new login.
  enum class DuplicateLogin { replace_old, refuse_new };
  DuplicateLogin duplicate_login = DuplicateLogin::replace_old;
  // Default authenticator: create an account at the first login of a new name.
  bool signup_on_first_login = false;
  // Default authenticator: scrypt with r = 8, N = 2^password_hash_cost and
  // p = password_hash_parallelism. The default, N = 2^14 and p = 5, is one of
  // OWASP's equivalent minimums: 16 MiB and about 280 ms of one core per
  // hash on the development machine (docs/architecture.md). N and p are
  // stored with each hash; a hash made with cheaper parameters than these
  // is remade at the account's next login. Bounds: N from 2^4 to 2^18, p
  // from 1 to 16, N * p at most 2^20 (UsageError otherwise); a stored hash
  // outside them is refused, not computed.
  int password_hash_cost = 14;
  int password_hash_parallelism = 5;
  // Threads that hash passwords (a login storm is bound by them); 0: one per
  // core. They run at a lower CPU priority (nice +10) than the process, so
  // that under load the workers and network threads keep the cores.
  int password_hash_threads = 0;
  // Logins waiting for a hashing thread; past it a login is refused at once
  // with server_busy (retry shortly). 0: as many as the hashing threads
  // finish in half of handshake_timeout, from the measured time per hash.
  std::size_t password_hash_queue = 0;

  // The clock of task time limits, delays, periods and backoff; null: the
  // system's clocks (see clock.hpp).
  std::shared_ptr<Clock> clock;

  // ---- Logging ----
  LogSink log;  // empty: lines go to stderr
  LogLevel log_level = LogLevel::info;
};

// A latency histogram with power-of-two microsecond buckets: bucket i counts
// samples in [2^(i-1), 2^i) microseconds (bucket 0: under 1 us).
struct Histogram {
  static constexpr std::size_t kBuckets = 32;
  std::array<std::uint64_t, kBuckets> buckets{};
  std::uint64_t count = 0;
  // Upper bound, in microseconds, of the bucket holding quantile q (0..1).
  double quantile_us(double q) const noexcept;
};

// A snapshot of the server's counters since start.
struct Metrics {
  std::uint64_t tasks_submitted = 0;   // transient tasks accepted by submit()
  std::uint64_t attempts_started = 0;  // task attempts begun (first runs and retries)
  std::uint64_t tasks_committed = 0;   // commits reported (durable)
  std::uint64_t tasks_failed = 0;      // tasks given up on (see TaskFailed)
  std::uint64_t aborts_conflict = 0;
  std::uint64_t aborts_timeout = 0;
  std::uint64_t aborts_exception = 0;
  std::uint64_t aborts_storage = 0;  // commits failed by the store (full disk)
  std::uint64_t retries = 0;
  std::uint64_t hot_waits = 0;  // attempts that waited for a hot object
  // Attempts that went on reading their older snapshot because something
  // they had read changed meanwhile (they commit if they write nothing).
  std::uint64_t attempts_behind = 0;
  std::uint64_t store_batches = 0;
  std::uint64_t store_writes = 0;  // records written (after coalescing)
  std::uint64_t store_resizes = 0;
  std::uint64_t store_bytes = 0;
  std::uint64_t scheduled_pending = 0;  // durable tasks waiting to run
  std::uint64_t tasks_pending = 0;      // submitted (Server::submit) and not finished
  std::uint64_t attempts_parked = 0;    // waiting for a hot object
  std::uint64_t commits_pending = 0;    // validated, not yet durable
  std::uint64_t commit_bytes_pending = 0;
  Histogram commit_latency;  // commit request to durable report

  // ---- Network ----
  std::uint64_t connections_open = 0;
  std::uint64_t connections_accepted = 0;
  std::uint64_t sessions_active = 0;
  std::uint64_t logins_succeeded = 0;
  std::uint64_t logins_failed = 0;
  std::uint64_t reconnects = 0;
  std::uint64_t login_throttle_entries = 0;  // addresses and accounts the login limits remember
  std::uint64_t messages_received = 0;       // counted frames from clients
  std::uint64_t messages_sent = 0;           // counted frames to clients
  // Disconnects by protocol reason code (index = code; 0: network error or close).
  std::array<std::uint64_t, 32> disconnects{};
};

// The server's state as an operator's health check sees it.
struct Health {
  bool running = false;        // started, and not stopped
  bool store_writable = true;  // false once the store failed fatally (see StoreFatal)
  std::string store_error;     // why the store takes no writes, when it does not
};

namespace detail {
class Engine;
}

// Thread-safe: every member may be called from any thread, except that
// handle() must come before start(), and the destructor must not race with
// other calls.
class Server {
 public:
  // Opens (or creates) the LMDB store at options.store_path. Throws
  // StoreFormatError, StoreError, UsageError (for invalid options or
  // conflicting managed type names).
  explicit Server(ServerOptions options);
  // Runs over the given store instead of opening one.
  Server(ServerOptions options, std::unique_ptr<Store> store);
  // Stops the server (see stop) and closes the store.
  ~Server();

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Registers the handler that runs tasks scheduled under name, with the
  // options of each run. Must be called before start(). Throws UsageError on
  // a duplicate name, an empty handler, a negative time limit, or after start.
  void handle(std::string name, TaskHandler handler, TaskOptions options = {});

  // The game's login and world hooks; required when a port is set. Before start().
  void set_app_listener(std::shared_ptr<AppListener> app);
  // Replaces the default authenticator (accounts in the store). Before start().
  void set_authenticator(std::shared_ptr<Authenticator> authenticator);
  // Creates or replaces an account of the default authenticator, hashing
  // the password on a hashing thread. Thread-safe; the future is ready when
  // the account is stored, or holds starhold::Error if the password could not
  // be hashed or stored. Throws UsageError for a name that is not 1 to 64
  // printable bytes or a password over 1024 bytes, or with a custom authenticator.
  std::future<void> set_password(std::string name, std::string password);
  // Reads tls_certificate and tls_private_key again and serves them to new
  // TLS and secure WebSocket connections; connections already open keep
  // the certificate they began with. Thread-safe, after start(). Throws
  // TlsError naming the file and OpenSSL's reason (the server then keeps the
  // certificate it had), UsageError if no listener uses TLS.
  void reload_tls();
  // The port a listener is bound to (after start), or 0 if it is off.
  enum class Listener { tls, tcp, websocket };
  std::uint16_t port(Listener which) const;

  // Starts the workers and the commit thread, re-arms every durable task left
  // in the store, ends the sessions a crash left behind (telling their
  // listeners), runs AppListener::initialize on a new world, then opens the
  // network listeners. Throws UsageError if a stored task names an
  // unregistered handler or a port is set without an app listener,
  // std::runtime_error if a listener cannot be opened.
  void start();

  // Stops taking tasks, lets running attempts finish, writes every validated
  // commit, and stops the threads. Durable tasks not yet run stay stored and
  // run after the next start(). Transient tasks not yet committed fail with
  // TaskFailed::shutdown. Idempotent.
  void stop();

  // Runs body as a task named name. The future becomes ready when the commit
  // is durable, or holds TaskFailed if the task failed. Not durable before it
  // runs: a crash before the commit loses it. Throws UsageError if the server
  // is not running or options has a negative time limit, Overloaded past
  // max_pending_tasks.
  std::future<void> submit(std::string name, TaskBody body, TaskOptions options = {});

  // As submit, for a body that returns a value: the future holds the value
  // (a copy, std::decay_t of the body's result) returned by the attempt that
  // committed, once its commit is durable.
  template <class F>
  requires std::invocable<F&, Transaction&> &&
      (!std::is_void_v<std::invoke_result_t<F&, Transaction&>>)
          std::future<std::decay_t<std::invoke_result_t<F&, Transaction&>>> submit(
              std::string name, F body, TaskOptions options = {});

  // As submit, but calls done (on a Starhold thread; must not block) with
  // nullptr on commit or the TaskFailed exception.
  void submit(std::string name, TaskBody body, std::function<void(std::exception_ptr)> done,
              TaskOptions options = {});

  // Schedules a durable task from outside a task (in a transaction of its own).
  // The future becomes ready once the task is stored.
  std::future<TaskHandle> schedule(std::string handler, std::string payload,
                                   std::chrono::milliseconds delay = std::chrono::milliseconds(0));
  std::future<TaskHandle> schedule_periodic(std::string handler, std::string payload,
                                            std::chrono::milliseconds delay,
                                            std::chrono::milliseconds period);

  Metrics metrics() const;
  // Whether the server runs and its store takes writes. Any thread.
  Health health() const;
  const ServerOptions& options() const noexcept;

 private:
  std::unique_ptr<detail::Engine> engine_;
};

// Writes a self-signed certificate and its private key (PEM files) for
// "localhost" and 127.0.0.1, replacing existing files. The key is created
// readable by its owner only (mode 0600) and never widened; each file
// appears whole or not at all. For development and tests: clients must be
// told to trust it. Throws TlsError.
void write_development_certificate(const std::string& cert_file, const std::string& key_file);

template <class F>
requires std::invocable<F&, Transaction&> &&
    (!std::is_void_v<std::invoke_result_t<F&, Transaction&>>)
        std::future<std::decay_t<std::invoke_result_t<F&, Transaction&>>> Server::submit(
            std::string name, F body, TaskOptions options) {
  using R = std::decay_t<std::invoke_result_t<F&, Transaction&>>;
  // Attempts run one after another, each to its end before the next: the
  // value left is the committed attempt's.
  auto value = std::make_shared<std::optional<R>>();
  auto promise = std::make_shared<std::promise<R>>();
  auto future = promise->get_future();
  submit(
      std::move(name),
      [value, body = std::move(body)](Transaction& tx) mutable { value->emplace(body(tx)); },
      [value, promise](std::exception_ptr e) {
        if (e) {
          promise->set_exception(e);
        } else {
          promise->set_value(std::move(**value));
        }
      },
      options);
  return future;
}

}  // namespace starhold
