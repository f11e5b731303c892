// The PROXY protocol, version 2: the binary header a TLS terminator or load
// balancer (HAProxy, AWS NLB, Envoy...) sends first on each connection it
// relays, naming the client it relays for. Spec:
// https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt, section 2.2.
//
// Layout: 12 signature bytes; a byte of version (high 4 bits, must be 2) and
// command (low 4 bits: 0 LOCAL, 1 PROXY); a byte of address family (high:
// 0 unspecified, 1 IPv4, 2 IPv6, 3 Unix) and transport (low: 0 unspecified,
// 1 stream, 2 datagram); a big-endian u16 count of the bytes that follow:
// source address, destination address, source port, destination port
// (12 bytes for IPv4, 36 for IPv6), then optional TLVs, which are skipped.
//
// Starhold accepts LOCAL (the proxy's own connection, such as a health
// check: the socket's own address is used) and PROXY for TCP over IPv4 or
// IPv6. Anything else is refused: a relayed connection whose client is not
// named would share one address, and so one login limit, with every other.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include <boost/asio/ip/tcp.hpp>

namespace starhold::net {

// The fixed part of a header, before its variable-length address block.
inline constexpr std::size_t kProxyFixedBytes = 16;
// The largest address block (with TLVs) accepted; longer headers are refused.
inline constexpr std::size_t kProxyMaxBlockBytes = 2048;

// A header that is not a valid PROXY protocol v2 header; what() says why.
class ProxyHeaderError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ProxyHeader {
  bool local = false;      // LOCAL: the connection is the proxy's own
  std::string source;      // PROXY: the client's address ("203.0.113.7", "2001:db8::1")
  std::uint16_t port = 0;  // PROXY: the client's port
};

// Checks the fixed 16 bytes and returns the length of the address block
// that follows. Throws ProxyHeaderError.
std::size_t proxy_block_length(std::string_view fixed);
// Decodes a whole header: the fixed 16 bytes and the block. Throws ProxyHeaderError.
ProxyHeader parse_proxy_header(std::string_view fixed, std::string_view block);

// Reads one header from socket, and not a byte more, so that the TLS or
// WebSocket handshake that follows finds its first byte. done runs on the
// socket's executor with the header, or with an empty error text on
// success and a reason otherwise (also when nothing complete came within
// timeout, or the peer closed). socket must stay open until done runs.
using ProxyDone = std::function<void(const std::string& error, const ProxyHeader& header)>;
void async_read_proxy_header(std::shared_ptr<boost::asio::ip::tcp::socket> socket,
                             std::chrono::steady_clock::duration timeout, ProxyDone done);

}  // namespace starhold::net
