#include "gate.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "digitnet/core/error.hpp"
#include "task_queue.hpp"

namespace digitnet {

namespace {

constexpr size_t kMaxHead = 16 * 1024;
constexpr auto kHeadDeadline = std::chrono::seconds(10);
constexpr int kIdleMs = 10000;  // a relay with no data either way for this long is closed

void set_timeouts(int fd, int seconds) {
  timeval tv{seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

bool send_all(int fd, const char* data, size_t n) {
  while (n > 0) {
    const ssize_t sent = send(fd, data, n, MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return false;
    data += sent;
    n -= size_t(sent);
  }
  return true;
}

enum class Head { complete, too_long, too_slow, closed };

// The head, and whatever of the body came with it.
Head read_head(int fd, std::string& head) {
  const auto deadline = std::chrono::steady_clock::now() + kHeadDeadline;
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Head::too_slow;  // the receive timeout
    if (n == 0) return Head::closed;
    head.append(buf, size_t(n));
    const size_t end = head.find("\r\n\r\n");
    if (end != std::string::npos) return end + 4 <= kMaxHead ? Head::complete : Head::too_long;
    if (head.size() > kMaxHead) return Head::too_long;
  }
  return Head::too_slow;
}

// The Content-Length of a head; -1 when it has none, or none that is a plain number.
int64_t content_length(const std::string& head) {
  for (size_t at = head.find("\r\n"); at != std::string::npos && at + 2 < head.size(); at = head.find("\r\n", at + 2)) {
    const size_t colon = head.find(':', at + 2);
    const size_t eol = head.find("\r\n", at + 2);
    if (colon == std::string::npos || colon > eol || colon - at - 2 != 14 ||
        strncasecmp(head.c_str() + at + 2, "Content-Length", 14) != 0)
      continue;
    const std::string value = head.substr(colon + 1, eol - colon - 1);
    const size_t first = value.find_first_not_of(' '), last = value.find_last_not_of(' ');
    const std::string digits = first == std::string::npos ? "" : value.substr(first, last - first + 1);
    if (digits.empty() || digits.size() > 18 || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
    return std::stoll(digits);
  }
  return -1;
}

// Answers and closes without leaving the client's unread bytes to reset the connection.
void refuse(int client, const char* status, const char* message) {
  const std::string body = std::string("{\"error\":\"") + message + "\"}\n";
  const std::string answer = std::string("HTTP/1.1 ") + status + "\r\nConnection: close\r\nContent-Type: application/json\r\n"
                             "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  send_all(client, answer.data(), answer.size());
}

// Closes gently: the client sees our answer before the connection goes, even with
// a request body still on its way (we read and drop up to 16 MiB of it, 5 s at most).
void linger_close(int client) {
  shutdown(client, SHUT_WR);
  set_timeouts(client, 1);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  char buf[65536];
  for (size_t dropped = 0; dropped < (16u << 20) && std::chrono::steady_clock::now() < deadline;) {
    const ssize_t n = recv(client, buf, sizeof buf, 0);
    if (n <= 0) break;
    dropped += size_t(n);
  }
  close(client);
}

int connect_backend(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  path.copy(addr.sun_path, sizeof addr.sun_path - 1);
  if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
  if (fd >= 0) close(fd);
  return -1;
}

// Client bytes (at most `budget` more) to the server, the server's answer to the
// client, until the server closes (it answers one request per connection).
void relay(int client, int backend, uint64_t budget) {
  pollfd fds[2] = {{client, POLLIN, 0}, {backend, POLLIN, 0}};
  char buf[65536];
  while (poll(fds, 2, kIdleMs) > 0) {
    if (fds[0].revents) {
      const ssize_t n = recv(client, buf, sizeof buf, 0);
      if (n <= 0 || uint64_t(n) > budget || !send_all(backend, buf, size_t(n))) {
        fds[0].fd = -1;  // nothing more from the client: the server answers what it has
        shutdown(backend, SHUT_WR);
      } else {
        budget -= uint64_t(n);
      }
    }
    if (fds[1].revents) {
      const ssize_t n = recv(backend, buf, sizeof buf, 0);
      if (n <= 0 || !send_all(client, buf, size_t(n))) return;
    }
  }
}

int listen_on(const std::string& host, int port, int* bound_port) {
  addrinfo hints{}, *found = nullptr;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
  const std::string service = std::to_string(port);
  const std::string where = "cannot listen on " + host + " port " + service;
  if (getaddrinfo(host.c_str(), service.c_str(), &hints, &found) != 0) fail(ErrorKind::usage, where + ": not a numeric address");
  const int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int yes = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  const bool ok = fd >= 0 && bind(fd, found->ai_addr, found->ai_addrlen) == 0 && listen(fd, 64) == 0;
  freeaddrinfo(found);
  if (!ok) {
    const std::string why = std::strerror(errno);
    if (fd >= 0) close(fd);
    fail(ErrorKind::usage, where + ": " + why);
  }
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *bound_port = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                                 : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  return fd;
}

}  // namespace

Gate::Gate(const std::string& host, int port, std::string backend_socket, uint64_t max_body, size_t threads)
    : backend_socket_(std::move(backend_socket)), max_body_(max_body), threads_(threads) {
  listen_fd_ = listen_on(host, port, &port_);
}

Gate::~Gate() {
  if (listen_fd_ >= 0) close(listen_fd_);
}

void Gate::serve_connection(int client) {
  set_timeouts(client, 5);
  std::string head;
  const Head got = read_head(client, head);
  if (got != Head::complete) {
    if (got == Head::too_long) refuse(client, "431 Request Header Fields Too Large", "request head over 16 KiB");
    if (got == Head::too_slow) refuse(client, "408 Request Timeout", "request head not received in time");
    return linger_close(client);
  }
  const int64_t length = content_length(head);
  if (length > int64_t(max_body_)) {
    refuse(client, "413 Payload Too Large", "body over the upload limit");
    return linger_close(client);
  }
  const int backend = connect_backend(backend_socket_);
  if (backend < 0) {
    refuse(client, "503 Service Unavailable", "the server is stopping");
    return linger_close(client);
  }
  const uint64_t declared = uint64_t(std::max<int64_t>(length, 0));
  const uint64_t came_along = head.size() - (head.find("\r\n\r\n") + 4);  // body bytes read with the head
  const uint64_t body_left = declared > came_along ? declared - came_along : 0;
  if (send_all(backend, head.data(), head.size())) relay(client, backend, body_left);
  close(backend);
  linger_close(client);
}

void Gate::run() {
  BoundedTaskQueue pool(threads_, 4 * threads_);
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;  // wakes up to see stop()
    const int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    pool.enqueue([this, client] { serve_connection(client); });
  }
  pool.shutdown();
}

void Gate::stop() { stopping_ = true; }

}  // namespace digitnet
