// Real MNIST for unit tests where real digits matter, loaded once per split:
// from DIGITNET_MNIST_DIR, else from data/mnist next to this source tree (where
// scripts/test.sh puts it; ctest runs from the build directory).
#pragma once
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <string>

#include "digitnet/core/data.hpp"
#include "digitnet/core/error.hpp"

namespace digitnet::test {

inline const Dataset& mnist(const std::string& split) {
  static std::map<std::string, Dataset> loaded;
  auto it = loaded.find(split);
  if (it != loaded.end()) return it->second;
  const char* d = std::getenv("DIGITNET_MNIST_DIR");
  const std::string here = __FILE__;
  const std::string dir = d ? d : here.substr(0, here.rfind('/') + 1) + "../data/mnist";
  Dataset ds;
  try {
    ds = dataset_load_split(dir, split);
  } catch (const Error& e) {
    ADD_FAILURE() << e.what() << " (fetch it with scripts/fetch-mnist.sh " << dir << ")";
  }
  return loaded.emplace(split, std::move(ds)).first->second;
}

}  // namespace digitnet::test
