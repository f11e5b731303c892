#include "isolation/history.hpp"

namespace isolation {

std::string describe(const Key& k) {
  return (k.space == Key::Space::slot ? "slot " : "object #") + std::to_string(k.id);
}

std::string describe(const Value& v) {
  switch (v.kind) {
    case Value::Kind::absent:
      return "absent";
    case Value::Kind::reg:
      return std::to_string(v.reg);
    case Value::Kind::list: {
      std::string s = "[";
      constexpr std::size_t kShown = 6;
      if (v.list.size() > kShown) s += "... ";
      for (std::size_t i = v.list.size() > kShown ? v.list.size() - kShown : 0; i < v.list.size();
           ++i) {
        s += std::to_string(v.list[i]);
        if (i + 1 < v.list.size()) s += ' ';
      }
      return s + "] (" + std::to_string(v.list.size()) + ")";
    }
  }
  return "?";
}

}  // namespace isolation
