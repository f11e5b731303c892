// The network benchmark's load generator: protocol frames written from
// docs/protocol.md alone, and a client link (plain TCP or TLS, on Asio) that
// says HELLO, logs in, then hands every frame to the workload. Many links
// share one io_context run by one LoadThread, so the generator stays cheap
// next to the server on the same cores.
#pragma once

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>

namespace netbench {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using TlsSocket = asio::ssl::stream<tcp::socket>;
using Clock = std::chrono::steady_clock;

// ---- Frames ----------------------------------------------------------------------

namespace op {
inline constexpr std::uint8_t hello = 0x01, welcome = 0x02, login = 0x10, login_ok = 0x11,
                              login_failed = 0x12, session_message = 0x20, channel_joined = 0x30,
                              channel_left = 0x31, channel_message = 0x32, heartbeat = 0x50,
                              disconnect = 0x60;
}

inline constexpr std::uint32_t kMaxFrame = 65536;

inline void put_be(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i)
    out.push_back(static_cast<char>(v >> (8 * i)));
}

inline std::uint64_t get_be(const char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

// Appends one frame (length, opcode, body) to out.
inline void append_frame(std::string& out, std::uint8_t opcode, std::string_view body) {
  put_be(out, body.size() + 1, 4);
  out.push_back(static_cast<char>(opcode));
  out.append(body);
}

inline std::string frame(std::uint8_t opcode, std::string_view body) {
  std::string out;
  append_frame(out, opcode, body);
  return out;
}

inline std::string str16(std::string_view s) {
  std::string out;
  put_be(out, s.size(), 2);
  out.append(s);
  return out;
}

inline std::string u64_body(std::uint64_t v) {
  std::string out;
  put_be(out, v, 8);
  return out;
}

// Bytes read from a stream, cut into whole frames.
class FrameReader {
 public:
  explicit FrameReader(std::size_t chunk) : buf_(chunk) {}
  // Room for the next read.
  asio::mutable_buffer space() {
    if (buf_.size() - end_ < 512) {
      if (begin_ > 0) {
        std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
      }
      if (buf_.size() - end_ < 512) buf_.resize(buf_.size() * 2);
    }
    return asio::buffer(buf_.data() + end_, buf_.size() - end_);
  }
  void commit(std::size_t n) { end_ += n; }
  // Calls f(opcode, body) for every whole frame; false on a frame no server may send.
  template <class F>
  bool each(F&& f) {
    while (end_ - begin_ >= 5) {
      const char* p = buf_.data() + begin_;
      const auto len = static_cast<std::size_t>(get_be(p, 4));
      if (len == 0 || len > kMaxFrame) return false;
      if (end_ - begin_ < 4 + len) break;
      begin_ += 4 + len;
      f(static_cast<std::uint8_t>(p[4]), std::string_view(p + 5, len - 1));
    }
    if (begin_ == end_) begin_ = end_ = 0;
    return true;
  }

 private:
  std::vector<char> buf_;
  std::size_t begin_ = 0, end_ = 0;
};

// ---- A client link ------------------------------------------------------------------

// One client connection over Stream (tcp::socket or TlsSocket). Lives on its
// io_context's thread: every member must be called there.
template <class Stream>
class Link : public std::enable_shared_from_this<Link<Stream>> {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsSocket>;

  struct Options {
    std::uint16_t port = 0;
    std::string name, password = "pw";
    std::size_t read_chunk = 16384;
    // Acknowledge (HEARTBEAT with the count) every this many counted frames; 0: never.
    std::uint64_t ack_every = 64;
  };

  // Called once: logged in (true), or the login failed or the link closed first (false).
  std::function<void(bool ok)> on_login;
  // Every frame after LOGIN_OK but HEARTBEAT and DISCONNECT.
  std::function<void(std::uint8_t opcode, std::string_view body)> on_frame;

  template <class... StreamArgs>
  Link(asio::io_context& io, Options options, StreamArgs&&... stream_args)
      : options_(std::move(options)),
        stream_(io, std::forward<StreamArgs>(stream_args)...),
        reader_(options_.read_chunk) {}

  void start() {
    auto self = this->shared_from_this();
    tcp::endpoint ep(asio::ip::address_v4::loopback(), options_.port);
    stream_.lowest_layer().async_connect(ep, [self](boost::system::error_code ec) {
      if (ec) return self->close_because("connect: " + ec.message());
      boost::system::error_code ignored;
      self->stream_.lowest_layer().set_option(tcp::no_delay(true), ignored);
      if constexpr (kTls) {
        self->stream_.async_handshake(asio::ssl::stream_base::client,
                                      [self](boost::system::error_code hec) {
                                        if (hec)
                                          return self->close_because("TLS: " + hec.message());
                                        self->greet();
                                      });
      } else {
        self->greet();
      }
    });
  }

  // Queues bytes (whole frames); writes coalesce while one is in flight.
  void send_bytes(std::string_view bytes) {
    if (closed_) return;
    pending_.append(bytes);
    if (!writing_) write();
  }
  void send(std::uint8_t opcode, std::string_view body) {
    if (closed_) return;
    append_frame(pending_, opcode, body);
    if (!writing_) write();
  }

  // Closes, noting why (for the report).
  void close_because(std::string why) {
    if (closed_) return;
    why_ = std::move(why);
    close();
  }
  void close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ignored;
    stream_.lowest_layer().close(ignored);
    if (!logged_in_ && on_login) std::exchange(on_login, nullptr)(false);
  }

  bool logged_in() const noexcept { return logged_in_; }
  bool closed() const noexcept { return closed_; }
  std::uint64_t received() const noexcept { return received_; }
  // The server's DISCONNECT reason, or the local error, once closed.
  const std::string& why() const noexcept { return why_; }
  std::uint16_t disconnect_reason() const noexcept { return disconnect_reason_; }

 private:
  void greet() {
    std::string hello;
    put_be(hello, 0x53484C44, 4);
    put_be(hello, 1, 2);
    send(op::hello, hello);
    read();
  }

  void read() {
    auto self = this->shared_from_this();
    stream_.async_read_some(reader_.space(), [self](boost::system::error_code ec, std::size_t n) {
      if (self->closed_) return;
      if (ec) return self->close_because("read: " + ec.message());
      self->reader_.commit(n);
      const bool ok = self->reader_.each(
          [&](std::uint8_t opcode, std::string_view body) { self->handle(opcode, body); });
      if (!ok) return self->close_because("a frame longer than the protocol allows");
      if (!self->closed_) self->read();
    });
  }

  void handle(std::uint8_t opcode, std::string_view body) {
    if (closed_) return;
    switch (opcode) {
      case op::welcome:
        send(op::login, str16(options_.name) + str16(options_.password));
        return;
      case op::login_ok:
        logged_in_ = true;
        if (on_login) std::exchange(on_login, nullptr)(true);
        return;
      case op::login_failed:
        return close_because("login failed: " +
                             std::string(body.size() > 4 ? body.substr(4) : body));
      case op::disconnect:
        disconnect_reason_ = body.size() >= 2 ? static_cast<std::uint16_t>(get_be(body.data(), 2))
                                              : std::uint16_t{0};
        return close_because("DISCONNECT " + std::to_string(disconnect_reason_) + ": " +
                             std::string(body.size() > 4 ? body.substr(4) : body));
      case op::heartbeat:
        send(op::heartbeat, u64_body(received_));  // the server heard nothing from us a while
        return;
      case op::session_message:
      case op::channel_joined:
      case op::channel_left:
      case op::channel_message:
        ++received_;
        if (options_.ack_every != 0 && received_ % options_.ack_every == 0) {
          send(op::heartbeat, u64_body(received_));
        }
        break;
      default:
        break;
    }
    if (logged_in_ && on_frame) on_frame(opcode, body);
  }

  void write() {
    writing_ = true;
    writing_buf_.swap(pending_);
    pending_.clear();
    auto self = this->shared_from_this();
    asio::async_write(stream_, asio::buffer(writing_buf_),
                      [self](boost::system::error_code ec, std::size_t) {
                        self->writing_ = false;
                        self->writing_buf_.clear();
                        if (self->closed_) return;
                        if (ec) return self->close_because("write: " + ec.message());
                        if (!self->pending_.empty()) self->write();
                      });
  }

  Options options_;
  Stream stream_;
  FrameReader reader_;
  std::string pending_, writing_buf_;
  bool writing_ = false, closed_ = false, logged_in_ = false;
  std::uint64_t received_ = 0;  // counted frames from the server
  std::uint16_t disconnect_reason_ = 0;
  std::string why_;
};

// ---- The client thread ----------------------------------------------------------------

// An io_context and the one thread that runs it.
class LoadThread {
 public:
  LoadThread() : io_(1), work_(io_.get_executor()), thread_([this] { io_.run(); }) {}
  // Without finish() (an early exit), stops at once: pending handlers never run.
  ~LoadThread() {
    if (!thread_.joinable()) return;
    io_.stop();
    thread_.join();
  }

  // Lets the thread end once every pending handler has run (close the links
  // first), and joins it. After this no client code runs. Idempotent.
  void finish() {
    work_.reset();
    if (thread_.joinable()) thread_.join();
  }
  asio::io_context& io() noexcept { return io_; }

  // Runs f on the thread and returns its result.
  template <class F>
  auto call(F f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    asio::post(io_, [&task] { task(); });
    return result.get();
  }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

// Opens n links named prefix0..prefix{n-1}, at most `concurrent` logging in
// at once, and waits (at most until deadline) for every login to end.
// configure(i, link) runs on the io thread before each link starts.
template <class Stream>
struct LoginWave {
  std::vector<std::shared_ptr<Link<Stream>>> links;  // every link, logged in or not
  std::size_t ok = 0, failed = 0;
  double seconds = 0;
  std::string first_failure;
};

template <class Stream, class MakeStreamArgs>
LoginWave<Stream> log_in_all(LoadThread& t, std::size_t n, const std::string& prefix,
                             typename Link<Stream>::Options base, std::size_t concurrent,
                             Clock::time_point deadline, MakeStreamArgs make_link) {
  struct State {
    LoginWave<Stream> wave;
    std::size_t next = 0, ended = 0;
    std::promise<void> done;
    std::function<void()> open_next;
  };
  auto st = std::make_shared<State>();
  const auto t0 = Clock::now();
  st->open_next = [&t, st, n, prefix, base, make_link] {
    if (st->next >= n) return;
    auto o = base;
    o.name = prefix + std::to_string(st->next++);
    auto link = make_link(t.io(), o);
    st->wave.links.push_back(link);
    Link<Stream>* raw = link.get();
    link->on_login = [st, n, raw](bool ok) {
      if (ok) {
        ++st->wave.ok;
      } else {
        ++st->wave.failed;
        if (st->wave.first_failure.empty()) st->wave.first_failure = raw->why();
      }
      if (++st->ended == n) {
        st->done.set_value();
      } else {
        st->open_next();
      }
    };
    link->start();
  };
  auto finished = st->done.get_future();
  t.call([&] {
    for (std::size_t i = 0; i < std::min(n, concurrent); ++i)
      st->open_next();
    return 0;
  });
  if (n > 0) finished.wait_until(deadline);
  // Links still logging in now count as failed: closing them ends their login.
  return t.call([&] {
    st->next = n;  // open no more
    for (auto& l : st->wave.links) {
      if (!l->logged_in()) l->close_because("no login before the deadline");
    }
    st->open_next = nullptr;
    LoginWave<Stream> w = std::move(st->wave);
    w.failed = n - w.ok;
    w.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    return w;
  });
}

// Closes every link on its thread.
template <class Stream>
void close_all(LoadThread& t, std::vector<std::shared_ptr<Link<Stream>>>& links) {
  t.call([&] {
    for (auto& l : links)
      l->close();
    return 0;
  });
  links.clear();
}

// ---- Process ------------------------------------------------------------------------------

// Raises the open-file limit to its hard limit; returns the new soft limit.
inline rlim_t raise_fd_limit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return 0;
  r.rlim_cur = r.rlim_max;
  setrlimit(RLIMIT_NOFILE, &r);
  getrlimit(RLIMIT_NOFILE, &r);
  return r.rlim_cur;
}

}  // namespace netbench
