// The first half of the checker: who wrote what each read saw, and the
// version order of every key. The anomaly passes (checker.cpp) read it.
//
// Steps, in order: index keys and every value written (by any attempt); make
// one version per key for each committed transaction's final write of it;
// resolve each transaction's external reads (the first read of a key before
// its own write) to a version, an uncommitted writer, an intermediate value,
// or nothing; then order versions: a committed transaction that read version
// p of a key and wrote the key made the version right after p; a list read by
// a committed transaction orders the writers of its elements. Versions form a
// forest per key (a parent is the version right before); a walk of it numbers
// them so that "a precedes b" is one comparison.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "isolation/history.hpp"

namespace isolation::detail {

inline constexpr std::uint32_t kNone = UINT32_MAX;

struct Version {
  std::uint32_t writer = kNone;  // the committed transaction
  std::uint32_t parent = kNone;  // the version right before, when known
  std::vector<std::uint32_t> children;
  std::int64_t enter = -1, leave = -1;  // walk order; -1 when not reached from a root
};

struct KeyState {
  Key key;
  bool is_list = false;
  std::vector<Version> versions;
  std::unordered_map<std::uint32_t, std::uint32_t> by_writer;  // committed txn -> version
  std::vector<std::uint32_t> removers;                         // every txn that wrote absent
  std::vector<std::int64_t> longest;  // the longest list a committed transaction read
};

// What an external read saw.
struct Source {
  // initial: an object no committed transaction created, read as absent.
  // ambiguous: an attempt read an absence that a committed removal and a
  // dropped one could both explain; it is not used.
  enum class Kind : std::uint8_t {
    version,
    uncommitted,
    intermediate,
    initial,
    ambiguous,
    garbage
  };
  Kind kind = Kind::garbage;
  std::uint32_t writer = kNone;   // who wrote it (version, uncommitted, intermediate)
  std::uint32_t version = kNone;  // kind == version
};

struct ExternalRead {
  std::uint32_t key;
  std::size_t op;  // index in the transaction's ops
  Source source;
  // A list that holds an element of an uncommitted transaction (its last
  // element may still be committed): that transaction.
  std::uint32_t dirty_element = kNone;
};

struct TxnView {
  std::vector<ExternalRead> reads;
  std::vector<std::uint32_t> written;  // keys this transaction wrote
  const ExternalRead* read_of(std::uint32_t key) const;
};

struct KeyHash {
  std::size_t operator()(const Key& k) const noexcept {
    return std::hash<std::uint64_t>{}(k.id * 2 + static_cast<std::uint64_t>(k.space));
  }
};

class Analysis {
 public:
  // Throws std::invalid_argument if history breaks the model.
  explicit Analysis(const History& history);

  const History& history;
  std::vector<KeyState> keys;
  std::vector<TxnView> txns;
  // Keys whose list reads were not prefixes of one another: key, reader, reader.
  struct Divergence {
    std::uint32_t key, a, b;
  };
  std::vector<Divergence> divergences;
  // Versions given two different predecessors (key, version, the rejected parent's writer).
  std::vector<Divergence> order_conflicts;

  bool committed(std::uint32_t txn) const noexcept { return history[txn].fate == Fate::committed; }
  // True when version a of key comes strictly before version b.
  bool precedes(std::uint32_t key, std::uint32_t a, std::uint32_t b) const noexcept;
  std::string txn_name(std::uint32_t txn) const;

 private:
  struct WriteRef {
    std::uint32_t txn;
    bool final;
  };
  struct ValueHash {
    std::size_t operator()(const std::pair<std::uint32_t, std::int64_t>& p) const noexcept {
      return std::hash<std::int64_t>{}(p.second) * 31 + p.first;
    }
  };

  std::uint32_t key_index(const Key& k);
  void index_keys_and_writes();
  void resolve_reads();
  Source resolve(std::uint32_t reader, std::uint32_t key, const Op& read, ExternalRead& out) const;
  bool may_precede(std::uint32_t writer, std::uint32_t reader, const Op& read) const noexcept;
  void order_by_rmw();
  void order_by_lists();
  void set_parent(std::uint32_t key, std::uint32_t version, std::uint32_t parent);
  void number_versions();

  std::unordered_map<Key, std::uint32_t, KeyHash> key_index_;
  // Per transaction: a time before which none of its writes was visible (its
  // latest recorded op; writes are installed after the body ends). 0: unknown.
  std::vector<std::int64_t> body_end_;
  std::unordered_map<std::pair<std::uint32_t, std::int64_t>, WriteRef, ValueHash> writes_;
};

}  // namespace isolation::detail
