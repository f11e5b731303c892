// The server's TLS policy, proved with real handshakes over 127.0.0.1 by
// OpenSSL clients that offer exactly what each case needs; reloading the
// certificate without a restart; the development key's file mode.
#include <catch2/catch.hpp>

#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "session/tls_probe.hpp"
#include "support/test_world.hpp"

namespace {

using test::op::login_ok;

}  // namespace

TEST_CASE("TLS listeners refuse TLS 1.1 and older") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log);
  for (const std::uint16_t port : {net.tls, net.ws}) {
    for (const int version : {TLS1_1_VERSION, TLS1_VERSION}) {
      INFO("port " << port << ", version " << std::hex << version);
      test::TlsProbe old(port, [&](SSL_CTX* ctx) { test::offer_only_version(ctx, version); });
      CHECK_FALSE(old.connected());
    }
    test::TlsProbe current(port,
                           [](SSL_CTX* ctx) { test::offer_only_version(ctx, TLS1_2_VERSION); });
    CHECK(current.connected());
  }
}

TEST_CASE("TLS listeners accept AEAD cipher suites only") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log);
  for (const std::uint16_t port : {net.tls, net.ws}) {
    INFO("port " << port);
    // CBC with HMAC, in the suites a P-256 certificate can serve.
    test::TlsProbe cbc(port, [](SSL_CTX* ctx) {
      test::offer_only_tls12_ciphers(ctx,
                                     "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384:"
                                     "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA");
    });
    CHECK_FALSE(cbc.connected());
    for (const char* aead : {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                             "ECDHE-ECDSA-CHACHA20-POLY1305"}) {
      INFO(aead);
      test::TlsProbe ok(port, [&](SSL_CTX* ctx) { test::offer_only_tls12_ciphers(ctx, aead); });
      REQUIRE(ok.connected());
      CHECK(ok.cipher() == aead);
    }
    test::TlsProbe tls13(port, {});
    REQUIRE(tls13.connected());
    CHECK(tls13.protocol() == "TLSv1.3");
  }
}

TEST_CASE("reload_tls serves a new certificate to new connections while old ones go on") {
  test::TempDir dir;
  test::LogCapture log;
  test::NetServer net(dir.path(), log);
  const std::string first = dir.sub("first.pem"), key = dir.sub("key.pem");
  std::filesystem::copy_file(net.ca, first);

  test::TlsProbe before(net.tls, {}, first);
  REQUIRE(before.connected());
  REQUIRE(before.hello_and_login("old", "pw")->op == login_ok);

  starhold::write_development_certificate(net.ca, key);  // a second certificate and key
  net.server->reload_tls();

  CHECK_FALSE(test::TlsProbe(net.tls, {}, first).connected());
  test::TlsProbe after(net.tls, {}, net.ca);
  REQUIRE(after.connected());
  CHECK(after.hello_and_login("new", "pw")->op == login_ok);

  // The connection made before the reload still works.
  before.send(test::op::session_message, "echo:still here");
  auto welcome = before.read_skipping_heartbeats();
  REQUIRE(welcome);
  CHECK(welcome->body == "welcome old");
  auto echo = before.read_skipping_heartbeats();
  REQUIRE(echo);
  CHECK(echo->body == "still here");

  // A bad key is refused with its file and OpenSSL's reason; the server keeps
  // the certificate it has.
  std::ofstream(key, std::ios::trunc) << "not a key\n";
  try {
    net.server->reload_tls();
    FAIL("reload_tls accepted a bad key");
  } catch (const starhold::Error& e) {
    const std::string what = e.what();
    CHECK(what.find(key) != std::string::npos);
    CHECK(what.find("routines") != std::string::npos);  // OpenSSL's reason
  }
  test::TlsProbe still(net.tls, {}, net.ca);
  CHECK(still.connected());
}

TEST_CASE("the development key is created readable by its owner only, never widened") {
  test::TempDir dir;
  const std::string cert = dir.sub("cert.pem"), key = dir.sub("key.pem");
  // Watch for any change of mode in the directory while the files are written.
  const int watch = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  REQUIRE(watch >= 0);
  REQUIRE(::inotify_add_watch(watch, dir.path().c_str(), IN_ATTRIB) >= 0);
  const mode_t old_mask = ::umask(0);  // the mode must not depend on the caller's umask
  starhold::write_development_certificate(cert, key);
  starhold::write_development_certificate(cert, key);  // replacing existing files
  ::umask(old_mask);

  struct stat st {};
  REQUIRE(::stat(key.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  char events[4096];
  CHECK(::read(watch, events, sizeof events) < 0);  // no chmod after the fact
  ::close(watch);
}
