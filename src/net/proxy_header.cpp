#include "net/proxy_header.hpp"

#include <algorithm>
#include <array>
#include <chrono>

#include <fmt/format.h>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>

namespace starhold::net {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr std::string_view kSignature("\r\n\r\n\0\r\nQUIT\n", 12);

std::uint8_t byte_at(std::string_view s, std::size_t i) {
  return static_cast<std::uint8_t>(s[i]);
}
std::uint16_t u16_at(std::string_view s, std::size_t i) {
  return static_cast<std::uint16_t>((byte_at(s, i) << 8) | byte_at(s, i + 1));
}

template <std::size_t N>
std::array<unsigned char, N> bytes_at(std::string_view s, std::size_t i) {
  std::array<unsigned char, N> out{};
  for (std::size_t k = 0; k < N; ++k)
    out[k] = byte_at(s, i + k);
  return out;
}

}  // namespace

std::size_t proxy_block_length(std::string_view fixed) {
  if (fixed.size() != kProxyFixedBytes || fixed.substr(0, kSignature.size()) != kSignature) {
    throw ProxyHeaderError("no PROXY protocol v2 signature");
  }
  const std::uint8_t version = byte_at(fixed, 12) >> 4, command = byte_at(fixed, 12) & 0x0f;
  if (version != 2)
    throw ProxyHeaderError(fmt::format("PROXY protocol version {}, not 2", version));
  if (command > 1) throw ProxyHeaderError(fmt::format("unknown PROXY command {:#x}", command));
  const std::uint8_t family = byte_at(fixed, 13) >> 4, transport = byte_at(fixed, 13) & 0x0f;
  if (family > 3 || transport > 2) {
    throw ProxyHeaderError(
        fmt::format("unknown PROXY address family and transport {:#04x}", byte_at(fixed, 13)));
  }
  const std::size_t length = u16_at(fixed, 14);
  if (length > kProxyMaxBlockBytes) {
    throw ProxyHeaderError(fmt::format("a PROXY address block of {} bytes (at most {} accepted)",
                                       length, kProxyMaxBlockBytes));
  }
  return length;
}

ProxyHeader parse_proxy_header(std::string_view fixed, std::string_view block) {
  if (block.size() != proxy_block_length(fixed)) {
    throw ProxyHeaderError("a PROXY header shorter than its stated length");
  }
  ProxyHeader h;
  if ((byte_at(fixed, 12) & 0x0f) == 0) {
    h.local = true;  // addresses, if any, are to be ignored
    return h;
  }
  switch (byte_at(fixed, 13)) {
    case 0x11:  // TCP over IPv4: source, destination (4 bytes each), ports
      if (block.size() < 12) throw ProxyHeaderError("a PROXY IPv4 block under 12 bytes");
      h.source = asio::ip::make_address_v4(bytes_at<4>(block, 0)).to_string();
      h.port = u16_at(block, 8);
      return h;
    case 0x21:  // TCP over IPv6: source, destination (16 bytes each), ports
      if (block.size() < 36) throw ProxyHeaderError("a PROXY IPv6 block under 36 bytes");
      h.source = asio::ip::make_address_v6(bytes_at<16>(block, 0)).to_string();
      h.port = u16_at(block, 32);
      return h;
    default:
      throw ProxyHeaderError(fmt::format(
          "a PROXY header for address family and transport {:#04x}, not TCP over IPv4 or IPv6",
          byte_at(fixed, 13)));
  }
}

namespace {

// One header being read: the fixed part, then the block it announces.
struct ProxyRead : std::enable_shared_from_this<ProxyRead> {
  ProxyRead(std::shared_ptr<tcp::socket> s, ProxyDone d)
      : socket(std::move(s)), timer(socket->get_executor()), done(std::move(d)) {}

  void start(std::chrono::steady_clock::duration timeout) {
    timer.expires_after(timeout);
    timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->finished) return;
      self->timed_out = true;
      boost::system::error_code ignored;
      self->socket->cancel(ignored);
    });
    fixed.resize(kProxyFixedBytes);
    read_fixed();
  }

  // Reads the fixed part as it comes, so that a client that sends no header
  // is refused at its first bytes, not after the timeout.
  void read_fixed() {
    socket->async_read_some(
        asio::buffer(fixed.data() + have, fixed.size() - have),
        [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
          if (ec) return self->fail(ec);
          self->have += n;
          const std::size_t compare = std::min(self->have, kSignature.size());
          if (std::string_view(self->fixed).substr(0, compare) != kSignature.substr(0, compare)) {
            return self->finish("no PROXY protocol v2 signature", {});
          }
          if (self->have < self->fixed.size()) return self->read_fixed();
          self->read_block();
        });
  }

  void read_block() {
    try {
      block.resize(proxy_block_length(fixed));
    } catch (const ProxyHeaderError& e) {
      return finish(e.what(), {});
    }
    asio::async_read(*socket, asio::buffer(block),
                     [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                       if (ec) return self->fail(ec);
                       try {
                         self->finish({}, parse_proxy_header(self->fixed, self->block));
                       } catch (const ProxyHeaderError& e) {
                         self->finish(e.what(), {});
                       }
                     });
  }

  void fail(boost::system::error_code ec) {
    finish(timed_out ? "no complete PROXY header in time"
                     : "the connection ended inside its PROXY header (" + ec.message() + ")",
           {});
  }

  void finish(const std::string& error, const ProxyHeader& header) {
    finished = true;
    timer.cancel();
    done(error, header);
  }

  std::shared_ptr<tcp::socket> socket;
  asio::steady_timer timer;
  ProxyDone done;
  std::string fixed, block;
  std::size_t have = 0;  // bytes of fixed read so far
  bool finished = false, timed_out = false;
};

}  // namespace

void async_read_proxy_header(std::shared_ptr<tcp::socket> socket,
                             std::chrono::steady_clock::duration timeout, ProxyDone done) {
  auto read = std::make_shared<ProxyRead>(std::move(socket), std::move(done));
  asio::post(read->socket->get_executor(), [read, timeout] { read->start(timeout); });
}

}  // namespace starhold::net
