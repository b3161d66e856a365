// digitnet-serve: a page to draw digits on, and a JSON API, for one model. No MPI.
#include <cstdio>

#include "digitnet/core/error.hpp"
#include "digitnet/serve/serve.hpp"

int main(int argc, char** argv) {
  using namespace digitnet;
  ServeOptions opts;
  try {
    opts = serve_options_parse(argc, argv);
    if (opts.help) {
      std::printf("%s", opts.help_text.c_str());
      return 0;
    }
    return serve_run(opts);
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", error_line("digitnet-serve", e, opts.verbose).c_str());
    return e.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "digitnet-serve: internal error: %s\n", e.what());
    return int(ErrorKind::runtime);
  }
}
