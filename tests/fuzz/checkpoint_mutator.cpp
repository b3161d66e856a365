// fuzz_checkpoint's own mutations (only in the fuzz build): byte mutations seldom
// keep a protobuf parseable (every changed length breaks the enclosing ones), so
// half the time a payload input is parsed as a Checkpoint, one field anywhere in
// it is changed through protobuf reflection (a scalar set to a boundary value, a
// repeated field grown or shrunk, a message added, cleared or dropped), and it is
// serialized again (three times in four). Everything else goes to libFuzzer's
// own byte mutations.
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "digitnet/checkpoint.pb.h"
#include "fuzz.hpp"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace digitnet::fuzz {

namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using Rng = std::minstd_rand;

template <class T>
T pick(Rng& rng, std::initializer_list<T> values) {
  return values.begin()[rng() % values.size()];
}

// Values at the limits that digitnet's readers compare against, plus noise.
uint64_t some_uint(Rng& rng, uint64_t max) {
  const uint64_t v = pick<uint64_t>(rng, {0, 1, 2, 3, 10, 127, 128, 784, 65535, 65536, 65537, 1u << 20, (1u << 20) + 1,
                                          1ull << 31, (1ull << 32) - 1, 1ull << 32, 1ull << 63, ~0ull, rng(), rng() % 16});
  return v & max;
}
double some_double(Rng& rng) {
  return pick<double>(rng, {0, 1, -1, 0.5, 0.999, 1e-9, 1e30, -1e30, std::numeric_limits<double>::quiet_NaN(),
                            std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
                            std::numeric_limits<double>::denorm_min(), double(rng()) / 1e6 - 1000});
}

// Every field of every message present in m, with the message that holds it.
void fields_of(Message* m, std::vector<std::pair<Message*, const FieldDescriptor*>>& out) {
  const Reflection* r = m->GetReflection();
  for (int i = 0; i < m->GetDescriptor()->field_count(); ++i) {
    const FieldDescriptor* f = m->GetDescriptor()->field(i);
    out.emplace_back(m, f);
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (f->is_repeated()) {
      for (int k = 0; k < r->FieldSize(*m, f); ++k) fields_of(r->MutableRepeatedMessage(m, f, k), out);
    } else if (r->HasField(*m, f)) {
      fields_of(r->MutableMessage(m, f), out);
    }
  }
}

void set_scalar(Message* m, const FieldDescriptor* f, Rng& rng) {
  const Reflection* r = m->GetReflection();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_UINT32: r->SetUInt32(m, f, uint32_t(some_uint(rng, 0xffffffffu))); break;
    case FieldDescriptor::CPPTYPE_UINT64: r->SetUInt64(m, f, some_uint(rng, ~0ull)); break;
    case FieldDescriptor::CPPTYPE_INT32: r->SetInt32(m, f, int32_t(some_uint(rng, 0xffffffffu))); break;
    case FieldDescriptor::CPPTYPE_INT64: r->SetInt64(m, f, int64_t(some_uint(rng, ~0ull))); break;
    case FieldDescriptor::CPPTYPE_FLOAT: r->SetFloat(m, f, float(some_double(rng))); break;
    case FieldDescriptor::CPPTYPE_DOUBLE: r->SetDouble(m, f, some_double(rng)); break;
    case FieldDescriptor::CPPTYPE_BOOL: r->SetBool(m, f, rng() % 2); break;
    case FieldDescriptor::CPPTYPE_ENUM: r->SetEnumValue(m, f, int(rng() % 6) - 1); break;  // unknown values too
    case FieldDescriptor::CPPTYPE_STRING:
      r->SetString(m, f, pick<const char*>(rng, {"", "cosine", "step", "constant", "quick", "\xff\xfe"}));
      break;
    case FieldDescriptor::CPPTYPE_MESSAGE: r->MutableMessage(m, f)->Clear(); break;
  }
}

void add_element(Message* m, const FieldDescriptor* f, Rng& rng) {
  const Reflection* r = m->GetReflection();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_UINT32: r->AddUInt32(m, f, uint32_t(some_uint(rng, 0xffffffffu))); break;
    case FieldDescriptor::CPPTYPE_FLOAT: r->AddFloat(m, f, float(some_double(rng))); break;
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      Message* added = r->AddMessage(m, f);
      if (r->FieldSize(*m, f) > 1 && rng() % 2) added->CopyFrom(r->GetRepeatedMessage(*m, f, 0));
      break;
    }
    default: break;  // the Checkpoint has no other repeated types
  }
}

void mutate(Checkpoint& ck, Rng& rng) {
  std::vector<std::pair<Message*, const FieldDescriptor*>> fields;
  fields_of(&ck, fields);
  const auto [m, f] = fields[rng() % fields.size()];
  const Reflection* r = m->GetReflection();
  if (!f->is_repeated()) {
    if (rng() % 8 == 0)
      r->ClearField(m, f);
    else
      set_scalar(m, f, rng);
    return;
  }
  const int n = r->FieldSize(*m, f);
  switch (rng() % 4) {
    case 0: add_element(m, f, rng); break;
    case 1:
      if (n > 0) r->RemoveLast(m, f);
      break;
    case 2:
      if (n > 1) r->SwapElements(m, f, int(rng() % unsigned(n)), int(rng() % unsigned(n)));
      break;
    default:
      if (n > 0 && f->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT)
        r->SetRepeatedFloat(m, f, int(rng() % unsigned(n)), float(some_double(rng)));
      else if (n > 0 && f->cpp_type() == FieldDescriptor::CPPTYPE_UINT32)
        r->SetRepeatedUInt32(m, f, int(rng() % unsigned(n)), uint32_t(some_uint(rng, 0xffffffffu)));
      break;
  }
}

}  // namespace

}  // namespace digitnet::fuzz

// libprotobuf logs every string field with invalid UTF-8 it parses (the decoder
// then refuses the file): thousands of lines a minute in the fuzzer's log.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  using namespace digitnet;
  fuzz::Rng rng(seed);
  Checkpoint ck;
  if (size >= 1 && (data[0] & fuzz::kPayload) && rng() % 4 != 0 && ck.ParseFromArray(data + 1, int(size - 1))) {
    fuzz::mutate(ck, rng);
    const std::string bytes = ck.SerializeAsString();
    if (bytes.size() + 1 <= max_size) {
      data[0] = fuzz::kPayload;
      std::memcpy(data + 1, bytes.data(), bytes.size());
      return bytes.size() + 1;
    }
  }
  return LLVMFuzzerMutate(data, size, max_size);
}
