// Behind a TLS terminator or load balancer, the PROXY protocol (v2) header
// names the real client, so the login limits count the client's address,
// not the proxy's. The headers here are built by hand from HAProxy's
// specification (doc/proxy-protocol.txt, section 2.2).
#include <catch2/catch.hpp>

#include <arpa/inet.h>

#include "session/tls_probe.hpp"
#include "support/raw_client.hpp"
#include "support/test_world.hpp"

namespace {

using test::op::login_failed;
using test::op::login_ok;

const std::string kSignature("\r\n\r\n\0\r\nQUIT\n", 12);

// version 2, command (0 LOCAL, 1 PROXY), family/transport, then the block.
std::string proxy_header(std::uint8_t command, std::uint8_t family, const std::string& block) {
  return kSignature + static_cast<char>(0x20 | command) + static_cast<char>(family) +
         test::be16(static_cast<std::uint16_t>(block.size())) + block;
}

// PROXY, TCP over IPv4, from source:port to 10.0.0.1:7000.
std::string proxy_ipv4(const std::string& source, std::uint16_t port) {
  in_addr src{}, dst{};
  ::inet_pton(AF_INET, source.c_str(), &src);
  ::inet_pton(AF_INET, "10.0.0.1", &dst);
  return proxy_header(1, 0x11,
                      std::string(reinterpret_cast<const char*>(&src), 4) +
                          std::string(reinterpret_cast<const char*>(&dst), 4) + test::be16(port) +
                          test::be16(7000));
}

// PROXY, TCP over IPv6, from source, with a TLV after the addresses.
std::string proxy_ipv6(const std::string& source) {
  in6_addr src{}, dst{};
  ::inet_pton(AF_INET6, source.c_str(), &src);
  ::inet_pton(AF_INET6, "2001:db8::ffff", &dst);
  const std::string noop_tlv = std::string(1, '\x04') + test::be16(3) + "pad";
  return proxy_header(1, 0x21,
                      std::string(reinterpret_cast<const char*>(&src), 16) +
                          std::string(reinterpret_cast<const char*>(&dst), 16) + test::be16(4242) +
                          test::be16(7000) + noop_tlv);
}

std::uint16_t reason_of(const test::Frame& f) {
  return f.op == login_failed || f.op == test::op::disconnect ? test::get16(f.body, 0) : 0;
}

void proxy_on(starhold::ServerOptions& o) {
  o.tcp_proxy_protocol = true;
  o.tls_proxy_protocol = true;
  o.max_failed_logins = 2;
  o.handshake_timeout = std::chrono::milliseconds(3000);
}

}  // namespace

TEST_CASE("with the PROXY protocol, login limits count the client named in the header") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log, proxy_on);
  {
    test::RawClient setup(net.tcp, "127.0.0.1", proxy_ipv4("198.51.100.4", 5000));
    setup.connect_session("vic", "right");
  }
  // Both attackers below connect from the proxy's address, 127.0.0.1.
  test::RawClient attacker(net.tcp, "127.0.0.1", proxy_ipv4("203.0.113.7", 40000));
  attacker.hello();
  CHECK(reason_of(attacker.login("vic", "a")) == 6);  // bad_credentials
  CHECK(reason_of(attacker.login("vic", "b")) == 7);  // too_many_attempts
  CHECK(log.count({"login of 'vic' from 203.0.113.7 failed"}) == 2);

  test::RawClient owner(net.tcp, "127.0.0.1", proxy_ipv4("198.51.100.4", 5001));
  owner.hello();
  CHECK(owner.login("vic", "right").op == login_ok);
  CHECK(test::wait_until([&] { return log.count({"'vic' logged in from 198.51.100.4"}) == 2; }));

  test::RawClient v6(net.tcp, "127.0.0.1", proxy_ipv6("2001:db8::7"));
  v6.hello();
  CHECK(reason_of(v6.login("vic", "c")) == 6);
  CHECK(log.count({"login of 'vic' from 2001:db8::7 failed"}) == 1);
}

TEST_CASE("a LOCAL PROXY header keeps the connection's own address") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log, proxy_on);
  test::RawClient health(net.tcp, "127.0.0.5", proxy_header(0, 0x00, ""));
  health.connect_session("checker", "pw");
  CHECK(test::wait_until([&] { return log.count({"'checker' logged in from 127.0.0.5"}) == 1; }));
}

TEST_CASE("a listener expecting the PROXY protocol refuses a connection without a valid header") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log, proxy_on);
  std::string bad_version = proxy_ipv4("203.0.113.7", 1);
  bad_version[12] = 0x11;
  std::string udp = proxy_ipv4("203.0.113.7", 1);
  udp[13] = 0x12;
  const std::string hello =
      test::frame(test::op::hello, test::be32(0x53484C44) + test::be16(test::kProtocolVersion));
  struct Case {
    std::string name, bytes, logged;
  };
  const std::vector<Case> cases = {
      {"no header", hello, "no PROXY protocol v2 signature"},
      {"version 1 of the header", bad_version, "PROXY protocol version 1, not 2"},
      {"a datagram source", udp, "not TCP over IPv4 or IPv6"},
      {"a header cut short", kSignature.substr(0, 9), "no complete PROXY header in time"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    test::RawClient client(net.tcp, "127.0.0.1", c.bytes);
    CHECK_FALSE(client.read(std::chrono::seconds(10)));  // closed without a WELCOME
    CHECK(client.wait_closed());
    CHECK(log.count({"refused a tcp connection from 127.0.0.1", c.logged}) == 1);
  }
  // A well-behaved client through the proxy is still served.
  test::RawClient good(net.tcp, "127.0.0.1", proxy_ipv4("198.51.100.9", 1));
  CHECK(good.connect_session("good", "pw") != 0);
}

TEST_CASE("the PROXY header comes before the TLS handshake on a TLS listener") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log, proxy_on);
  test::TlsProbe probe(net.tls, {}, net.ca, "127.0.0.1", proxy_ipv4("192.0.2.44", 6000));
  REQUIRE(probe.connected());
  auto reply = probe.hello_and_login("tina", "pw");
  REQUIRE(reply);
  CHECK(reply->op == login_ok);
  CHECK(
      test::wait_until([&] { return log.count({"'tina' logged in from 192.0.2.44 (tls)"}) == 1; }));

  // Without the header, the TLS listener refuses the connection.
  test::TlsProbe bare(net.tls, {}, net.ca);
  CHECK_FALSE(bare.connected());
  CHECK(log.count({"refused a tls connection from 127.0.0.1", "PROXY"}) == 1);
}
