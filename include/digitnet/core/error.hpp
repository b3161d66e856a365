// Errors: one exception type whose kind maps to a distinct exit status, and
// which remembers where it was raised (file:line, and the MPI rank if any).
// Users read one line, the message; the origin is for --verbose and bug reports.
#pragma once
#include <stdexcept>
#include <string>

namespace digitnet {

// Exit statuses of the programs; scripts can tell bad usage from bad files.
enum class ErrorKind : int {
  usage = 2,       // bad option or option value
  data = 3,        // unreadable or malformed data set / image
  checkpoint = 4,  // unreadable, corrupted, foreign or incompatible checkpoint
  runtime = 5,     // MPI, oneDNN or system failure
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message, std::string origin = "")
      : std::runtime_error(message), kind_(kind), origin_(std::move(origin)) {}
  ErrorKind kind() const { return kind_; }
  int exit_code() const { return static_cast<int>(kind_); }
  // "src/core/data.cpp:42, rank 1" ("" when unknown).
  const std::string& origin() const { return origin_; }

 private:
  ErrorKind kind_;
  std::string origin_;
};

// The rank named in the origin of errors raised from now on (-1: none, the default).
void error_set_rank(int rank);

// "src/core/data.cpp:42, rank 1" for a call site (the path from src/ on).
std::string error_origin(const char* file, int line);

// Throws Error(kind, message) with the caller's file:line (GCC and Clang fill the defaults in at the call site).
[[noreturn]] inline void fail(ErrorKind kind, const std::string& message, const char* file = __builtin_FILE(),
                              int line = __builtin_LINE()) {
  throw Error(kind, message, error_origin(file, line));
}

// The line a program prints for an error: "program: message", and with verbose
// " (at origin)" after it.
std::string error_line(const char* program, const Error& e, bool verbose);

}  // namespace digitnet
