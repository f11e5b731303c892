// Fuzzes the server options loader (starhold/config.hpp, src/core/config.cpp)
// with arbitrary TOML text.
//
// Loading either gives options or throws ConfigError; any other exception
// escapes and is reported as a crash. An error names the source it was given.
// Options it gives keep every documented bound, and loading the same text
// again gives the same options.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <starhold/config.hpp>
#include <starhold/errors.hpp>

namespace {

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "server options fuzzer: %s\n", what);
  std::abort();
}

bool valid_port(int p) {
  return p >= -1 && p <= 65535;
}

void check_bounds(const starhold::ServerOptions& o) {
  if (!valid_port(o.tls_port) || !valid_port(o.tcp_port) || !valid_port(o.websocket_port)) {
    violated("a port outside -1..65535 was accepted");
  }
  if (o.max_message_bytes < 256) violated("max_message_bytes below 256 was accepted");
  if (o.task_time_limit.count() < 1) violated("a task time limit below 1 ms was accepted");
  if (o.network_threads < 1) violated("zero network threads were accepted");
  if (o.max_pending_commits < 1) violated("zero pending commits were accepted");
  if (o.initial_store_bytes < 65536) violated("a store smaller than 64 KiB was accepted");
  if (o.task_stack_bytes < 16384) violated("a task stack under 16 KiB was accepted");
  if (o.inbound_queue_bytes < 1024) violated("an inbound queue under 1 KiB was accepted");
  if (o.password_hash_cost < 4) violated("a password hash cost under 4 was accepted");
}

bool same(const starhold::ServerOptions& a, const starhold::ServerOptions& b) {
  return a.store_path == b.store_path && a.durable == b.durable && a.workers == b.workers &&
         a.task_time_limit == b.task_time_limit && a.listen_address == b.listen_address &&
         a.tls_port == b.tls_port && a.max_message_bytes == b.max_message_bytes &&
         a.duplicate_login == b.duplicate_login && a.log_level == b.log_level &&
         a.password_hash_cost == b.password_hash_cost;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  constexpr std::string_view source = "fuzz.toml";
  starhold::ServerOptions first;
  try {
    first = starhold::parse_server_options(text, {}, source);
  } catch (const starhold::ConfigError& e) {
    if (std::string_view(e.what()).substr(0, source.size()) != source) {
      violated("a configuration error does not name its source");
    }
    return 0;
  }
  check_bounds(first);
  if (!same(first, starhold::parse_server_options(text, {}, source))) {
    violated("the same text gave different options");
  }
  return 0;
}
