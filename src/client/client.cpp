#include "starhold/client.hpp"

#include <optional>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "client/session_link.hpp"
#include "core/thread_name.hpp"

namespace starhold::client {
namespace asio = boost::asio;

namespace {

// The frame limit assumed for send() before a WELCOME tells the real one.
constexpr std::uint32_t kAssumedMaxFrame = 65535;

std::shared_ptr<net::TlsContext> tls_context(const ClientOptions& o) {
  if (o.transport != Transport::tls && o.transport != Transport::websocket_tls) return nullptr;
  return net::TlsContext::client(o.ca_file, o.verify_server);
}

}  // namespace

// Owns the SessionLink and, for the first constructor, the io_context and
// thread it runs on. Destroying it detaches the link: no callback runs after
// that, and the link closes its connection on its strand. An own io thread is
// joined once the link's operations have finished.
class Client::Impl {
 public:
  explicit Impl(ClientOptions options)
      : own_io_(std::make_unique<asio::io_context>(1)),
        link_(make_link(*own_io_, std::move(options))),
        work_(asio::make_work_guard(*own_io_)),
        thread_([io = own_io_.get()] {
          core::name_this_thread("sh-client");
          io->run();
        }) {}

  Impl(asio::io_context& io, ClientOptions options) : link_(make_link(io, std::move(options))) {}

  ~Impl() {
    link_->detach();
    if (thread_.joinable()) {
      work_.reset();
      thread_.join();
    }
  }

  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  const SessionLink& link() const noexcept { return *link_; }

  // Runs f(link) on the link's strand.
  template <class F>
  void post(F f) {
    asio::post(link_->strand(), [link = link_, f = std::move(f)]() mutable { f(*link); });
  }

  // Throws std::length_error when a frame with a body of body_size bytes is
  // over the server's maximum (or, before the first WELCOME, the assumed one).
  void check_frame_size(std::size_t body_size) const {
    const std::uint32_t announced = link_->max_frame();
    const std::uint64_t limit = announced != 0 ? announced : kAssumedMaxFrame;
    const std::uint64_t length = 1 + std::uint64_t{body_size};
    if (length > limit) {
      throw std::length_error(fmt::format(
          "message too large: its frame would be {} bytes, over the {} maximum of {} bytes", length,
          announced != 0 ? "server's" : "assumed", limit));
    }
  }

 private:
  static std::shared_ptr<SessionLink> make_link(asio::io_context& io, ClientOptions options) {
    auto tls = tls_context(options);
    return std::make_shared<SessionLink>(asio::make_strand(io), std::move(options), std::move(tls));
  }

  std::unique_ptr<asio::io_context> own_io_;  // null with a caller's io_context
  std::shared_ptr<SessionLink> link_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread thread_;
};

Client::Client(ClientOptions options) : impl_(std::make_shared<Impl>(std::move(options))) {}

Client::Client(asio::io_context& io, ClientOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(options))) {}

Client::~Client() = default;

void Client::login(std::string name, std::string password) {
  if (name.size() > 0xffff || password.size() > 0xffff) {
    throw std::length_error(fmt::format(
        "login: a name of {} bytes and a password of {}; each must be at most 65,535 bytes",
        name.size(), password.size()));
  }
  net::FrameWriter w(net::Op::login, 4 + name.size() + password.size());
  w.str(name).str(password);
  Callbacks callbacks{on_logged_in,    on_login_failed,    on_message,      on_channel_joined,
                      on_channel_left, on_channel_message, on_disconnected, on_reconnected};
  impl_->post([callbacks = std::move(callbacks), frame = w.share()](SessionLink& link) mutable {
    link.login(std::move(callbacks), std::move(frame));
  });
}

void Client::send(std::string_view message) {
  impl_->check_frame_size(message.size());
  net::FrameWriter w(net::Op::session_message, message.size());
  w.rest(message);
  impl_->post([frame = w.share()](SessionLink& link) mutable { link.send(std::move(frame)); });
}

void Client::send_channel(std::uint64_t channel, std::string_view message) {
  impl_->check_frame_size(8 + message.size());
  net::FrameWriter w(net::Op::channel_message, 8 + message.size());
  w.u64(channel).rest(message);
  impl_->post([frame = w.share()](SessionLink& link) mutable { link.send(std::move(frame)); });
}

void Client::logout() {
  impl_->post([](SessionLink& link) { link.logout(); });
}

void Client::close() {
  impl_->post([](SessionLink& link) { link.close(); });
}

void Client::drop_connection() {
  impl_->post([](SessionLink& link) { link.drop_connection(); });
}

bool Client::logged_in() const {
  return impl_->link().logged_in();
}

std::uint64_t Client::session() const {
  return impl_->link().session();
}

}  // namespace starhold::client
