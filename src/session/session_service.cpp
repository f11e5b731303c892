// The session service's lifecycle: start-up cleanup, world initialisation,
// listeners, network threads, connection accounting, and shutdown.
#include "session/session_service.hpp"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <boost/asio/post.hpp>

#include "core/thread_name.hpp"
#include "net/proxy_header.hpp"
#include "session/accounts.hpp"
#include "session/connection.hpp"
#include "session/records.hpp"
#include "task/task_service.hpp"

namespace starhold::session {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

thread_local asio::io_context* SessionService::network_io_ = nullptr;

namespace {

// Marks a world whose AppListener::initialize has committed.
struct WorldInfo final : Managed<WorldInfo> {
  static constexpr std::string_view type_name = "starhold.World";
  std::int64_t created_ms = 0;
  template <class F>
  void fields(F& f) {
    f(1, created_ms);
  }
};

// Throws UsageError for network options the protocol cannot carry.
const ServerOptions& checked(const ServerOptions& o) {
  constexpr std::int64_t kU32 = std::numeric_limits<std::uint32_t>::max();
  std::vector<std::string> bad;
  if (o.max_message_bytes < net::kMinMaxFrame) {
    bad.push_back(fmt::format("max_message_bytes must be at least {}", net::kMinMaxFrame));
  }
  if (o.heartbeat_interval.count() <= 0 || o.heartbeat_interval.count() > kU32) {
    bad.push_back("heartbeat_interval must be 1 ms to 2^32 - 1 ms");
  }
  if (o.reconnect_grace.count() < 0 || o.reconnect_grace.count() > kU32) {
    bad.push_back("reconnect_grace must be 0 to 2^32 - 1 ms");
  }
  if (o.resume_token_lifetime.count() < 0 || o.resume_token_lifetime.count() > kU32) {
    bad.push_back("resume_token_lifetime must be 0 to 2^32 - 1 s");
  }
  if (o.replay_buffer_bytes > static_cast<std::uint64_t>(kU32)) {
    bad.push_back("replay_buffer_bytes must be at most 2^32 - 1");
  }
  if (!bad.empty()) {
    throw UsageError(fmt::format("invalid network options: {}", fmt::join(bad, "; ")));
  }
  return o;
}

}  // namespace

SessionService::SessionService(const ServerOptions& options, task::TaskService& tasks, Log& log)
    : options_(checked(options)),
      tasks_(tasks),
      log_(log),
      auth_(std::make_shared<StoreAuthenticator>(tasks, options, log)),
      expired_tokens_(options.expired_token_memory),
      reconnect_attempts_(options.reconnect_rate, options.reconnect_burst,
                          options.reconnect_rate_addresses) {}

std::chrono::steady_clock::time_point SessionService::now() const {
  return options_.session_clock ? options_.session_clock() : std::chrono::steady_clock::now();
}

SessionService::~SessionService() {
  stop();
}

void SessionService::set_app(std::shared_ptr<AppListener> app) {
  app_ = std::move(app);
}

void SessionService::set_authenticator(std::shared_ptr<Authenticator> auth) {
  auth_ = std::move(auth);
}

std::future<void> SessionService::set_password(std::string name, std::string password) {
  auto* store_auth = dynamic_cast<StoreAuthenticator*>(auth_.get());
  if (store_auth == nullptr) {
    throw UsageError("set_password: the server uses a custom authenticator, not store accounts");
  }
  return store_auth->set_password(std::move(name), std::move(password));
}

void SessionService::start() {
  const bool network =
      options_.tls_port >= 0 || options_.tcp_port >= 0 || options_.websocket_port >= 0;
  if (network && !app_) {
    throw UsageError(
        "a network port is set but no AppListener: call Server::set_app_listener first");
  }
  cleanup_stale_sessions();
  if (app_) initialize_world();
  if (!network) return;
  load_resume_key();

  const bool needs_tls =
      options_.tls_port >= 0 || (options_.websocket_port >= 0 && options_.websocket_tls);
  if (needs_tls) {
    if (options_.tls_certificate.empty() || options_.tls_private_key.empty()) {
      throw UsageError("TLS listeners need tls_certificate and tls_private_key");
    }
    auto tls = net::TlsContext::server(options_.tls_certificate, options_.tls_private_key);
    std::lock_guard lock(tls_mu_);
    tls_ = std::move(tls);
  }
  const int n = std::max(1, options_.network_threads);
  for (int i = 0; i < n; ++i) {
    ios_.push_back(std::make_unique<asio::io_context>(1));
    work_.push_back(std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(
        ios_.back()->get_executor()));
  }
  grace_ =
      std::make_unique<GraceTimers>(*ios_[0], options_.session_clock, options_.reconnect_grace,
                                    [this](const std::shared_ptr<SessionState>& s,
                                           std::uint64_t ticket) { grace_expired(s, ticket); });
  running_ = true;
  open_listener(Server::Listener::tls, options_.tls_port, net::TransportKind::tls,
                options_.tls_proxy_protocol);
  open_listener(Server::Listener::tcp, options_.tcp_port, net::TransportKind::tcp,
                options_.tcp_proxy_protocol);
  open_listener(
      Server::Listener::websocket, options_.websocket_port,
      options_.websocket_tls ? net::TransportKind::websocket_tls : net::TransportKind::websocket,
      options_.websocket_proxy_protocol);
  for (std::size_t i = 0; i < ios_.size(); ++i) {
    threads_.emplace_back([io = ios_[i].get(), i] {
      core::name_this_thread("sh-net", i);
      network_io_ = io;
      io->run();
    });
  }
}

void SessionService::open_listener(Server::Listener which, int port, net::TransportKind kind,
                                   bool proxy) {
  if (port < 0) return;
  auto owned = std::make_unique<Listener>(
      Listener{which, kind, std::make_unique<tcp::acceptor>(*ios_[0]), proxy});
  Listener& l = *owned;
  const tcp::endpoint ep(asio::ip::make_address(options_.listen_address),
                         static_cast<std::uint16_t>(port));
  l.acceptor->open(ep.protocol());
  l.acceptor->set_option(tcp::acceptor::reuse_address(true));
  l.acceptor->bind(ep);
  l.acceptor->listen(asio::socket_base::max_listen_connections);
  ports_[static_cast<std::size_t>(which)] = l.acceptor->local_endpoint().port();
  log_.info("listening for {} clients on {}:{}{}", net::transport_name(kind),
            options_.listen_address, ports_[static_cast<std::size_t>(which)],
            proxy ? ", each behind a PROXY protocol header" : "");
  listeners_.push_back(std::move(owned));
  accept(l);
}

asio::io_context& SessionService::next_io() {
  return *ios_[next_io_.fetch_add(1, std::memory_order_relaxed) % ios_.size()];
}

void SessionService::accept(Listener& l) {
  asio::io_context& io = next_io();
  l.acceptor->async_accept(io, [this, &l, &io](net::ErrorCode ec, tcp::socket socket) {
    if (!running_) return;
    if (ec) {
      // Out of descriptors or similar: say so, and try again shortly rather than spin.
      log_.warn("accepting a {} connection failed: {}", net::transport_name(l.kind), ec.message());
      auto timer = std::make_shared<asio::steady_timer>(*ios_[0], std::chrono::milliseconds(100));
      timer->async_wait([this, &l, timer](net::ErrorCode) {
        if (running_) accept(l);
      });
      return;
    }
    bool over_limit = false;
    if (connection_allowed(over_limit)) {
      if (l.proxy_protocol) {
        accept_proxied(l, io, std::move(socket), over_limit);
      } else {
        open_connection(l, io, std::move(socket), over_limit, {});
      }
    }
    accept(l);
  });
}

void SessionService::accept_proxied(Listener& l, asio::io_context& io, tcp::socket socket,
                                    bool over_limit) {
  auto s = std::make_shared<tcp::socket>(std::move(socket));
  net::ErrorCode ec;
  const auto peer = s->remote_endpoint(ec);
  const std::string proxy = ec ? std::string("?") : peer.address().to_string();
  net::async_read_proxy_header(s, options_.handshake_timeout,
                               [this, &l, &io, s, over_limit, proxy](
                                   const std::string& error, const net::ProxyHeader& header) {
                                 if (!error.empty() || !running_) {
                                   if (!error.empty()) {
                                     log_.warn("refused a {} connection from {}: {}",
                                               net::transport_name(l.kind), proxy, error);
                                   }
                                   net::ErrorCode ignored;
                                   s->close(ignored);
                                   connection_closed(over_limit);
                                   return;
                                 }
                                 open_connection(l, io, std::move(*s), over_limit,
                                                 header.local ? proxy : header.source);
                               });
}

void SessionService::open_connection(Listener& l, asio::io_context& io, tcp::socket socket,
                                     bool over_limit, const std::string& address) {
  try {
    auto transport = net::server_transport(l.kind, std::move(socket), tls_context());
    if (!address.empty()) transport->set_remote_address(address);
    auto conn = std::make_shared<Connection>(*this, io, std::move(transport), over_limit);
    {
      std::lock_guard lock(sessions_mu_);
      // Drop closed entries when the list has doubled since the last sweep:
      // amortised constant work per accept, even in a connection storm.
      if (open_connections_.size() >= 2 * swept_size_ + 64) {
        std::erase_if(open_connections_,
                      [](const std::weak_ptr<Connection>& w) { return w.expired(); });
        swept_size_ = open_connections_.size();
      }
      open_connections_.push_back(conn);
    }
    asio::post(io, [conn] { conn->start(); });
  } catch (const std::exception& e) {
    log_.warn("cannot set up a {} connection: {}", net::transport_name(l.kind), e.what());
    connection_closed(over_limit);
  }
}

bool SessionService::connection_allowed(bool& over_limit) {
  counters_.accepted.fetch_add(1, std::memory_order_relaxed);
  over_limit = false;
  if (connections_.fetch_add(1) < options_.max_connections) {
    counters_.open.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  connections_.fetch_sub(1);
  // Tell a few refused clients why (after their handshake); close the rest at once.
  constexpr std::size_t kExplained = 64;
  if (over_limit_.fetch_add(1) < kExplained) {
    over_limit = true;
    return true;
  }
  over_limit_.fetch_sub(1);
  counters_.disconnects[static_cast<std::size_t>(net::Reason::server_full)].fetch_add(1);
  log_.warn("refused a connection: at the limit of {} connections", options_.max_connections);
  return false;
}

void SessionService::connection_closed(bool over_limit) {
  if (over_limit) {
    over_limit_.fetch_sub(1);
  } else {
    connections_.fetch_sub(1);
    counters_.open.fetch_sub(1, std::memory_order_relaxed);
  }
}

std::shared_ptr<net::TlsContext> SessionService::tls_context() {
  std::lock_guard lock(tls_mu_);
  return tls_;
}

void SessionService::reload_tls() {
  if (!tls_context()) throw UsageError("reload_tls: no listener of this server uses TLS");
  // Built first: a bad file throws here and the current context stays.
  auto fresh = net::TlsContext::server(options_.tls_certificate, options_.tls_private_key);
  {
    std::lock_guard lock(tls_mu_);
    tls_ = std::move(fresh);
  }
  log_.info("reloaded TLS certificate '{}' and key '{}' for new connections",
            options_.tls_certificate, options_.tls_private_key);
}

std::uint16_t SessionService::port(Server::Listener which) const {
  return ports_[static_cast<std::size_t>(which)];
}

void SessionService::stop() {
  if (!running_.exchange(false)) return;
  for (auto& l : listeners_) {
    asio::post(*ios_[0], [acceptor = l->acceptor.get()] {
      net::ErrorCode ignored;
      acceptor->close(ignored);
    });
  }
  std::vector<std::shared_ptr<Connection>> open;
  {
    std::lock_guard lock(sessions_mu_);
    for (auto& w : open_connections_) {
      if (auto c = w.lock()) open.push_back(std::move(c));
    }
    open_connections_.clear();
  }
  for (auto& c : open)
    c->close(net::Reason::shutdown, "the server is shutting down");
  open.clear();
  // Give the goodbyes a moment to leave, then stop the threads.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (connections_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  work_.clear();
  for (auto& io : ios_)
    io->stop();
  for (auto& t : threads_)
    t.join();
  threads_.clear();
  // A login being checked holds its connection, whose timers belong to the
  // network threads' io_contexts: let it go while they still exist, and
  // before the members the login's completion uses are destroyed.
  auth_->stop();
  {
    std::lock_guard lock(sessions_mu_);
    for (auto& [id, s] : sessions_) {
      std::lock_guard slock(s->mu);
      s->conn.reset();
    }
  }
  listeners_.clear();
}

// ---- Start-up --------------------------------------------------------------

void SessionService::cleanup_stale_sessions() {
  // Sessions are live state: none survives a restart. Tell the game about
  // each one the last run left behind, then remove it.
  std::vector<std::string> names;
  std::string cursor(kIdentityPrefix);
  for (bool more = true; more;) {
    tasks_.submit_and_wait("starhold.find-stale-sessions", [&](Transaction& tx) {
      more = false;
      std::string at = cursor;
      for (int i = 0; i < 1000; ++i) {
        auto next = tx.next_bound_name(at);
        if (!next || next->rfind(kIdentityPrefix, 0) != 0) return;
        names.push_back(*next);
        at = *next;
      }
      cursor = at;
      more = true;
    });
  }
  auto end = [](const std::string& name, bool tell_listener) {
    return [name, tell_listener](Transaction& tx) {
      auto* rec = tx.find<SessionRecord>(name);
      if (rec == nullptr) return;
      if (tell_listener && rec->listener) {
        tx.get(rec->listener).disconnected(tx, Session(rec->id()), false);
      }
      tx.remove(*rec);
      tx.unbind(name);
    };
  };
  // Many at once, so a restart after a crash with many players is quick.
  constexpr std::size_t kInFlight = 1024;
  for (std::size_t at = 0; at < names.size(); at += kInFlight) {
    std::vector<std::pair<std::string, std::future<void>>> ends;
    for (std::size_t i = at; i < std::min(names.size(), at + kInFlight); ++i) {
      ends.emplace_back(names[i],
                        tasks_.submit_future("starhold.end-stale-session", end(names[i], true)));
    }
    for (auto& [name, ended] : ends) {
      try {
        ended.get();
      } catch (const std::exception& e) {
        log_.error(
            "the listener of stale session '{}' failed ({}); removing it without the listener",
            name.substr(kIdentityPrefix.size()), e.what());
        tasks_.submit_and_wait("starhold.end-stale-session", end(name, false));
      }
    }
  }
  if (!names.empty()) log_.info("ended {} sessions left by the previous run", names.size());
}

void SessionService::initialize_world() {
  tasks_.submit_and_wait("starhold.initialize", [this](Transaction& tx) {
    if (tx.find<WorldInfo>(kInitializedName) != nullptr) return;
    app_->initialize(tx);
    auto& info = tx.create<WorldInfo>();
    info.created_ms = tasks_.wall_ms();
    tx.bind(kInitializedName, info);
  });
}

}  // namespace starhold::session
