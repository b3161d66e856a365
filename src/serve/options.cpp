#include <boost/program_options.hpp>

#include "digitnet/core/error.hpp"
#include "digitnet/image/preprocess.hpp"
#include "digitnet/core/command_line.hpp"
#include "digitnet/serve/serve.hpp"

namespace po = boost::program_options;

namespace digitnet {

namespace {

void check(const ServeOptions& o) {
  if (o.checkpoint.empty()) fail(ErrorKind::usage, "no checkpoint given (a ckpt-*.pb file or a directory of them)");
  if (o.port < 0 || o.port > 65535) fail(ErrorKind::usage, "--port must be between 0 and 65535");
  if (o.threads < 1 || o.threads > 64) fail(ErrorKind::usage, "--threads must be between 1 and 64");
  if (o.max_in_flight < o.threads || o.max_in_flight > 1024)
    fail(ErrorKind::usage, "--max-in-flight must be at least --threads and at most 1024");
  if (!(o.threshold >= 0 && o.threshold <= 1)) fail(ErrorKind::usage, "--threshold must be between 0 and 1");
  preprocess_mode_parse(o.preprocess);
}

}  // namespace

ServeOptions serve_options_parse(int argc, const char* const* argv) {
  ServeOptions o;
  po::options_description visible(
      "Usage: digitnet-serve CHECKPOINT_OR_DIR [--host 127.0.0.1] [--port 8080] [options]\n"
      "Serves a page to draw digits on (GET /) and a JSON API (POST /api/predict, GET /api/model).\n"
      "A directory of checkpoints means its newest one");
  visible.add_options()
      ("host", po::value(&o.host)->default_value(o.host), "address to listen on (only this machine by default)")
      ("port", po::value(&o.port)->default_value(o.port), "TCP port (0: any free port, printed on stdout)")
      ("threads", po::value(&o.threads)->default_value(o.threads), "images decoded and read at once")
      ("max-in-flight", po::value(&o.max_in_flight)->default_value(o.max_in_flight), "/api/predict requests being received or waiting for a thread; more are answered 503")
      ("threshold", po::value(&o.threshold)->default_value(o.threshold, "0.8"), "a prediction whose probability is below this is marked uncertain")
      ("preprocess", po::value(&o.preprocess)->default_value(o.preprocess), "auto, full or none, as digitnet-score --preprocess")
      ("verbose", po::bool_switch(&o.verbose), "errors also say where they come from (source file:line)")
      ("help,h", "show this help");
  if (!command_line_parse(argc, argv, visible, po::value(&o.checkpoint), 1, &o.help_text)) {
    o.help = true;
    o.help_text += "Uploads over " + std::to_string(o.max_body >> 20) + " MiB are refused (413).\n";
    return o;
  }
  check(o);
  return o;
}

}  // namespace digitnet
