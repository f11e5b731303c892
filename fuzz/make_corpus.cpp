// Writes the seed corpus of every fuzz target, encoded with Starhold's own
// encoders so that the seeds are valid inputs the fuzzers then mutate:
//
//   fuzz_make_corpus fuzz/corpus
//
// writes fuzz/corpus/<target>/<seed>. Regression seeds (inputs that once
// crashed a target) are added by hand beside these and are left alone.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "message_layouts.hpp"
#include "record_types.hpp"

namespace {

namespace fs = std::filesystem;
using starhold::net::FrameWriter;
using starhold::net::Op;

void put(const fs::path& dir, const std::string& name, std::string_view bytes) {
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string hello() {
  return FrameWriter(Op::hello).u32(starhold::net::kMagic).u16(starhold::net::kVersion).finish();
}

// frame_parser: two control bytes (maximum frame sizes, read sizes), then a stream.
void frame_parser(const fs::path& dir) {
  const std::string login = FrameWriter(Op::login).str("ada").str("secret").finish();
  const std::string message = FrameWriter(Op::session_message).rest("move north").finish();
  const std::string beat = FrameWriter(Op::heartbeat).u64(3).finish();
  const std::string max256_then_64k = std::string(1, static_cast<char>(3 | (5 << 3)));
  put(dir, "hello", max256_then_64k + '\x01' + hello());
  put(dir, "conversation", max256_then_64k + '\x07' + hello() + login + message + beat);
  put(dir, "byte_by_byte", max256_then_64k + '\x00' + hello() + login);
  put(dir, "zero_length", max256_then_64k + '\x02' + std::string(4, '\0') + "\x01");
  put(dir, "too_large",
      max256_then_64k + '\x03' + std::string("\x00\x00\x01\x01", 4) + std::string(32, 'x'));
  put(dir, "partial", max256_then_64k + '\x04' + hello() + login.substr(0, 7));
  std::string many = std::string(1, static_cast<char>(6 | (4 << 3))) + '\x05';
  for (int i = 0; i < 40; ++i)
    many += FrameWriter(Op::channel_message).u64(static_cast<std::uint64_t>(i)).rest("hi").finish();
  put(dir, "many_frames", many);
}

std::string example_body(const fuzz::Layout& layout) {
  FrameWriter w(layout.op);
  for (auto f : layout.fields) {
    switch (f) {
      case fuzz::Field::u8:
        w.u8(7);
        break;
      case fuzz::Field::u16:
        w.u16(6);
        break;
      case fuzz::Field::u32:
        w.u32(starhold::net::kMagic);
        break;
      case fuzz::Field::u64:
        w.u64(0x0102030405060708);
        break;
      case fuzz::Field::str:
        w.str("name");
        break;
      case fuzz::Field::blob:
        w.blob(std::string_view("\x00\xff\x10 token", 9));
        break;
      case fuzz::Field::rest:
        w.rest("a message");
        break;
    }
  }
  return w.finish().substr(starhold::net::kLengthBytes);  // opcode and body
}

// message_bodies: an opcode byte and its body.
void message_bodies(const fs::path& dir) {
  for (const auto& layout : fuzz::layouts()) {
    const std::string name = starhold::net::op_name(layout.op);
    const std::string body = example_body(layout);
    put(dir, name, body);
    if (body.size() > 1) put(dir, name + "_short", body.substr(0, body.size() - 1));
    put(dir, name + "_trailing", body + '\0');
  }
  put(dir, "unknown_opcode", "\x7f\x01\x02");
}

template <class T>
std::string record(fuzz::Subject subject, const T& obj) {
  std::string out(1, static_cast<char>(subject));
  obj.encode(out);
  return out;
}

// fields: a byte that picks the type, then a record.
void fields(const fs::path& dir) {
  using fuzz::Subject;
  fuzz::Scalars s;
  s.flag = true;
  s.i8 = -5;
  s.u16 = 65535;
  s.i64 = -1234567890123;
  s.u64 = ~0ull;
  s.ratio = 0.25f;
  s.d = -3.5;
  s.colour = fuzz::Colour::blue;
  s.wait = std::chrono::milliseconds(1500);
  s.when = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
  s.id = starhold::ObjectId{42};
  s.other = starhold::Ref<fuzz::Scalars>(starhold::ObjectId{43});
  s.maybe = 9;
  s.text = "hello";
  s.blob = {0, 1, 2, 255};
  put(dir, "scalars", record(Subject::scalars, s));
  put(dir, "scalars_empty", record(Subject::scalars, fuzz::Scalars{}));

  fuzz::Containers c;
  c.numbers = {1, -2, 300000};
  c.lines = {"a", "", "long line"};
  c.ids = {3, 1, 2};
  c.items["sword"] = {"sword", 1, "sharp"};
  c.items["potion"] = {"potion", 12, std::nullopt};
  c.triple = {1, 2, 3};
  c.pair = {7, "seven"};
  c.grid = {{1, 2}, {}, {3}};
  c.groups[1] = {{"a", 1, std::nullopt}, {"b", 2, "x"}};
  c.held = fuzz::Item{"shield", 1, std::nullopt};
  c.slots = {std::nullopt, "full"};
  c.unique_items = {{"x", 1, std::nullopt}, {"y", 2, std::nullopt}};
  c.tree.value = 1;
  c.tree.children = {fuzz::Tree{2, {fuzz::Tree{3, {}}}}, fuzz::Tree{4, {}}};
  put(dir, "containers", record(Subject::containers, c));

  fuzz::Unordered u;
  u.scores = {{"ada", 3}, {"bob", -1}, {"cy", 0}};
  u.members = {1, 2, 3, 1000000};
  u.tags[5] = {"red", "round"};
  put(dir, "unordered", record(Subject::unordered, u));

  fuzz::ProfileV2 p;
  p.name = "ada";
  p.level = 12;
  p.bag = {{"rope", 1, std::nullopt}};
  p.counters = {{"kills", 3}, {"deaths", 1}};
  p.equipped = fuzz::Item{"lamp", 1, "lit"};
  p.gold = 99;
  put(dir, "profile_v2", record(Subject::profile, p));
  fuzz::ProfileV1 old;
  old.name = "bob";
  old.bag = {{"map", 2, std::nullopt}};
  put(dir, "profile_v1", record(Subject::profile, old));
}

// server_options: TOML text. The values sit at the edges of their bounds, one
// mutation away from being out of range.
void server_options(const fs::path& dir) {
  put(dir, "every_section", R"([store]
path = "/srv/world"
durable = false
initial_bytes = 65536
max_bytes = 1073741824
[tasks]
workers = 3
time_limit_ms = 1
max_conflict_retries = 10
max_timeout_retries = 1
retry_backoff_min_us = 10
retry_backoff_max_us = 1000
stack_bytes = 16384
[data]
cache_bytes = 33554432
max_pending_commits = 1
[network]
listen_address = "0.0.0.0"
tls_port = 65535
tcp_port = -1
websocket_port = 7701
websocket_tls = true
tls_certificate = "cert.pem"
tls_private_key = "key.pem"
threads = 1
max_message_bytes = 256
max_connections = 100
heartbeat_interval_ms = 5000
handshake_timeout_ms = 10000
reconnect_grace_ms = 0
inbound_queue_messages = 256
inbound_queue_bytes = 1024
outbound_buffer_bytes = 1048576
replay_buffer_bytes = 262144
max_message_rate = 1000
[logins]
max_failed = 5
lockout_ms = 60000
duplicate = "refuse_new"
signup_on_first_login = true
password_hash_cost = 4
password_hash_threads = 2
[log]
level = "warn"
)");
  // One small seed per bound the fuzzer checks: a small seed is kept in the
  // fuzzer's corpus and mutated often, so an off-by-one in a bound is found.
  constexpr std::string_view edges[][3] = {
      {"network", "tls_port", "65535"},
      {"network", "tcp_port", "-1"},
      {"network", "websocket_port", "65535"},
      {"network", "max_message_bytes", "256"},
      {"network", "threads", "1"},
      {"network", "inbound_queue_bytes", "1024"},
      {"tasks", "time_limit_ms", "1"},
      {"tasks", "stack_bytes", "16384"},
      {"data", "max_pending_commits", "1"},
      {"store", "initial_bytes", "65536"},
      {"logins", "password_hash_cost", "4"},
  };
  for (const auto& [section, key, value] : edges) {
    put(dir, "edge_" + std::string(key),
        "[" + std::string(section) + "]\n" + std::string(key) + " = " + std::string(value) + "\n");
  }
  put(dir, "unknown_key", "[tasks]\nwrokers = 2\n");
  put(dir, "wrong_type", "[tasks]\nworkers = \"two\"\n");
  put(dir, "out_of_range", "[network]\ntls_port = 70000\n");
  put(dir, "not_a_table", "store = 1\n");
  put(dir, "broken", "[tasks\nworkers = 1\n");
  put(dir, "toml_forms",
      "# comment\n[network]\nlisten_address = 'literal'\nthreads = 0x2\n"
      "[log]\nlevel = \"\"\"info\"\"\"\n");
  put(dir, "inline_table", "store = { path = \"x\", durable = true }\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  const fs::path root = argv[1];
  frame_parser(root / "frame_parser");
  message_bodies(root / "message_bodies");
  fields(root / "fields");
  server_options(root / "server_options");
  return 0;
}
