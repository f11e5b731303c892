// The checker itself, on small hand-written histories: each anomaly it
// claims to find is found, and a serial history shows none, so a run that
// reports nothing means something.
#include <catch2/catch.hpp>

#include <chrono>

#include "isolation/checker.hpp"

using namespace isolation;

namespace {

const Key x = object_key(1), y = object_key(2), l = object_key(3), m = object_key(4);

Txn txn(std::vector<Op> ops, Fate fate = Fate::committed, Failure failure = Failure::none) {
  return Txn{std::move(ops), fate, failure, {}, 0, 0};
}

Txn timed(Txn t, std::int64_t began, std::int64_t ended) {
  t.began = began;
  t.ended = ended;
  return t;
}

Value list(std::vector<std::int64_t> v) {
  return Value::of_list(std::move(v));
}

// x = 1, y = 2, l = [10], m = [20], all written by T0.
Txn initial() {
  return txn({write(x, Value::of(1)), write(y, Value::of(2)), append(l, 10), append(m, 20)});
}

}  // namespace

TEST_CASE("checker: a serial history shows no anomaly", "[isolation][checker]") {
  History h{initial(),
            txn({read(x, Value::of(1)), write(x, Value::of(3))}),
            txn({read(l, list({10})), append(l, 11), read(l, list({10, 11}))}),
            txn({read(x, Value::of(3)), read(y, Value::of(2)), read(l, list({10, 11}))}),
            txn({read(y, Value::of(2)), write(y, Value::none())}),
            txn({read(y, Value::none()), read(m, list({20}))}),
            txn({read(x, Value::of(1))}, Fate::aborted)};
  const Report r = check(h);
  INFO(r.summary());
  CHECK(r.clean());
  CHECK(r.committed == 6);
  CHECK(r.edges > 0);
}

TEST_CASE("checker: lost update", "[isolation][checker]") {
  const Report r = check({initial(), txn({read(x, Value::of(1)), write(x, Value::of(2))}),
                          txn({read(x, Value::of(1)), write(x, Value::of(3))})});
  INFO(r.summary());
  CHECK(r.count(Anomaly::lost_update) == 1);
}

TEST_CASE("checker: aborted read (G1a), of a value and of a removal", "[isolation][checker]") {
  SECTION("a committed task read an aborted attempt's write") {
    const Report r =
        check({initial(), txn({read(x, Value::of(1)), write(x, Value::of(2))}, Fate::aborted),
               txn({read(x, Value::of(2))})});
    INFO(r.summary());
    CHECK(r.count(Anomaly::aborted_read, Scope::committed) == 1);
  }
  SECTION("a committed task read a removal the store dropped") {
    const Report r =
        check({initial(), txn({read(x, Value::of(1)), write(x, Value::none())}, Fate::dropped),
               txn({read(x, Value::none())})});
    INFO(r.summary());
    CHECK(r.count(Anomaly::aborted_read, Scope::committed) == 1);
  }
  SECTION("a removal the store dropped, though a later task removed the object again") {
    const Report r =
        check({initial(),
               timed(txn({read(x, Value::of(1)), write(x, Value::none())}, Fate::dropped), 10, 20),
               timed(txn({read(x, Value::none())}), 15, 30),
               timed(txn({read(x, Value::of(1)), write(x, Value::none())}), 40, 50)});
    INFO(r.summary());
    CHECK(r.count(Anomaly::aborted_read, Scope::committed) == 1);
  }
  SECTION("a list that holds an aborted append") {
    const Report r =
        check({initial(), txn({read(l, list({10})), append(l, 11)}, Fate::aborted),
               txn({read(l, list({10, 11})), append(l, 12)}), txn({read(l, list({10, 11, 12}))})});
    INFO(r.summary());
    CHECK(r.count(Anomaly::aborted_read, Scope::committed) == 2);
  }
  SECTION("an attempt may see a dropped commit, never an aborted attempt's write") {
    const Report seen_dropped =
        check({initial(), txn({read(x, Value::of(1)), write(x, Value::of(2))}, Fate::dropped),
               txn({read(x, Value::of(2))}, Fate::aborted)});
    INFO(seen_dropped.summary());
    CHECK(seen_dropped.clean());
    const Report seen_aborted =
        check({initial(), txn({read(x, Value::of(1)), write(x, Value::of(2))}, Fate::aborted),
               txn({read(x, Value::of(2))}, Fate::aborted)});
    INFO(seen_aborted.summary());
    CHECK(seen_aborted.count(Anomaly::aborted_read, Scope::attempt) == 1);
  }
}

TEST_CASE("checker: intermediate read (G1b)", "[isolation][checker]") {
  SECTION("register") {
    const Report r = check(
        {initial(), txn({read(x, Value::of(1)), write(x, Value::of(2)), write(x, Value::of(3))}),
         txn({read(x, Value::of(2))})});
    INFO(r.summary());
    CHECK(r.count(Anomaly::intermediate_read) == 1);
  }
  SECTION("list") {
    const Report r = check({initial(), txn({read(l, list({10})), append(l, 11), append(l, 12)}),
                            txn({read(l, list({10, 11}))})});
    INFO(r.summary());
    CHECK(r.count(Anomaly::intermediate_read) == 1);
  }
}

TEST_CASE("checker: circular information flow (G1c)", "[isolation][checker]") {
  const Report r =
      check({initial(), txn({read(x, Value::of(1)), write(x, Value::of(5)), read(y, Value::of(6))}),
             txn({read(y, Value::of(2)), write(y, Value::of(6)), read(x, Value::of(5))})});
  INFO(r.summary());
  CHECK(r.count(Anomaly::circular_flow) == 1);
  CHECK(r.count(Anomaly::write_cycle) == 0);
}

TEST_CASE("checker: write cycle (G0)", "[isolation][checker]") {
  // T1 appended before T2 on l, after it on m.
  const Report r =
      check({initial(), txn({append(l, 11), append(m, 21)}), txn({append(l, 12), append(m, 22)}),
             txn({read(l, list({10, 11, 12})), read(m, list({20, 22, 21}))})});
  INFO(r.summary());
  CHECK(r.count(Anomaly::write_cycle) == 1);
}

TEST_CASE("checker: torn read and G-single", "[isolation][checker]") {
  SECTION("registers") {
    const Report r = check({initial(),
                            txn({read(x, Value::of(1)), read(y, Value::of(2)),
                                 write(x, Value::of(3)), write(y, Value::of(4))}),
                            txn({read(x, Value::of(1)), read(y, Value::of(4))})});
    INFO(r.summary());
    CHECK(r.count(Anomaly::torn_read, Scope::committed) == 1);
    CHECK(r.count(Anomaly::g_single) == 1);
  }
  SECTION("a link followed to an object its mover removed") {
    const Key slot = slot_key(0), old_cell = object_key(100), new_cell = object_key(101);
    const Report r = check(
        {txn({write(slot, Value::of(100)), write(old_cell, Value::of(7))}),
         txn({read(slot, Value::of(100)), read(old_cell, Value::of(7)),
              write(old_cell, Value::none()), write(new_cell, Value::of(8)),
              write(slot, Value::of(101))}),
         txn({read(slot, Value::of(100), Path::ref), read(old_cell, Value::none(), Path::ref)},
             Fate::aborted, Failure::exception)});
    INFO(r.summary());
    CHECK(r.count(Anomaly::torn_read, Scope::attempt) == 1);
    CHECK(r.count(Anomaly::failed_after_inconsistent_read) == 1);
  }
  SECTION("an attempt that saw a dropped commit's link but not the object it created") {
    const Key slot = slot_key(0), old_cell = object_key(100), new_cell = object_key(101);
    const Report r =
        check({txn({write(slot, Value::of(100)), write(old_cell, Value::of(7))}),
               txn({read(slot, Value::of(100)), write(new_cell, Value::of(8)),
                    write(slot, Value::of(101))},
                   Fate::dropped),
               txn({read(slot, Value::of(101)), read(new_cell, Value::none())}, Fate::aborted)});
    INFO(r.summary());
    CHECK(r.count(Anomaly::torn_read, Scope::attempt) == 1);
    CHECK(r.count(Anomaly::garbage_read) == 0);  // absent is what it was before the creation
  }
  SECTION("not from an absence that a snapshot older than the object explains") {
    // The attempt's snapshot is older than the cell (whose creation was
    // reported after the attempt began); then a commit that is later dropped
    // removes the cell and moves the slot. Absent is what the snapshot saw.
    const Key slot = slot_key(0), cell = object_key(100);
    Txn reader = timed(
        txn({read(slot, Value::of(7), Path::ref, 30), read(cell, Value::none(), Path::direct, 31)},
            Fate::aborted),
        10, 35);
    reader.snapshot_after = 10;
    const Report r = check({timed(txn({write(slot, Value::of(7))}), 1, 2),
                            timed(txn({write(cell, Value::of(5))}), 3, 20),
                            timed(txn({read(cell, Value::of(5), Path::direct, 21),
                                       write(cell, Value::none(), Path::direct, 22),
                                       write(slot, Value::of(8), Path::ref, 23)},
                                      Fate::dropped),
                                  21, 40),
                            reader});
    INFO(r.summary());
    CHECK(r.clean());
  }
  SECTION("not from an absence that either of two dropped removals explains") {
    // A removal that also moves the slot is dropped, and the cell is back; a
    // second removal is installed, then dropped too. The attempt saw one of
    // them: which one is unknown. (Histories list tasks in submission order,
    // not in the order they ran.)
    const Key slot = slot_key(0), cell = object_key(100);
    const Report r =
        check({timed(txn({write(slot, Value::of(7)), write(cell, Value::of(5))}), 1, 2),
               timed(txn({read(cell, Value::of(5), Path::direct, 21),
                          write(cell, Value::none(), Path::direct, 22)},
                         Fate::dropped),
                     21, 40),
               timed(txn({read(cell, Value::of(5), Path::direct, 11),
                          write(cell, Value::none(), Path::direct, 12),
                          write(slot, Value::of(8), Path::ref, 13)},
                         Fate::dropped),
                     10, 20),
               timed(txn({read(slot, Value::of(7), Path::ref, 30),
                          read(cell, Value::none(), Path::direct, 31)},
                         Fate::aborted),
                     25, 35)});
    INFO(r.summary());
    CHECK(r.clean());
  }
  SECTION("not from an absence that a dropped and a committed removal both explain") {
    auto at = [](Op op, std::int64_t t) {
      op.at = t;
      return op;
    };
    const Report r = check(
        {initial(),
         txn({at(read(x, Value::of(1)), 11), at(write(x, Value::none()), 12)}, Fate::dropped),
         txn({at(read(x, Value::of(1)), 16), at(write(x, Value::none()), 17),
              at(read(y, Value::of(2)), 18), at(write(y, Value::of(3)), 19)}),
         txn({at(read(x, Value::none()), 30), at(read(y, Value::of(2)), 31)}, Fate::aborted)});
    INFO(r.summary());
    CHECK(r.clean());
  }
}

TEST_CASE("checker: G2 and write skew", "[isolation][checker]") {
  const Report r =
      check({initial(), txn({read(x, Value::of(1)), read(y, Value::of(2)), write(x, Value::of(3))}),
             txn({read(x, Value::of(1)), read(y, Value::of(2)), write(y, Value::of(4))})});
  INFO(r.summary());
  CHECK(r.count(Anomaly::write_skew) == 1);
  CHECK(r.count(Anomaly::g2) == 1);
  CHECK(r.count(Anomaly::g_single) == 0);
  CHECK(r.count(Anomaly::lost_update) == 0);
}

TEST_CASE("checker: phantom and absent names", "[isolation][checker]") {
  const Key slot = slot_key(0), cell = object_key(100);
  const Txn setup = txn({write(slot, Value::of(100)), write(cell, Value::of(7))});
  SECTION("no name of a slot bound") {
    const Report r = check({setup, txn({read(slot, Value::none(), Path::name)})});
    INFO(r.summary());
    CHECK(r.count(Anomaly::phantom) == 1);
  }
  SECTION("a name bound to an object the task saw absent") {
    const Report r = check({setup, txn({read(cell, Value::none(), Path::direct),
                                        read(slot, Value::of(100), Path::name),
                                        read(cell, Value::of(7), Path::name)})});
    INFO(r.summary());
    CHECK(r.count(Anomaly::phantom) == 1);
  }
  SECTION("a lookup that reaches an object its remover unbound") {
    const Report r = check(
        {setup,
         txn({read(slot, Value::of(100)), read(cell, Value::of(7)), write(cell, Value::none()),
              write(slot, Value::of(-5))}),
         txn({read(slot, Value::of(100), Path::name), read(cell, Value::none(), Path::name)})});
    INFO(r.summary());
    CHECK(r.count(Anomaly::phantom) == 1);
  }
}

TEST_CASE("checker: internal inconsistency", "[isolation][checker]") {
  SECTION("a register that does not show the task's own write") {
    const Report r = check(
        {initial(), txn({read(x, Value::of(1)), write(x, Value::of(2)), read(x, Value::of(1))})});
    INFO(r.summary());
    CHECK(r.count(Anomaly::internal) == 1);
  }
  SECTION("a list that does not end in the task's own append") {
    const Report r = check({initial(), txn({append(l, 11), read(l, list({10}))})});
    INFO(r.summary());
    CHECK(r.count(Anomaly::internal) == 1);
  }
  SECTION("two reads of one key that differ") {
    const Report r = check({initial(), txn({read(x, Value::of(1)), write(x, Value::of(2))}),
                            txn({read(x, Value::of(1)), read(x, Value::of(2))})});
    INFO(r.summary());
    CHECK(r.count(Anomaly::internal) == 1);
  }
}

TEST_CASE("checker: reads of values nobody wrote, and divergent lists", "[isolation][checker]") {
  const Report garbage = check({initial(), txn({read(x, Value::of(99))})});
  INFO(garbage.summary());
  CHECK(garbage.count(Anomaly::garbage_read) == 1);
  const Report divergent = check({initial(), txn({read(l, list({10})), append(l, 11)}),
                                  txn({read(l, list({10})), append(l, 12)}),
                                  txn({read(l, list({10, 11}))}), txn({read(l, list({10, 12}))})});
  INFO(divergent.summary());
  CHECK(divergent.count(Anomaly::incompatible_order) >= 1);
  CHECK(divergent.count(Anomaly::lost_update) == 1);
}

TEST_CASE("checker: failures that break the promise", "[isolation][checker]") {
  const Report r = check({initial(), txn({read(x, Value::of(1)), read(y, Value::of(2))},
                                         Fate::aborted, Failure::conflict)});
  INFO(r.summary());
  CHECK(r.count(Anomaly::read_only_conflict_failure) == 1);
  const Report writer = check({initial(), txn({read(x, Value::of(1)), write(x, Value::of(2))},
                                              Fate::aborted, Failure::conflict)});
  INFO(writer.summary());
  CHECK(writer.clean());
}

TEST_CASE("checker: a hundred thousand transactions and one cycle", "[isolation][checker]") {
  // A long serial history of read-modify-writes, appends to lists that are
  // replaced every 8 appends (as re-creation does in the workload) and readers;
  // then two transactions that make a write skew.
  History h{initial()};
  std::int64_t reg[2] = {1, 2};
  const Key regs[2] = {x, y};
  Key list_key = l;
  std::vector<std::int64_t> items{10};
  for (std::int64_t i = 0; i < 100000; ++i) {
    const std::int64_t fresh = 1000000 + i;
    if (i % 5 == 4) {
      h.push_back(txn(
          {read(x, Value::of(reg[0])), read(y, Value::of(reg[1])), read(list_key, list(items))}));
    } else if (i % 5 == 3 && items.size() == 8) {
      list_key = object_key(static_cast<std::uint64_t>(fresh));
      items = {fresh};
      h.push_back(txn({append(list_key, fresh)}));
    } else if (i % 5 == 3) {
      h.push_back(txn({read(list_key, list(items)), append(list_key, fresh)}));
      items.push_back(fresh);
    } else {
      const int k = static_cast<int>(i % 2);
      h.push_back(txn({read(regs[k], Value::of(reg[k])), write(regs[k], Value::of(fresh))}));
      reg[k] = fresh;
    }
  }
  const auto start = std::chrono::steady_clock::now();
  const Report serial = check(h);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  INFO(serial.summary() << "checked " << h.size() << " transactions in " << ms << " ms");
  CHECK(serial.clean());

  h.push_back(
      txn({read(x, Value::of(reg[0])), read(y, Value::of(reg[1])), write(x, Value::of(-1))}));
  h.push_back(
      txn({read(x, Value::of(reg[0])), read(y, Value::of(reg[1])), write(y, Value::of(-2))}));
  const Report skewed = check(h);
  CHECK(skewed.count(Anomaly::write_skew) == 1);
  CHECK(skewed.findings.size() == 2);  // the write skew, and the G2 it is
}
