#include "isolation/slot_ops.hpp"

namespace isolation {
namespace {

constexpr std::size_t kKeptRefs = 16;  // recent cells: some were just removed
constexpr std::string_view kNamePrefix = "iso/";

std::int64_t id_value(starhold::ObjectId id) {
  return static_cast<std::int64_t>(id.value);
}

Value content(const starhold::ManagedObject& cell, bool list) {
  if (list) return Value::of_list(static_cast<const ListCell&>(cell).items);
  return Value::of(static_cast<const RegCell&>(cell).value);
}

Value link_value(std::int64_t link) {
  return link == 0 ? Value::none() : Value::of(link);
}

}  // namespace

void World::remember(starhold::ObjectId cell, bool list) {
  std::lock_guard lock(mu_);
  if (known_.size() < kKeptRefs) {
    known_.emplace_back(cell, list);
  } else {
    known_[next_known_++ % kKeptRefs] = {cell, list};
  }
}

std::pair<starhold::ObjectId, bool> World::recall(std::uint64_t pick) {
  std::lock_guard lock(mu_);
  if (known_.empty()) return {};
  return known_[pick % known_.size()];
}

void World::create(starhold::Transaction& tx, int count, std::vector<Op>& log,
                   std::vector<std::pair<starhold::ObjectId, bool>>& created) {
  slots.clear();
  SlotOps ops(*this, tx, log, created);
  for (int i = 0; i < count; ++i) {
    Slot s;
    s.list = i % 2 == 0;
    s.named = (i / 2) % 2 == 1;
    s.name = std::string(kNamePrefix) + "n/" + std::to_string(i);
    s.tomb_name = std::string(kNamePrefix) + "t/" + std::to_string(i);
    if (!s.named) s.anchor = tx.create<Anchor>();
    slots.push_back(std::move(s));
    ops.replace(i, {}, 1);
  }
}

SlotOps::View SlotOps::view(int slot, bool strict, bool declare) {
  const Slot& s = world_.slots[static_cast<std::size_t>(slot)];
  const Key link_key = slot_key(static_cast<std::uint64_t>(slot));
  View v;
  if (!s.named) {
    Anchor& a = declare ? tx_.get_for_update(s.anchor) : tx_.get(s.anchor);
    v.link = a.cell ? id_value(a.cell) : -a.tomb;
    note(isolation::read(link_key, link_value(v.link), Path::ref));
    if (a.cell) read_cell(a.cell, s.list, Path::ref, strict, v, declare);
    return v;
  }
  try {
    v.cell = tx_.find<starhold::ManagedObject>(s.name);
  } catch (const starhold::ObjectNotFound& e) {
    v.link = static_cast<std::int64_t>(e.id());
    note(isolation::read(link_key, Value::of(v.link), Path::name));
    note(isolation::read(object_key(e.id()), Value::none(), Path::name));
    if (strict) throw;
    return v;
  }
  if (v.cell != nullptr) {
    v.link = id_value(v.cell->id());
    note(isolation::read(link_key, Value::of(v.link), Path::name));
    note(isolation::read(object_key(v.cell->id().value), content(*v.cell, s.list), Path::name));
    if (declare) tx_.mark_for_update(*v.cell);
    return v;
  }
  Tomb* tomb = nullptr;
  try {
    tomb = tx_.find<Tomb>(s.tomb_name);
  } catch (const starhold::ObjectNotFound&) {
    // A tomb name bound to a removed tomb: recorded as no link at all.
  }
  v.tomb = tomb;
  v.link = tomb != nullptr ? -tomb->value : 0;
  note(isolation::read(link_key, link_value(v.link), Path::name));
  return v;
}

void SlotOps::note(Op op) {
  op.at = now_ns();
  log_.push_back(std::move(op));
}

void SlotOps::remove_cell(const View& v) {
  tx_.remove(*v.cell);
  note(isolation::write(object_key(v.cell->id().value), Value::none()));
}

void SlotOps::read_cell(starhold::ObjectId id, bool list, Path path, bool strict, View& v,
                        bool declare) {
  try {
    if (list) {
      starhold::Ref<ListCell> ref(id);
      v.cell = declare ? &tx_.get_for_update(ref) : &tx_.get(ref);
    } else {
      starhold::Ref<RegCell> ref(id);
      v.cell = declare ? &tx_.get_for_update(ref) : &tx_.get(ref);
    }
  } catch (const starhold::ObjectNotFound&) {
    note(isolation::read(object_key(id.value), Value::none(), path));
    if (strict) throw;
    return;
  }
  note(isolation::read(object_key(id.value), content(*v.cell, list), path));
}

void SlotOps::fill(starhold::ManagedObject& cell, bool list, int values, bool fresh) {
  const Key key = object_key(cell.id().value);
  for (int i = 0; i < values; ++i) {
    const std::int64_t x = world_.next_value();
    if (list) {
      static_cast<ListCell&>(cell).items.push_back(x);
      note(isolation::append(key, x));
    } else {
      static_cast<RegCell&>(cell).value = x;
      note(isolation::write(key, Value::of(x)));
    }
  }
  if (fresh) created_.emplace_back(cell.id(), list);
}

void SlotOps::link(int slot, const View& old, std::int64_t cell_or_tomb) {
  const Slot& s = world_.slots[static_cast<std::size_t>(slot)];
  const Key link_key = slot_key(static_cast<std::uint64_t>(slot));
  const Path path = s.named ? Path::name : Path::ref;
  std::int64_t seen = 0;
  if (!s.named) {
    Anchor& a = tx_.get(s.anchor);
    a.cell = cell_or_tomb > 0 ? starhold::ObjectId{static_cast<std::uint64_t>(cell_or_tomb)}
                              : starhold::ObjectId{};
    a.tomb = cell_or_tomb > 0 ? 0 : -cell_or_tomb;
    note(isolation::write(link_key, Value::of(cell_or_tomb), path));
    seen = a.cell ? id_value(a.cell) : -a.tomb;
  } else if (cell_or_tomb > 0) {
    if (old.tomb != nullptr) {
      tx_.remove(*old.tomb);
      tx_.unbind(s.tomb_name);
    }
    const starhold::ObjectId id{static_cast<std::uint64_t>(cell_or_tomb)};
    tx_.bind(s.name, starhold::Ref<starhold::ManagedObject>(id));
    note(isolation::write(link_key, Value::of(cell_or_tomb), path));
    auto* now = tx_.find<starhold::ManagedObject>(s.name);
    seen = now != nullptr ? id_value(now->id()) : 0;
  } else {
    tx_.unbind(s.name);
    auto& tomb = tx_.create<Tomb>();
    tomb.value = -cell_or_tomb;
    tx_.bind(s.tomb_name, tomb);
    note(isolation::write(link_key, Value::of(cell_or_tomb), path));
    const bool cell_bound = tx_.find<starhold::ManagedObject>(s.name) != nullptr;
    auto* now = tx_.find<Tomb>(s.tomb_name);
    seen = cell_bound || now == nullptr ? 0 : -now->value;
  }
  // The task must see its own change of the link.
  note(isolation::read(link_key, link_value(seen), path));
}

void SlotOps::read(int slot, bool strict) {
  (void)view(slot, strict, false);
}

void SlotOps::write(int slot, int values, bool declare) {
  const Slot& s = world_.slots[static_cast<std::size_t>(slot)];
  const View v = view(slot, false, declare);
  if (v.cell != nullptr) {
    fill(*v.cell, s.list, values, false);
    // The task must see its own change of the cell.
    note(isolation::read(object_key(v.cell->id().value), content(*v.cell, s.list),
                         s.named ? Path::name : Path::ref));
  } else if (v.link < 0) {
    replace(slot, v, values);
  }
}

void SlotOps::recreate(int slot) {
  const View v = view(slot, false, true);
  if (v.cell != nullptr) {
    remove_cell(v);
  } else if (v.link >= 0) {
    return;  // the link names an absent cell, or nothing: no consistent state to replace
  }
  replace(slot, v, 1);
}

void SlotOps::replace(int slot, const View& old, int values) {
  const bool list = world_.slots[static_cast<std::size_t>(slot)].list;
  starhold::ManagedObject& cell =
      list ? static_cast<starhold::ManagedObject&>(tx_.create<ListCell>()) : tx_.create<RegCell>();
  fill(cell, list, values, true);
  link(slot, old, id_value(cell.id()));
}

void SlotOps::empty(int slot) {
  View v = view(slot, false, true);
  if (v.cell == nullptr) return;
  remove_cell(v);
  link(slot, v, -world_.next_value());
}

void SlotOps::read_kept_ref(std::uint64_t pick) {
  const auto [id, list] = world_.recall(pick);
  if (!id) return;
  View v;
  read_cell(id, list, Path::direct, false, v, false);
}

void SlotOps::scan() {
  std::string after(kNamePrefix);
  const std::size_t limit = 2 * world_.slots.size() + 4;
  for (std::size_t i = 0; i < limit; ++i) {
    std::optional<std::string> name = tx_.next_bound_name(after);
    if (!name || name->compare(0, kNamePrefix.size(), kNamePrefix) != 0) return;
    after = *name;
    const bool cell = (*name)[kNamePrefix.size()] == 'n';
    const auto slot = std::stoull(name->substr(kNamePrefix.size() + 2));
    std::int64_t link = 0;
    try {
      if (cell) {
        auto* obj = tx_.find<starhold::ManagedObject>(*name);
        link = obj != nullptr ? id_value(obj->id()) : 0;
      } else {
        auto* tomb = tx_.find<Tomb>(*name);
        link = tomb != nullptr ? -tomb->value : 0;
      }
    } catch (const starhold::ObjectNotFound& e) {
      link = cell ? static_cast<std::int64_t>(e.id()) : 0;
      if (cell) note(isolation::read(object_key(e.id()), Value::none(), Path::scan));
    }
    note(isolation::read(slot_key(slot), link_value(link), Path::scan));
  }
}

}  // namespace isolation
