// digitnet-serve: one model behind a small HTTP server on this machine. GET / is
// a page to draw digits on; POST /api/predict reads the digit (or, with ?read=1,
// the number) in an uploaded image; GET /api/model describes the model.
#pragma once
#include <cstddef>
#include <string>

namespace digitnet {

struct ServeOptions {
  std::string checkpoint;  // a ckpt-*.pb file, or a directory (its newest checkpoint)
  std::string host = "127.0.0.1";
  int port = 8080;              // 0: any free port (the line on stdout says which)
  int threads = 2;              // images decoded and read at once
  int max_in_flight = 16;       // /api/predict requests being read or waiting; more get 503
  size_t max_body = 8u << 20;   // bytes of an upload; more get 413
  double threshold = 0.8;       // top probability below this marks a prediction "uncertain"
  std::string preprocess = "auto";
  bool verbose = false;
  bool help = false;
  std::string help_text;
};

ServeOptions serve_options_parse(int argc, const char* const* argv);

// Serves until SIGINT or SIGTERM; returns the exit status.
int serve_run(const ServeOptions& opts);

}  // namespace digitnet
