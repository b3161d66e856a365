// What the fuzz targets share: in-memory scratch files, gzip, checks.
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <map>

#include "digitnet/core/error.hpp"
#include "fuzz.hpp"

namespace digitnet::fuzz {

std::string scratch_file(int slot, const std::string& bytes) {
  static std::map<int, int> fds;  // slot -> memfd, open for the life of the process
  int& fd = fds[slot];
  if (fd == 0) {
    fd = ::memfd_create(("digitnet-fuzz-" + std::to_string(slot)).c_str(), MFD_CLOEXEC);
    if (fd < 0) fail(ErrorKind::runtime, "memfd_create failed");
  }
  if (::ftruncate(fd, 0) != 0) fail(ErrorKind::runtime, "ftruncate of a scratch file failed");
  for (size_t off = 0; off < bytes.size();) {
    const ssize_t n = ::pwrite(fd, bytes.data() + off, bytes.size() - off, off_t(off));
    if (n <= 0) fail(ErrorKind::runtime, "writing a scratch file failed");
    off += size_t(n);
  }
  // Opening /proc/self/fd/N opens the memfd anew, at offset 0.
  return "/proc/self/fd/" + std::to_string(fd);
}

std::string gzip(const std::string& bytes) {
  z_stream z{};
  check(deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK, "deflateInit2");
  std::string out(deflateBound(&z, uLong(bytes.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = uInt(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = uInt(out.size());
  check(deflate(&z, Z_FINISH) == Z_STREAM_END, "deflate");
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

void check(bool cond, const char* what) {
  if (cond) return;
  std::fprintf(stderr, "digitnet fuzz check failed: %s\n", what);
  std::abort();
}

}  // namespace digitnet::fuzz
