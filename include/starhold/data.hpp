// Managed objects: the game's persistent state.
//
// A managed class derives from Managed<Self> (or Managed<Self, Base> to extend
// another managed class), names itself with a stable type_name, and lists its
// fields:
//
//   struct Player final : starhold::Managed<Player> {
//     static constexpr std::string_view type_name = "mygame.Player";
//     std::string name;
//     std::int64_t gold = 0;
//     starhold::Ref<Room> room;
//     template <class F> void fields(F& f) { f(1, name); f(2, gold); f(3, room); }
//   };
//
// Objects live in the store and are reached inside a task through a
// Transaction (see task.hpp): by Ref<T>, by bound name, or by creating them.
// An object refers to another by Ref<T> (an id), never by pointer.
//
// The type_name is what is stored with each record: keep it when renaming the
// C++ class. Types register themselves when the program starts; a type that
// is only ever loaded (never constructed) in a program can be registered with
// register_type<T>().
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include "starhold/fields.hpp"

namespace starhold {

// The identity of a managed object. Ids are never reused; 0 is "no object".
struct ObjectId {
  std::uint64_t value = 0;
  explicit operator bool() const noexcept { return value != 0; }
  friend auto operator<=>(ObjectId, ObjectId) = default;
};

class ManagedObject;
class Transaction;
namespace detail {
struct ObjectAccess;
}

// What Starhold knows of a managed type. One per type, for the whole program.
struct TypeInfo {
  std::string_view name;
  std::uint32_t hash;  // of name; stored in each record
  std::unique_ptr<ManagedObject> (*make)();
};

namespace detail {
std::uint32_t type_hash(std::string_view name) noexcept;
// Adds info to the program's type registry and returns it. Safe from any
// thread and from static initialisation.
const TypeInfo& register_type_info(const TypeInfo& info);
// The registered type whose name hashes to hash, or nullptr.
const TypeInfo* find_type(std::uint32_t hash);

template <class T>
concept NamedManaged = requires {
  { T::type_name } -> std::convertible_to<std::string_view>;
};

template <class T>
const TypeInfo& type_info_of() {
  static_assert(NamedManaged<T>,
                "starhold: a managed class needs `static constexpr std::string_view type_name = "
                "\"game.Name\";`");
  std::unique_ptr<ManagedObject> (*make)() = nullptr;
  if constexpr (!std::is_abstract_v<T>) {
    make = []() -> std::unique_ptr<ManagedObject> {
      return std::unique_ptr<ManagedObject>(new T());
    };
  }
  static const TypeInfo& info =
      register_type_info(TypeInfo{T::type_name, type_hash(T::type_name), make});
  return info;
}

// True when T already gets fields from a Managed<...> base.
template <class T>
concept HasManagedFields = requires {
  typename T::starhold_fields_owner;
};
}  // namespace detail

// Base of every managed object. Not copyable into another identity: a copy is
// an unmanaged value until it is passed to Transaction::create.
class ManagedObject {
 public:
  virtual ~ManagedObject() = default;

  // The object's id; 0 until the object is created in or loaded by a task.
  ObjectId id() const noexcept { return id_; }
  virtual const TypeInfo& type() const noexcept = 0;

  // Encodes the object's fields (and fields this program does not know,
  // read from a newer record) into out. Used by the data service.
  void encode(std::string& out) const;
  // Decodes a record produced by encode into this object. Throws FieldError.
  void decode(std::string_view record);

 protected:
  ManagedObject() = default;
  ManagedObject(const ManagedObject&) noexcept {}
  ManagedObject& operator=(const ManagedObject&) noexcept { return *this; }

  virtual void write_fields(FieldWriter& w) const = 0;
  virtual void read_fields(FieldReader& r) = 0;

 private:
  friend struct detail::ObjectAccess;
  ObjectId id_;
  std::string unknown_fields_;
};

// CRTP base that connects Self's fields() and type_name to ManagedObject.
template <class Self, class Base = ManagedObject>
class Managed : public Base {
  static_assert(std::is_base_of_v<ManagedObject, Base>,
                "starhold: Managed<Self, Base> needs Base to be a managed class");

 public:
  using starhold_fields_owner = Self;
  const TypeInfo& type() const noexcept override { return detail::type_info_of<Self>(); }

 protected:
  using Base::Base;
  Managed() { (void)registered_; }

  void write_fields(FieldWriter& w) const override {
    if constexpr (detail::HasManagedFields<Base>) Base::write_fields(w);
    const_cast<Self&>(static_cast<const Self&>(*this)).fields(w);
  }
  void read_fields(FieldReader& r) override {
    if constexpr (detail::HasManagedFields<Base>) Base::read_fields(r);
    static_cast<Self&>(*this).fields(r);
  }

 private:
  inline static const TypeInfo& registered_ = detail::type_info_of<Self>();
};

// Registers T so records of T can be loaded through a Ref to one of its bases
// even before this program constructs a T. Safe from any thread.
template <class T>
void register_type() {
  (void)detail::type_info_of<T>();
}

// A typed reference to a managed object: its id. Store Refs in fields; follow
// them inside a task with Transaction::get (or get(tx) below). A Ref<Derived>
// converts to a Ref<Base>.
template <class T>
class Ref {
 public:
  Ref() = default;
  explicit Ref(ObjectId id) noexcept : id_(id) {}
  // A Ref to obj, which must have been created in or loaded by a task.
  Ref(const T& obj) noexcept : id_(obj.id()) {}  // NOLINT: implicit by design
  template <class U>
  requires std::is_base_of_v<T, U> Ref(const Ref<U>& other)
  noexcept : id_(other.id()) {}  // NOLINT

  ObjectId id() const noexcept { return id_; }
  explicit operator bool() const noexcept { return static_cast<bool>(id_); }
  friend bool operator==(const Ref& a, const Ref& b) noexcept { return a.id_ == b.id_; }
  friend auto operator<=>(const Ref& a, const Ref& b) noexcept { return a.id_ <=> b.id_; }

  // Same as tx.get(*this) / tx.get_for_update(*this).
  T& get(Transaction& tx) const;
  T& get_for_update(Transaction& tx) const;

 private:
  ObjectId id_;
};

template <>
struct FieldCodec<ObjectId> {
  static constexpr wire::Kind kind = wire::Kind::varint;
  static void encode(std::string& out, ObjectId id) { wire::put_varint(out, id.value); }
  static void decode(wire::Cursor& in, ObjectId& id) { id.value = in.varint(); }
};

template <class T>
struct FieldCodec<Ref<T>> {
  static constexpr wire::Kind kind = wire::Kind::varint;
  static void encode(std::string& out, const Ref<T>& r) { wire::put_varint(out, r.id().value); }
  static void decode(wire::Cursor& in, Ref<T>& r) { r = Ref<T>(ObjectId{in.varint()}); }
};

}  // namespace starhold

template <>
struct std::hash<starhold::ObjectId> {
  std::size_t operator()(starhold::ObjectId id) const noexcept {
    return std::hash<std::uint64_t>{}(id.value);
  }
};
template <class T>
struct std::hash<starhold::Ref<T>> {
  std::size_t operator()(const starhold::Ref<T>& r) const noexcept {
    return std::hash<std::uint64_t>{}(r.id().value);
  }
};
