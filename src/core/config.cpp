// ServerOptions from TOML (toml++). Each key is one row of a table that says
// where its value goes, so adding an option is adding a row.
#include "starhold/config.hpp"

#include <toml++/toml.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include <fmt/format.h>

#include "starhold/errors.hpp"

namespace starhold {
namespace {

using Node = toml::node;

struct Context {
  std::string_view source;
  std::string key;  // "section.key"
  const Node* node;

  [[noreturn]] void fail(const std::string& why) const {
    const auto& where = node->source().begin;
    throw ConfigError(fmt::format("{}:{}:{}: {}: {}", source, where.line, where.column, key, why));
  }

  std::int64_t integer(std::int64_t min, std::int64_t max) const {
    // Type first: value<std::int64_t>() of a float out of range is undefined behaviour.
    if (!node->is_integer()) fail("expected an integer");
    const auto v = node->value<std::int64_t>();
    if (*v < min || *v > max) fail(fmt::format("{} is outside {}..{}", *v, min, max));
    return *v;
  }
  bool boolean() const {
    if (!node->is_boolean()) fail("expected true or false");
    return *node->value<bool>();
  }
  std::string string() const {
    if (!node->is_string()) fail("expected a string");
    return *node->value<std::string>();
  }
};

using Setter = std::function<void(ServerOptions&, const Context&)>;

template <class T>
Setter count(T ServerOptions::*field, std::int64_t min = 0) {
  return [field, min](ServerOptions& o, const Context& c) {
    const std::int64_t max =
        std::numeric_limits<T>::max() > std::numeric_limits<std::int64_t>::max()
            ? std::numeric_limits<std::int64_t>::max()
            : static_cast<std::int64_t>(std::numeric_limits<T>::max());
    o.*field = static_cast<T>(c.integer(min, max));
  };
}
Setter port(int ServerOptions::*field) {
  return [field](ServerOptions& o, const Context& c) {
    o.*field = static_cast<int>(c.integer(-1, 65535));
  };
}
template <class Duration>
Setter duration(Duration ServerOptions::*field, std::int64_t min = 1) {
  return [field, min](ServerOptions& o, const Context& c) {
    o.*field = Duration(c.integer(min, std::numeric_limits<std::int32_t>::max()));
  };
}
Setter flag(bool ServerOptions::*field) {
  return [field](ServerOptions& o, const Context& c) { o.*field = c.boolean(); };
}
Setter text(std::string ServerOptions::*field) {
  return [field](ServerOptions& o, const Context& c) { o.*field = c.string(); };
}

const std::vector<std::pair<std::string_view, Setter>>& keys() {
  using O = ServerOptions;
  static const std::vector<std::pair<std::string_view, Setter>> table = {
      {"store.path", text(&O::store_path)},
      {"store.durable", flag(&O::durable)},
      {"store.initial_bytes", count(&O::initial_store_bytes, 1 << 16)},
      {"store.max_bytes", count(&O::max_store_bytes, 1 << 16)},
      {"tasks.workers", count(&O::workers)},
      {"tasks.time_limit_ms", duration(&O::task_time_limit)},
      {"tasks.max_conflict_retries", count(&O::max_conflict_retries)},
      {"tasks.max_timeout_retries", count(&O::max_timeout_retries)},
      {"tasks.retry_backoff_min_us", duration(&O::retry_backoff_min)},
      {"tasks.retry_backoff_max_us", duration(&O::retry_backoff_max)},
      {"tasks.stack_bytes", count(&O::task_stack_bytes, 16384)},
      {"tasks.max_pending", count(&O::max_pending_tasks, 1)},
      {"tasks.max_parked_attempts", count(&O::max_parked_attempts)},
      {"data.cache_bytes", count(&O::cache_bytes, 1 << 20)},
      {"data.max_pending_commits", count(&O::max_pending_commits, 1)},
      {"data.max_pending_commit_bytes", count(&O::max_pending_commit_bytes, 1 << 16)},
      {"network.listen_address", text(&O::listen_address)},
      {"network.tls_port", port(&O::tls_port)},
      {"network.tcp_port", port(&O::tcp_port)},
      {"network.websocket_port", port(&O::websocket_port)},
      {"network.websocket_tls", flag(&O::websocket_tls)},
      {"network.tls_certificate", text(&O::tls_certificate)},
      {"network.tls_private_key", text(&O::tls_private_key)},
      {"network.tls_proxy_protocol", flag(&O::tls_proxy_protocol)},
      {"network.tcp_proxy_protocol", flag(&O::tcp_proxy_protocol)},
      {"network.websocket_proxy_protocol", flag(&O::websocket_proxy_protocol)},
      {"network.threads", count(&O::network_threads, 1)},
      {"network.tasks_on_network_threads", flag(&O::tasks_on_network_threads)},
      {"network.max_message_bytes", count(&O::max_message_bytes, 1024)},
      {"network.max_connections", count(&O::max_connections, 1)},
      {"network.heartbeat_interval_ms", duration(&O::heartbeat_interval)},
      {"network.handshake_timeout_ms", duration(&O::handshake_timeout)},
      {"network.reconnect_grace_ms", duration(&O::reconnect_grace, 0)},
      {"network.inbound_queue_messages", count(&O::inbound_queue_messages, 1)},
      {"network.inbound_queue_bytes", count(&O::inbound_queue_bytes, 1024)},
      {"network.outbound_buffer_bytes", count(&O::outbound_buffer_bytes, 1024)},
      {"network.replay_buffer_bytes", count(&O::replay_buffer_bytes)},
      {"network.expired_token_memory", count(&O::expired_token_memory)},
      {"network.max_message_rate", count(&O::max_message_rate)},
      {"network.reconnect_rate", count(&O::reconnect_rate)},
      {"network.reconnect_burst", count(&O::reconnect_burst, 1)},
      {"network.reconnect_rate_addresses", count(&O::reconnect_rate_addresses, 1)},
      {"logins.max_failed", count(&O::max_failed_logins, 1)},
      {"logins.lockout_ms", duration(&O::login_lockout, 0)},
      {"logins.max_failed_per_account", count(&O::max_failed_logins_per_account, 1)},
      {"logins.throttle_entries", count(&O::login_throttle_entries, 3)},
      {"logins.duplicate",
       [](O& o, const Context& c) {
         const std::string v = c.string();
         if (v == "replace_old") {
           o.duplicate_login = O::DuplicateLogin::replace_old;
         } else if (v == "refuse_new") {
           o.duplicate_login = O::DuplicateLogin::refuse_new;
         } else {
           c.fail("expected \"replace_old\" or \"refuse_new\"");
         }
       }},
      {"logins.signup_on_first_login", flag(&O::signup_on_first_login)},
      {"logins.resume_token_lifetime_s", duration(&O::resume_token_lifetime, 0)},
      {"logins.password_hash_cost", count(&O::password_hash_cost, 4)},
      {"logins.password_hash_parallelism", count(&O::password_hash_parallelism, 1)},
      {"logins.password_hash_threads", count(&O::password_hash_threads)},
      {"logins.password_hash_queue", count(&O::password_hash_queue)},
      {"log.level",
       [](O& o, const Context& c) {
         const std::string v = c.string();
         if (v == "debug") {
           o.log_level = LogLevel::debug;
         } else if (v == "info") {
           o.log_level = LogLevel::info;
         } else if (v == "warn") {
           o.log_level = LogLevel::warn;
         } else if (v == "error") {
           o.log_level = LogLevel::error;
         } else {
           c.fail("expected \"debug\", \"info\", \"warn\" or \"error\"");
         }
       }},
  };
  return table;
}

ServerOptions apply(const toml::table& root, ServerOptions o, std::string_view source) {
  for (const auto& [section, value] : root) {
    const auto* table = value.as_table();
    if (table == nullptr) {
      Context{source, std::string(section.str()), &value}.fail("expected a [section]");
    }
    for (const auto& [name, node] : *table) {
      const std::string key = std::string(section.str()) + "." + std::string(name.str());
      Context c{source, key, &node};
      auto it =
          std::find_if(keys().begin(), keys().end(), [&](const auto& k) { return k.first == key; });
      if (it == keys().end()) c.fail("unknown key");
      it->second(o, c);
    }
  }
  return o;
}

}  // namespace

ServerOptions parse_server_options(std::string_view text, ServerOptions defaults,
                                   std::string_view source) {
  try {
    return apply(toml::parse(text, source), std::move(defaults), source);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    throw ConfigError(
        fmt::format("{}:{}:{}: {}", source, where.line, where.column, e.description()));
  }
}

ServerOptions load_server_options(const std::string& path, ServerOptions defaults) {
  try {
    return apply(toml::parse_file(path), std::move(defaults), path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    throw ConfigError(fmt::format("{}:{}:{}: {}", path, where.line, where.column, e.description()));
  }
}

}  // namespace starhold
