// digitnet-serve: a page to draw digits on, and a JSON API, for one model. No MPI.
#include "digitnet/core/program.hpp"
#include "digitnet/serve/serve.hpp"

int main(int argc, char** argv) {
  return digitnet::program_main("digitnet-serve", argc, argv, digitnet::serve_options_parse, digitnet::serve_run);
}
