// digitnet-serve's HTTP side: routes, limits and shutdown, on cpp-httplib.
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <cstdio>
#include <thread>

#include "digitnet/core/error.hpp"
#include "digitnet/serve/predictor.hpp"
#include "digitnet/serve/serve.hpp"
#include "gate.hpp"
#include "page.hpp"
#include "task_queue.hpp"

namespace digitnet {

namespace {

// One line of JSON: {"error": "..."}.
void answer_error(httplib::Response& res, int status, const std::string& message) {
  res.status = status;
  res.set_content(nlohmann::json{{"error", message}}.dump() + "\n", "application/json");
}

// The error line of statuses cpp-httplib answers itself.
std::string status_text(int status) {
  switch (status) {
    case 400: return "bad request";
    case 404: return "no such page (the API is POST /api/predict and GET /api/model)";
    case 405: return "method not allowed";
    case 413: return "body over the upload limit";
    case 414: return "request line too long";
    case 416: return "range not satisfiable";
    default: return "HTTP status " + std::to_string(status);
  }
}

void answer_json(httplib::Response& res, const nlohmann::json& j) {
  res.set_content(j.dump() + "\n", "application/json");
}

// A place among the requests in flight, or none when there are max already.
class InFlight {
 public:
  InFlight(std::atomic<int>& count, int max) : count_(count), granted_(count.fetch_add(1) < max) {}
  ~InFlight() { count_.fetch_sub(1); }
  explicit operator bool() const { return granted_; }

 private:
  std::atomic<int>& count_;
  bool granted_;
};

// Bodies are read only when they say how long they are: cpp-httplib 0.11.4 reads
// chunked bodies, and bodies without a length, to the end without limit.
httplib::Server::HandlerResponse refuse_unbounded(const httplib::Request& req, httplib::Response& res) {
  if (req.method == "GET" || req.method == "HEAD") return httplib::Server::HandlerResponse::Unhandled;
  if (req.has_header("Transfer-Encoding") || !req.has_header("Content-Length")) {
    answer_error(res, 411, "send the body with a Content-Length (no chunked transfer encoding)");
    return httplib::Server::HandlerResponse::Handled;
  }
  const std::string length = req.get_header_value("Content-Length");
  if (length.empty() || length.size() > 18 || length.find_first_not_of("0123456789") != std::string::npos) {
    answer_error(res, 400, "Content-Length is not a number of bytes");
    return httplib::Server::HandlerResponse::Handled;
  }
  const std::string encoding = req.get_header_value("Content-Encoding");
  if (!encoding.empty() && encoding != "identity") {
    answer_error(res, 415, "Content-Encoding " + encoding + " is not accepted: send the image file's bytes as they are");
    return httplib::Server::HandlerResponse::Handled;
  }
  return httplib::Server::HandlerResponse::Unhandled;
}

// The body, up to max bytes; false when there was more, or it did not arrive whole.
bool read_body(const httplib::ContentReader& read, size_t max, std::string& body, bool& too_big) {
  too_big = false;
  return read([&](const char* data, size_t n) {
    too_big = body.size() + n > max;
    if (!too_big) body.append(data, n);
    return !too_big;
  });
}

void predict(Predictor& predictor, const ServeOptions& opts, std::atomic<int>& in_flight,
             const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& read) {
  if (req.is_multipart_form_data())
    return answer_error(res, 415, "send the image file's bytes as the body (curl --data-binary @FILE), not a form");
  const InFlight place(in_flight, opts.max_in_flight);
  if (!place) {
    res.set_header("Retry-After", "1");
    return answer_error(res, 503, "busy: " + std::to_string(opts.max_in_flight) + " requests in flight, try again");
  }
  std::string body;
  bool too_big = false;
  if (!read_body(read, opts.max_body, body, too_big)) {
    too_big = too_big || res.status == 413;  // cpp-httplib's own check of the Content-Length
    return answer_error(res, too_big ? 413 : 400, too_big ? "body over the upload limit" : "the body did not arrive whole");
  }
  const std::string read_param = req.get_param_value("read");
  const bool read_number = read_param == "1" || read_param == "true";
  try {
    answer_json(res, predictor.predict(body, read_number));
  } catch (const Error& e) {
    answer_error(res, e.kind() == ErrorKind::data ? 400 : 500, e.what());
  }
}

void add_routes(httplib::Server& svr, Predictor& predictor, const ServeOptions& opts, std::atomic<int>& in_flight) {
  for (const PageFile& file : page_files())
    svr.Get(file.url, [&file](const httplib::Request&, httplib::Response& res) {
      res.set_content(file.body, file.content_type.c_str());
    });
  svr.Get("/api/model", [&](const httplib::Request&, httplib::Response& res) { answer_json(res, predictor.model_json()); });
  svr.Post("/api/predict", [&](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& read) {
    predict(predictor, opts, in_flight, req, res, read);
  });
}

// Connections served at once: room beyond --max-in-flight to answer 503 and to serve the page.
size_t connection_threads(const ServeOptions& opts) { return size_t(opts.max_in_flight) + 4; }

void set_limits(httplib::Server& svr, const ServeOptions& opts) {
  svr.set_payload_max_length(opts.max_body);
  // One request per connection: a refused request's unread body is never taken for the next request.
  svr.set_keep_alive_max_count(1);
  svr.set_read_timeout(5);
  svr.set_write_timeout(5);
  const size_t threads = connection_threads(opts);
  svr.new_task_queue = [threads] { return new BoundedTaskQueue(threads, 4 * threads); };
  svr.set_pre_routing_handler(refuse_unbounded);
  svr.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    answer_error(res, res.status, status_text(res.status));
    return httplib::Server::HandlerResponse::Handled;
  }));
  svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    answer_error(res, 500, "internal error");
  });
}

// A fresh directory only this user can enter, removed with what is in it.
struct PrivateDir {
  std::string path;
  PrivateDir() {
    char tmpl[] = "/tmp/digitnet-serve.XXXXXX";
    if (!mkdtemp(tmpl)) fail(ErrorKind::runtime, std::string("cannot make a directory in /tmp: ") + std::strerror(errno));
    path = tmpl;
  }
  ~PrivateDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

void print_banner(const ServeOptions& opts, const Predictor& predictor, int port) {
  const nlohmann::json& m = predictor.model_json();
  std::string accuracy = "no test accuracy recorded";
  if (!m["test_accuracy"].is_null()) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "test accuracy %.2f%%", 100 * m["test_accuracy"].get<double>());
    accuracy = buf;
  }
  std::printf("digitnet-serve: model %s from %s (step %llu, %s)\n", m["model"].get<std::string>().c_str(),
              predictor.checkpoint().c_str(), (unsigned long long)m["step"].get<uint64_t>(), accuracy.c_str());
  const bool v6 = opts.host.find(':') != std::string::npos;
  std::printf("digitnet-serve: listening on http://%s%s%s:%d/\n", v6 ? "[" : "", opts.host.c_str(), v6 ? "]" : "", port);
  std::fflush(stdout);
}

}  // namespace

int serve_run(const ServeOptions& opts) {
  // SIGINT and SIGTERM stop the server from one thread of ours. They are blocked
  // first, so that every thread started later (OpenMP's, cpp-httplib's) inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // glibc gives each request thread a malloc arena of its own, and each keeps the
  // peak of what a large image took in it; two arenas bound that (measured: RSS
  // rose from 55 to 124 MiB over 3 rounds of the hostile test, and stays at 46 with two).
  mallopt(M_ARENA_MAX, 2);
  Predictor predictor(opts.checkpoint, opts.preprocess, opts.threshold, opts.threads);

  httplib::Server svr;
  std::atomic<int> in_flight{0};
  set_limits(svr, opts);
  add_routes(svr, predictor, opts, in_flight);
  // cpp-httplib listens on a Unix socket in a directory of our own (mode 0700, so
  // only the gate and this user reach it); the gate, on the public address, in front of it.
  const PrivateDir private_dir;
  const std::string backend_socket = private_dir.path + "/http.sock";
  svr.set_address_family(AF_UNIX);
  if (!svr.bind_to_port(backend_socket, 80)) fail(ErrorKind::runtime, "cannot listen on " + backend_socket);
  Gate gate(opts.host, opts.port, backend_socket, opts.max_body, connection_threads(opts));
  print_banner(opts, predictor, gate.port());

  std::atomic<bool> stopping{false};
  std::thread http([&] {
    if (!svr.listen_after_bind() && !stopping) std::fprintf(stderr, "digitnet-serve: the internal HTTP socket failed\n");
    gate.stop();
  });
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    stopping = true;
    gate.stop();
  });
  gate.run();
  svr.stop();
  http.join();
  if (!stopping) pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  std::printf("digitnet-serve: stopped\n");
  return 0;
}

}  // namespace digitnet
