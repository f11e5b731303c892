// Fuzzes the record decoder (starhold/fields.hpp, src/data/fields.cpp): the
// first byte picks a managed type, the rest is a record of its fields.
//
// Decoding may only succeed or throw FieldError. What it accepts must
// round-trip: re-encoding the decoded object and decoding that gives an equal
// object, and (for types without unordered containers) the same bytes again.
// For two versions of one type, an old program that reads and writes a record
// keeps the fields it does not know: the new program then reads what it
// would have read from the original record.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "record_types.hpp"

namespace {

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "fields fuzzer: %s\n", what);
  std::abort();
}

// Decodes record into obj; false when the decoder rejects it.
bool decode(starhold::ManagedObject& obj, std::string_view record) {
  try {
    obj.decode(record);
    return true;
  } catch (const starhold::FieldError&) {
    return false;
  }
}

std::string encode(const starhold::ManagedObject& obj) {
  std::string out;
  obj.encode(out);
  return out;
}

// Re-encodes a decoded object and decodes the result into a fresh T.
template <class T>
T reencoded(const T& decoded, std::string& bytes) {
  bytes = encode(decoded);
  T again;
  if (!decode(again, bytes)) violated("an encoded object does not decode");
  return again;
}

// Scalars hold floats (NaN != NaN), so they are compared by their encoding.
void scalars(std::string_view record) {
  fuzz::Scalars first;
  if (!decode(first, record)) return;
  std::string bytes;
  const fuzz::Scalars second = reencoded(first, bytes);
  if (encode(second) != bytes) violated("Scalars re-encode differently");
}

template <class T>
void ordered(std::string_view record) {
  T first;
  if (!decode(first, record)) return;
  std::string bytes;
  const T second = reencoded(first, bytes);
  if (!(second == first)) violated("a decoded object changes when encoded and decoded again");
  if (encode(second) != bytes) violated("an object re-encodes differently");
}

void unordered(std::string_view record) {
  fuzz::Unordered first;
  if (!decode(first, record)) return;
  std::string bytes;
  if (!(reencoded(first, bytes) == first)) {
    violated("a decoded Unordered changes when encoded and decoded again");
  }
}

void evolution(std::string_view record) {
  fuzz::ProfileV2 direct;
  if (!decode(direct, record)) return;
  fuzz::ProfileV1 old;
  if (!decode(old, record)) violated("an old type rejects a record its new version reads");
  fuzz::ProfileV2 through_old;
  if (!decode(through_old, encode(old))) {
    violated("a record written back by an old program no longer decodes");
  }
  if (!(through_old == direct)) violated("an old program lost or changed fields it does not know");
  std::string bytes;
  if (!(reencoded(direct, bytes) == direct)) violated("a ProfileV2 changes when re-encoded");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view record(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (static_cast<fuzz::Subject>(data[0] % fuzz::kSubjects)) {
    case fuzz::Subject::scalars:
      scalars(record);
      break;
    case fuzz::Subject::containers:
      ordered<fuzz::Containers>(record);
      break;
    case fuzz::Subject::unordered:
      unordered(record);
      break;
    case fuzz::Subject::profile:
      evolution(record);
      break;
  }
  return 0;
}
