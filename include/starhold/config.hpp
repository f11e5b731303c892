// ServerOptions from a TOML file, so operators configure a world without
// rebuilding it. Every key is optional; a key not given keeps its value in
// `defaults`. Unknown keys are errors (a typo must not pass silently).
//
//   [store]    path, durable, initial_bytes, max_bytes
//   [tasks]    workers, time_limit_ms, max_conflict_retries, max_timeout_retries,
//              retry_backoff_min_us, retry_backoff_max_us, stack_bytes
//   [data]     cache_bytes, max_pending_commits
//   [network]  listen_address, tls_port, tcp_port, websocket_port, websocket_tls,
//              tls_certificate, tls_private_key, tls_proxy_protocol,
//              tcp_proxy_protocol, websocket_proxy_protocol, threads,
//              tasks_on_network_threads, max_message_bytes,
//              max_connections, heartbeat_interval_ms, handshake_timeout_ms,
//              reconnect_grace_ms, inbound_queue_messages, inbound_queue_bytes,
//              outbound_buffer_bytes, replay_buffer_bytes, max_message_rate
//   [logins]   max_failed, lockout_ms, max_failed_per_account, throttle_entries,
//              duplicate ("replace_old" | "refuse_new"), signup_on_first_login,
//              password_hash_cost, password_hash_parallelism, password_hash_threads,
//              password_hash_queue
//   [log]      level ("debug" | "info" | "warn" | "error")
//
// Each key means the ServerOptions field of the same name (see server.hpp);
// in [logins], max_failed and lockout_ms are max_failed_logins and
// login_lockout, max_failed_per_account is max_failed_logins_per_account,
// and throttle_entries is login_throttle_entries.
#pragma once

#include <string>
#include <string_view>

#include "starhold/server.hpp"

namespace starhold {

// Reads the file at path. Throws ConfigError (naming file, line and key).
ServerOptions load_server_options(const std::string& path, ServerOptions defaults = {});

// As load_server_options, from TOML text; source names it in errors.
ServerOptions parse_server_options(std::string_view toml, ServerOptions defaults = {},
                                   std::string_view source = "configuration");

}  // namespace starhold
