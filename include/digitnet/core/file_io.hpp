// Whole-file reads with a size limit, and atomic writes (temporary file in the
// same directory, fsync, rename, fsync of the directory), so a reader never sees
// half a file and a crash leaves the previous version intact.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "digitnet/core/error.hpp"

namespace digitnet {

// The whole file. Errors of kind `kind` name the file: missing, a directory,
// unreadable, or larger than max_bytes.
std::string file_read_all(const std::string& path, uint64_t max_bytes, ErrorKind kind);

// Replaces path with bytes atomically. Errors (kind runtime) name the file.
void file_write_atomic(const std::string& path, const void* bytes, size_t size);

}  // namespace digitnet
