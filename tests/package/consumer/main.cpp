// Links against the installed Starhold and commits one task.
#include <cstdio>
#include <filesystem>

#include <starhold/starhold.hpp>

struct Visit final : starhold::Managed<Visit> {
  static constexpr std::string_view type_name = "consumer.Visit";
  std::int32_t count = 0;
  template <class F>
  void fields(F& f) {
    f(1, count);
  }
};

int main(int argc, char** argv) {
  starhold::ServerOptions options;
  options.store_path = argc > 1 ? argv[1] : "consumer-data";
  starhold::Server server(options);
  server.start();
  int count = 0;
  server
      .submit("visit",
              [&](starhold::Transaction& tx) {
                auto* v = tx.find<Visit>("visits");
                if (v == nullptr) {
                  v = &tx.create<Visit>();
                  tx.bind("visits", *v);
                }
                count = ++v->count;
              })
      .get();
  std::printf("visits: %d\n", count);
  return count == 1 ? 0 : 1;
}
