// The main() of a program without MPI (scorer, server, exporter): parse the
// options, print the help or run, and turn every failure into one line on stderr
// and the exit status of its kind.
#pragma once
#include <cstdio>
#include <exception>

#include "digitnet/core/error.hpp"

namespace digitnet {

// Options: has bool help, std::string help_text and bool verbose.
// parse(argc, argv) -> Options; run(const Options&) -> exit status.
template <class Parse, class Run>
int program_main(const char* program, int argc, char** argv, Parse parse, Run run) {
  decltype(parse(argc, argv)) opts;
  try {
    opts = parse(argc, argv);
    if (opts.help) {
      std::printf("%s", opts.help_text.c_str());
      return 0;
    }
    return run(opts);
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", error_line(program, e, opts.verbose).c_str());
    return e.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: internal error: %s\n", program, e.what());
    return int(ErrorKind::runtime);
  }
}

}  // namespace digitnet
