// The byte pipes the protocol runs over: TCP, TLS, and WebSocket (plain or
// over TLS). A Transport is used from its io_context's thread only, with at
// most one read and one write outstanding.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "net/tls.hpp"

namespace starhold::net {

enum class TransportKind { tcp, tls, websocket, websocket_tls };

const char* transport_name(TransportKind k) noexcept;

class Transport {
 public:
  using Done = std::function<void(ErrorCode)>;
  using ReadDone = std::function<void(ErrorCode, std::size_t)>;

  virtual ~Transport() = default;

  // Completes the transport's own opening: the TLS handshake, the WebSocket
  // upgrade, or nothing for TCP.
  virtual void handshake(Done done) = 0;
  // Completes when read_some would find data (or an error), without taking
  // a buffer; lets an idle connection hold none.
  virtual void wait_readable(Done done) = 0;
  // Reads at least one byte into buf.
  virtual void read_some(char* buf, std::size_t n, ReadDone done) = 0;
  // Writes every buffer, in order (one WebSocket message). The buffers'
  // memory must stay valid until done runs.
  virtual void write(const std::vector<boost::asio::const_buffer>& buffers, Done done) = 0;
  // Closes at once; pending operations complete with an error.
  virtual void close() noexcept = 0;

  virtual TransportKind kind() const noexcept = 0;
  const std::string& remote_address() const noexcept { return remote_; }
  // The client's address as a PROXY protocol header named it.
  void set_remote_address(std::string address) { remote_ = std::move(address); }

 protected:
  std::string remote_;
};

// The accepting side of socket. tls is required for the TLS kinds.
std::unique_ptr<Transport> server_transport(TransportKind kind, boost::asio::ip::tcp::socket socket,
                                            const std::shared_ptr<TlsContext>& tls);

// The connecting side of an already connected socket. host is used for TLS
// name checks and the WebSocket Host header; path for the WebSocket request.
std::unique_ptr<Transport> client_transport(TransportKind kind, boost::asio::ip::tcp::socket socket,
                                            const std::shared_ptr<TlsContext>& tls,
                                            const std::string& host, const std::string& path = "/");

}  // namespace starhold::net
