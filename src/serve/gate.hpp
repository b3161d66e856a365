// The front door of digitnet-serve. The public socket is ours, not cpp-httplib's:
// each connection's request head (request line and headers) is read here first,
// up to 16 KiB in 10 s, because cpp-httplib 0.11.4 reads a head line of any length
// and any number of header lines into memory. A head that fits, and a body no
// longer than the upload limit, are then relayed to the HTTP server on an
// internal Unix socket (in a directory only this user can enter), and its answer
// back. Private to src/serve.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace digitnet {

class Gate {
 public:
  // Listens on host:port (port 0: any free one); throws Error(usage) when it cannot.
  Gate(const std::string& host, int port, std::string backend_socket, uint64_t max_body, size_t threads);
  ~Gate();
  int port() const { return port_; }
  // Accepts and relays connections until stop(); each connection on a thread of a bounded pool.
  void run();
  void stop();

 private:
  void serve_connection(int client);

  int listen_fd_ = -1, port_ = 0;
  std::string backend_socket_;
  uint64_t max_body_;
  size_t threads_;
  std::atomic<bool> stopping_{false};
};

}  // namespace digitnet
