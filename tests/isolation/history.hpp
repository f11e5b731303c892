// The history an isolation checker reads: every transaction attempt whose
// outcome is known, with what it read and wrote, in the order it did so.
//
// The model follows Adya's and Elle's: a history is a set of transactions
// over keys; each key is a register (one value at a time) or an append-only
// list. Every value written is unique in the history (a list element, a
// register value), so each read names the one transaction that wrote what it
// saw. A removed object reads as `absent`, written by whoever removed it.
//
// Starhold's view maps onto it as: one attempt of a task is one transaction;
// the attempt that committed is `committed`; an attempt that was aborted (a
// conflict, a game exception, a time limit) is `aborted` and nothing it wrote
// may ever be seen; an attempt whose commit was validated and installed but
// whose store batch then failed is `dropped`: running attempts may have seen
// its writes, committed ones must not.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace isolation {

// A key: the link of a slot (which object a slot currently names) or one
// managed object (a cell). The checker treats both alike; the space is only
// used to describe findings and to single out name anomalies.
struct Key {
  enum class Space : std::uint8_t { slot, object };
  Space space = Space::object;
  std::uint64_t id = 0;
  friend bool operator==(const Key&, const Key&) = default;
};

// A value read or written: a register value, a whole list, or absent.
struct Value {
  enum class Kind : std::uint8_t { reg, list, absent };
  Kind kind = Kind::absent;
  std::int64_t reg = 0;            // kind == reg
  std::vector<std::int64_t> list;  // kind == list
  friend bool operator==(const Value&, const Value&) = default;

  static Value of(std::int64_t v) { return Value{Kind::reg, v, {}}; }
  static Value of_list(std::vector<std::int64_t> l) { return Value{Kind::list, 0, std::move(l)}; }
  static Value none() { return Value{}; }
};

// How an operation reached its key. Findings name it; operations that came
// through the name table (lookup, next_bound_name) make name anomalies.
enum class Path : std::uint8_t { direct, ref, name, scan };

struct Op {
  // read: value is what was seen. write: value replaces the key's value
  // (absent: the object was removed). append: value.reg is added to the list.
  enum class Type : std::uint8_t { read, write, append };
  Type type = Type::read;
  Key key;
  Value value;
  Path path = Path::direct;
  // When the op returned, on the clock of Txn::began; 0: unknown. A read
  // cannot see a removal by a transaction still running its body after it
  // (writes are installed at commit, after the body).
  std::int64_t at = 0;
};

// How an attempt ended.
enum class Fate : std::uint8_t { committed, aborted, dropped };

// Why a task failed, for the last attempt of a failed task.
enum class Failure : std::uint8_t { none, exception, conflict, timeout, storage, shutdown };

struct Txn {
  std::vector<Op> ops;
  Fate fate = Fate::committed;
  Failure failure = Failure::none;
  std::string label;  // names the task and attempt in findings
  // When the attempt began, and a time by which it had ended (its commit was
  // reported, or the next attempt began), on one monotonic clock; 0: unknown.
  std::int64_t began = 0, ended = 0;
  // A time at or before which the attempt's snapshot cannot have been taken
  // (its body starts later than that); 0: unknown, taken to be `began`.
  std::int64_t snapshot_after = 0;
  // The task's body has write steps (an attempt may still abort before it
  // reaches them); a task without any may never fail for conflicts.
  bool plans_writes = false;
};

using History = std::vector<Txn>;

// Short builders, for hand-written histories and the workload's records.
inline Key slot_key(std::uint64_t slot) {
  return Key{Key::Space::slot, slot};
}
inline Key object_key(std::uint64_t id) {
  return Key{Key::Space::object, id};
}
inline Op read(Key k, Value v, Path p = Path::direct, std::int64_t at = 0) {
  return Op{Op::Type::read, k, std::move(v), p, at};
}
inline Op write(Key k, Value v, Path p = Path::direct, std::int64_t at = 0) {
  return Op{Op::Type::write, k, std::move(v), p, at};
}
inline Op append(Key k, std::int64_t element, Path p = Path::direct, std::int64_t at = 0) {
  return Op{Op::Type::append, k, Value::of(element), p, at};
}

std::string describe(const Key& k);
std::string describe(const Value& v);

}  // namespace isolation
