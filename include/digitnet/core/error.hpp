// Errors: one exception type whose kind maps to a distinct exit status.
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
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }
  int exit_code() const { return static_cast<int>(kind_); }

 private:
  ErrorKind kind_;
};

[[noreturn]] inline void fail(ErrorKind kind, const std::string& message) { throw Error(kind, message); }

}  // namespace digitnet
