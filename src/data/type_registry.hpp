// Internal access to the program's managed-type registry.
#pragma once

#include <string>
#include <vector>

#include "starhold/data.hpp"

namespace starhold::detail {

// The data service's access to a managed object's identity.
struct ObjectAccess {
  static void set_id(ManagedObject& obj, ObjectId id) noexcept { obj.id_ = id; }
};

// Problems found while types registered (duplicate names, hash collisions).
// Server start-up refuses to run while any exist.
std::vector<std::string> type_registry_problems();

std::vector<const TypeInfo*> registered_types();

// Managed types whose fields() uses one field number twice.
std::vector<std::string> field_number_problems();

}  // namespace starhold::detail
