// The server: a game's world in one process. It owns the store, the data
// service and the task workers. A game creates one Server, registers its task
// handlers, calls start(), and then submits or schedules work.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <string_view>

#include "starhold/session.hpp"
#include "starhold/store.hpp"
#include "starhold/task.hpp"

namespace starhold {

enum class LogLevel { debug, info, warn, error };

// Receives every log line at or above ServerOptions::log_level. Called from
// any Starhold thread, possibly concurrently; must not block for long.
using LogSink = std::function<void(LogLevel level, std::string_view line)>;

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

  // ---- Data ----
  // Memory for decoded-object records kept between tasks.
  std::size_t cache_bytes = std::size_t{256} << 20;
  // Commits validated but not yet durable; past this, committing tasks wait.
  // It also bounds the commits written in one store transaction.
  std::size_t max_pending_commits = 100000;

  // ---- Network (nothing listens unless a port is set) ----
  // Ports: -1 off; 0 any free port (see Server::port); otherwise that port.
  std::string listen_address = "127.0.0.1";
  int tls_port = -1;        // the protocol over TLS
  int tcp_port = -1;        // over plain TCP: development, or behind a TLS terminator
  int websocket_port = -1;  // over WebSocket, for browsers
  bool websocket_tls = true;
  std::string tls_certificate;  // PEM certificate chain, for TLS and secure WebSocket
  std::string tls_private_key;  // PEM key
  int network_threads = 1;
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
  // Failed logins from one address before it is refused for login_lockout.
  int max_failed_logins = 5;
  std::chrono::milliseconds login_lockout{60000};
  // Resume tokens (LOGIN_OK, RESUME): a client may log in again without its
  // password for this long after its login, even after a restart. Revoke an
  // identity's tokens with starhold::revoke_resume_tokens. 0: none issued.
  std::chrono::seconds resume_token_lifetime{86400};
  // A second login of a live identity: replace the old session, or refuse the new login.
  enum class DuplicateLogin { replace_old, refuse_new };
  DuplicateLogin duplicate_login = DuplicateLogin::replace_old;
  // Default authenticator: create an account at the first login of a new name.
  bool signup_on_first_login = false;
  // Default authenticator: scrypt cost, as log2 of N (14: about 16 MiB and
  // tens of milliseconds a hash). Stored with each hash, so it can change.
  int password_hash_cost = 14;
  // Threads that hash passwords (a login storm is bound by them); 0: one per core.
  int password_hash_threads = 0;

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
  std::uint64_t store_batches = 0;
  std::uint64_t store_writes = 0;  // records written (after coalescing)
  std::uint64_t store_resizes = 0;
  std::uint64_t store_bytes = 0;
  std::uint64_t scheduled_pending = 0;  // durable tasks waiting to run
  Histogram commit_latency;             // commit request to durable report

  // ---- Network ----
  std::uint64_t connections_open = 0;
  std::uint64_t connections_accepted = 0;
  std::uint64_t sessions_active = 0;
  std::uint64_t logins_succeeded = 0;
  std::uint64_t logins_failed = 0;
  std::uint64_t reconnects = 0;
  std::uint64_t messages_received = 0;  // counted frames from clients
  std::uint64_t messages_sent = 0;      // counted frames to clients
  // Disconnects by protocol reason code (index = code; 0: network error or close).
  std::array<std::uint64_t, 32> disconnects{};
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

  // Registers the handler that runs tasks scheduled under name. Must be
  // called before start(). Throws UsageError on a duplicate name or after start.
  void handle(std::string name, TaskHandler handler);

  // The game's login and world hooks; required when a port is set. Before start().
  void set_app_listener(std::shared_ptr<AppListener> app);
  // Replaces the default authenticator (accounts in the store). Before start().
  void set_authenticator(std::shared_ptr<Authenticator> authenticator);
  // Creates or replaces an account of the default authenticator. Thread-safe;
  // the future is ready when the account is stored.
  std::future<void> set_password(std::string name, std::string password);
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
  // is not running.
  std::future<void> submit(std::string name, TaskBody body);

  // As submit, but calls done (on a Starhold thread; must not block) with
  // nullptr on commit or the TaskFailed exception.
  void submit(std::string name, TaskBody body, std::function<void(std::exception_ptr)> done);

  // Schedules a durable task from outside a task (in a transaction of its own).
  // The future becomes ready once the task is stored.
  std::future<TaskHandle> schedule(std::string handler, std::string payload,
                                   std::chrono::milliseconds delay = std::chrono::milliseconds(0));
  std::future<TaskHandle> schedule_periodic(std::string handler, std::string payload,
                                            std::chrono::milliseconds delay,
                                            std::chrono::milliseconds period);

  Metrics metrics() const;
  const ServerOptions& options() const noexcept;

 private:
  std::unique_ptr<detail::Engine> engine_;
};

// Writes a self-signed certificate and its private key (PEM files, the key
// readable by its owner only) for "localhost" and 127.0.0.1. For development
// and tests: clients must be told to trust it. Throws std::runtime_error.
void write_development_certificate(const std::string& cert_file, const std::string& key_file);

}  // namespace starhold
