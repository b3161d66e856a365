#include "digitnet/core/error.hpp"

#include <atomic>
#include <cstring>

namespace digitnet {

namespace {
std::atomic<int> g_rank{-1};
}  // namespace

void error_set_rank(int rank) { g_rank.store(rank); }

std::string error_origin(const char* file, int line) {
  // The compiler passes the path it was given; keep it from src/ or include/ on.
  std::string path = file ? file : "?";
  for (const char* root : {"/src/", "/include/", "/tests/"}) {
    const size_t at = path.rfind(root);
    if (at != std::string::npos) {
      path = path.substr(at + 1);
      break;
    }
  }
  std::string origin = path + ":" + std::to_string(line);
  if (g_rank.load() >= 0) origin += ", rank " + std::to_string(g_rank.load());
  return origin;
}

std::string error_line(const char* program, const Error& e, bool verbose) {
  std::string line = std::string(program) + ": " + e.what();
  if (verbose && !e.origin().empty()) line += " (at " + e.origin() + ")";
  return line;
}

}  // namespace digitnet
