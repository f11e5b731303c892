// Errors a game may need to handle. Every Starhold error derives from
// starhold::Error, says what went wrong, and names the object, name or task
// involved. Conflicts and timeouts are not here: they are internal retry signals
// that game code never sees as exceptions (a task that swallows one with
// catch (...) is aborted anyway).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace starhold {

// Base of every error Starhold throws.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A reference or id names an object that does not exist (never created, or
// removed). type is the type the caller asked for.
class ObjectNotFound : public Error {
 public:
  ObjectNotFound(std::uint64_t id, std::string type);
  std::uint64_t id() const noexcept { return id_; }
  const std::string& type() const noexcept { return type_; }

 private:
  std::uint64_t id_;
  std::string type_;
};

// An object (or a name's object) is not of the type the caller asked for.
class WrongType : public Error {
 public:
  WrongType(std::uint64_t id, std::string stored, std::string expected);
  std::uint64_t id() const noexcept { return id_; }
  const std::string& stored_type() const noexcept { return stored_; }
  const std::string& expected_type() const noexcept { return expected_; }

 private:
  std::uint64_t id_;
  std::string stored_;
  std::string expected_;
};

// lookup() of a name that is not bound.
class NameNotBound : public Error {
 public:
  explicit NameNotBound(std::string name);
  const std::string& name() const noexcept { return name_; }

 private:
  std::string name_;
};

// A stored record could not be decoded into its type: corrupted bytes, or a
// field whose stored kind no longer matches its declaration.
class DecodeError : public Error {
 public:
  DecodeError(std::uint64_t id, std::string type, std::string detail);
  std::uint64_t id() const noexcept { return id_; }
  const std::string& type() const noexcept { return type_; }

 private:
  std::uint64_t id_;
  std::string type_;
};

// A stored record names a type that this program has not registered.
class UnknownType : public Error {
 public:
  UnknownType(std::uint64_t id, std::uint32_t type_hash, std::string stored_name);

  std::uint64_t id() const noexcept { return id_; }

 private:
  std::uint64_t id_;
};

// A value could not be encoded (for example a string longer than 4 GiB).
class EncodeError : public Error {
 public:
  using Error::Error;
};

// The store could not take a write: the map reached ServerOptions::max_store_bytes,
// or the disk is full. Commits that fail with it were never reported as committed.
class StoreFull : public Error {
 public:
  using Error::Error;
};

// Any other failure of the underlying store (I/O error, corrupted file).
class StoreError : public Error {
 public:
  using Error::Error;
};

// The store cannot take writes any more: the store reported a failure it
// cannot recover from (an LMDB panic, an I/O error, corruption), or its
// writes kept failing. From then on the server serves reads and read-only
// tasks, fails every task that writes with TaskFailed::storage at once, and
// reports itself unhealthy (Server::health) until it is restarted once the
// cause is fixed.
class StoreFatal : public StoreError {
 public:
  using StoreError::StoreError;
};

// The store on disk was written by an incompatible format version.
class StoreFormatError : public StoreError {
 public:
  using StoreError::StoreError;
};

// A configuration file that cannot be used: a syntax error, an unknown key,
// or a value of the wrong type or range. The message names the file, the
// line and the key.
class ConfigError : public Error {
 public:
  using Error::Error;
};

// Server::submit refused a task because ServerOptions::max_pending_tasks
// submitted tasks are not finished yet. Nothing was queued; submit again
// later (back off), or raise the bound.
class Overloaded : public Error {
 public:
  using Error::Error;
};

// A TLS certificate or private key that cannot be used (unreadable, not
// PEM, or a key that does not match the certificate). The message names the
// file and OpenSSL's reason.
class TlsError : public Error {
 public:
  using Error::Error;
};

// A call was made where it is not allowed: a Transaction used after its task
// ended, a handler registered after start, an unknown task handler name.
class UsageError : public Error {
 public:
  using Error::Error;
};

// Reported (through a submit() future or the log) for a task that Starhold gave
// up on: its game code threw, it kept timing out, or it kept conflicting.
class TaskFailed : public Error {
 public:
  // overload: the server had no room for it (no memory for its fiber's stack).
  enum class Cause { exception, timeout, conflict, storage, shutdown, overload };
  TaskFailed(std::string task, Cause cause, std::string detail);
  const std::string& task() const noexcept { return task_; }
  Cause cause() const noexcept { return cause_; }

 private:
  std::string task_;
  Cause cause_;
};

}  // namespace starhold
