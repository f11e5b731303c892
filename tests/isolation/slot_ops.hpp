// The world the isolation workload runs on, and the operations its tasks do,
// each recording what it read and wrote into the attempt's history.
//
// A slot is a key the tasks share. Its current object (a cell) holds a list
// of integers or one integer. A slot is reached in one of two ways:
//   - through a root object: an Anchor holds a Ref to the cell, or, after the
//     slot was emptied, a unique tomb value;
//   - through the name table: "iso/n/<slot>" is bound to the cell, or, after
//     the slot was emptied, "iso/t/<slot>" is bound to a Tomb object. Exactly
//     one of the two is bound in every committed state.
// Re-creating a slot removes its cell (Transaction::remove) and links a new
// one in the same task; emptying it removes the cell and links a tomb. So the
// slot's link is a register whose values are unique (a cell id, or minus a
// tomb value), and each cell is a key of its own that ends absent.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "isolation/history.hpp"
#include "starhold/starhold.hpp"

namespace isolation {

// The clock of Txn::began and Op::at: steady-clock nanoseconds.
inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct ListCell final : starhold::Managed<ListCell> {
  static constexpr std::string_view type_name = "isolation.ListCell";
  std::vector<std::int64_t> items;
  template <class F>
  void fields(F& f) {
    f(1, items);
  }
};

struct RegCell final : starhold::Managed<RegCell> {
  static constexpr std::string_view type_name = "isolation.RegCell";
  std::int64_t value = 0;
  template <class F>
  void fields(F& f) {
    f(1, value);
  }
};

struct Anchor final : starhold::Managed<Anchor> {
  static constexpr std::string_view type_name = "isolation.Anchor";
  starhold::ObjectId cell;  // 0 when the slot is empty
  std::int64_t tomb = 0;    // unique, set when the slot was emptied
  template <class F>
  void fields(F& f) {
    f(1, cell);
    f(2, tomb);
  }
};

struct Tomb final : starhold::Managed<Tomb> {
  static constexpr std::string_view type_name = "isolation.Tomb";
  std::int64_t value = 0;
  template <class F>
  void fields(F& f) {
    f(1, value);
  }
};

struct Slot {
  bool list = false;   // cells hold lists (else one integer)
  bool named = false;  // reached by name (else through its Anchor)
  starhold::Ref<Anchor> anchor;
  std::string name, tomb_name;
};

// What the tasks share: the slots, unique values, and the ids of committed
// cells (for tasks that follow a Ref they kept from earlier). Thread-safe,
// but for slots: filled by the setup task (create) before other tasks run,
// then only read.
class World {
 public:
  std::vector<Slot> slots;
  // A value no one has written yet.
  std::int64_t next_value() { return values_.fetch_add(1); }
  // Keeps cell (of a committed creation) among the recent ones recall picks from.
  void remember(starhold::ObjectId cell, bool list);
  // A committed cell seen earlier (maybe removed since), or id 0.
  std::pair<starhold::ObjectId, bool> recall(std::uint64_t pick);
  // Creates the slots (half lists, half registers; alternately anchored and
  // named), recording into log and the new cells into created.
  void create(starhold::Transaction& tx, int count, std::vector<Op>& log,
              std::vector<std::pair<starhold::ObjectId, bool>>& created);

 private:
  std::atomic<std::int64_t> values_{1};
  std::mutex mu_;
  std::vector<std::pair<starhold::ObjectId, bool>> known_;  // guarded by mu_; a ring
  std::size_t next_known_ = 0;                              // guarded by mu_
};

// One attempt's operations over the world, each recorded in log as it happens.
class SlotOps {
 public:
  SlotOps(World& world, starhold::Transaction& tx, std::vector<Op>& log,
          std::vector<std::pair<starhold::ObjectId, bool>>& created)
      : world_(world), tx_(tx), log_(log), created_(created) {}

  // Reads the slot's link and its cell. strict: a game that trusts its links
  // lets ObjectNotFound through (the task fails); otherwise it is recorded.
  void read(int slot, bool strict);
  // Appends (list) or writes (register) `values` unique values; an empty slot
  // gets a new cell.
  void write(int slot, int values, bool declare);
  // Replaces the slot's cell by a new one, removing the old in the same task.
  void recreate(int slot);
  // Removes the slot's cell and links a tomb.
  void empty(int slot);
  // Follows a Ref kept from an earlier task: the cell, or absent.
  void read_kept_ref(std::uint64_t pick);
  // Walks the bound names (next_bound_name) and reads each slot's link through them.
  void scan();

  // What a slot's link led to.
  struct View {
    std::int64_t link = 0;  // cell id, minus a tomb value, or 0 when nothing is linked
    starhold::ManagedObject* cell = nullptr;
    starhold::ManagedObject* tomb = nullptr;  // a named slot's Tomb
  };
  // Links a new cell holding `values` unique values in place of old.
  void replace(int slot, const View& old, int values);

 private:
  View view(int slot, bool strict, bool declare);
  // Records op, stamped with the time it returned.
  void note(Op op);
  void remove_cell(const View& v);
  void read_cell(starhold::ObjectId id, bool list, Path path, bool strict, View& v, bool declare);
  void link(int slot, const View& old, std::int64_t cell_or_tomb);
  void fill(starhold::ManagedObject& cell, bool list, int values, bool fresh);

  World& world_;
  starhold::Transaction& tx_;
  std::vector<Op>& log_;
  std::vector<std::pair<starhold::ObjectId, bool>>& created_;
};

}  // namespace isolation
