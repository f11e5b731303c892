#include "support/raw_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace test {

std::string be16(std::uint16_t v) {
  return {static_cast<char>(v >> 8), static_cast<char>(v)};
}
std::string be32(std::uint32_t v) {
  return be16(static_cast<std::uint16_t>(v >> 16)) + be16(static_cast<std::uint16_t>(v));
}
std::string be64(std::uint64_t v) {
  return be32(static_cast<std::uint32_t>(v >> 32)) + be32(static_cast<std::uint32_t>(v));
}
std::string str16(std::string_view s) {
  return be16(static_cast<std::uint16_t>(s.size())) + std::string(s);
}
std::string frame(std::uint8_t op, std::string_view body) {
  return be32(static_cast<std::uint32_t>(body.size() + 1)) + static_cast<char>(op) +
         std::string(body);
}
std::uint16_t get16(std::string_view s, std::size_t at) {
  return static_cast<std::uint16_t>((static_cast<unsigned char>(s.at(at)) << 8) |
                                    static_cast<unsigned char>(s.at(at + 1)));
}
std::uint32_t get32(std::string_view s, std::size_t at) {
  return (static_cast<std::uint32_t>(get16(s, at)) << 16) | get16(s, at + 2);
}
std::uint64_t get64(std::string_view s, std::size_t at) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i)
    v = (v << 8) | static_cast<unsigned char>(s.at(at + i));
  return v;
}

RawClient::RawClient(std::uint16_t port) : RawClient(port, "127.0.0.1") {}

RawClient::RawClient(std::uint16_t port, const std::string& source_ip, std::string_view preamble) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error("socket failed");
  sockaddr_in from{};
  from.sin_family = AF_INET;
  if (::inet_pton(AF_INET, source_ip.c_str(), &from.sin_addr) != 1 ||
      ::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) {
    ::close(fd_);
    throw std::runtime_error("cannot bind to " + source_ip);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd_);
    throw std::runtime_error("connect failed");
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  send_raw(preamble);
}

RawClient::~RawClient() {
  close();
}

void RawClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void RawClient::send_raw(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return;  // the server may have closed on us: that is what some tests want
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

bool RawClient::fill(std::chrono::steady_clock::time_point deadline) {
  if (eof_) return false;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
  char buf[65536];
  const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) {
    eof_ = true;
    return false;
  }
  buffer_.append(buf, static_cast<std::size_t>(n));
  return true;
}

std::optional<Frame> RawClient::read(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (buffer_.size() >= 4) {
      const std::uint32_t len =
          (static_cast<std::uint32_t>(get16(buffer_, 0)) << 16) | get16(buffer_, 2);
      if (buffer_.size() >= 4 + len && len >= 1) {
        Frame f{static_cast<std::uint8_t>(buffer_[4]), buffer_.substr(5, len - 1)};
        buffer_.erase(0, 4 + len);
        return f;
      }
    }
    if (!fill(deadline)) return std::nullopt;
  }
}

std::optional<Frame> RawClient::read_skipping_heartbeats(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    auto f = read(left);
    if (!f || f->op != op::heartbeat) return f;
  }
}

bool RawClient::wait_closed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!eof_) {
    if (!fill(deadline) && !eof_) return false;
    buffer_.clear();
  }
  return true;
}

int RawClient::wait_disconnect_reason(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    auto f = read(left);
    if (!f) return -1;
    if (f->op == op::disconnect) return get16(f->body, 0);
  }
}

std::uint32_t RawClient::hello() {
  send(op::hello, be32(0x53484C44) + be16(kProtocolVersion));
  auto f = read();
  if (!f || f->op != op::welcome) throw std::runtime_error("no WELCOME");
  return (static_cast<std::uint32_t>(get16(f->body, 6)) << 16) | get16(f->body, 8);
}

Frame RawClient::login_reply(const char* request) {
  auto f = read_skipping_heartbeats();
  if (!f) throw std::runtime_error(std::string("no reply to ") + request);
  if (f->op == op::login_ok) {
    login_ok_ = f->body;
    token_ = f->body.substr(10, get16(f->body, 8));
  }
  return *f;
}

Frame RawClient::login(std::string_view name, std::string_view password) {
  send(op::login, str16(name) + str16(password));
  return login_reply("LOGIN");
}

std::uint64_t RawClient::connect_session(std::string_view name, std::string_view password) {
  hello();
  Frame f = login(name, password);
  if (f.op != op::login_ok) {
    throw std::runtime_error("login failed with opcode " + std::to_string(f.op));
  }
  return get64(f.body, 0);
}

std::string RawClient::resume_token() const {
  const std::size_t at = 10 + get16(login_ok_, 8) + 8;  // after the token, grace and budget
  return login_ok_.substr(at + 2, get16(login_ok_, at));
}

Frame RawClient::resume(std::string_view token) {
  hello();
  send(op::resume, str16(token));
  return login_reply("RESUME");
}

Frame RawClient::reconnect(std::string_view token, std::uint64_t received) {
  hello();
  send(op::reconnect, str16(token) + be64(received));
  auto f = read_skipping_heartbeats();
  if (!f) throw std::runtime_error("no reply to RECONNECT");
  if (f->op == op::reconnect_ok && f->body.size() >= 18) {
    token_ = f->body.substr(18, get16(f->body, 16));  // the rotated token
  }
  return *f;
}

}  // namespace test
