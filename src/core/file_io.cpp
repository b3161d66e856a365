#include "digitnet/core/file_io.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace digitnet {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void sys_fail(const std::string& what, const std::string& path) {
  fail(ErrorKind::runtime, path + ": " + what + " failed: " + std::strerror(errno));
}

}  // namespace

std::string file_read_all(const std::string& path, uint64_t max_bytes, ErrorKind kind) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) fail(kind, path + ": is a directory, not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(kind, path + ": cannot open: " + std::strerror(errno));
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) fail(kind, path + ": unreadable");
  if (uint64_t(size) > max_bytes)
    fail(kind, path + ": larger than " + std::to_string(max_bytes >> 20) + " MiB");
  in.seekg(0);
  std::string bytes(size_t(size), '\0');
  if (!in.read(bytes.data(), size)) fail(kind, path + ": read failed");
  return bytes;
}

void file_write_atomic(const std::string& path, const void* bytes, size_t size) {
  const fs::path target(path);
  fs::path dir = target.parent_path();
  if (dir.empty()) dir = ".";
  const std::string tmp = (dir / ("." + target.filename().string() + ".tmp." + std::to_string(::getpid()))).string();

  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) sys_fail("creating", tmp);
  const char* data = static_cast<const char*>(bytes);
  size_t off = 0;
  while (off < size) {
    const ssize_t n = ::write(fd, data + off, size - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int saved = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      errno = saved;
      sys_fail("writing", tmp);
    }
    off += size_t(n);
  }
  // Data on disk before the rename makes it visible; directory fsync makes the rename durable.
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int saved = errno;
    ::unlink(tmp.c_str());
    errno = saved;
    sys_fail("fsync", tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    ::unlink(tmp.c_str());
    errno = saved;
    sys_fail("rename to " + path, tmp);
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace digitnet
