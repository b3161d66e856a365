// digitnet-export: writes a checkpoint's model as an ONNX file. No MPI needed.
#include "digitnet/core/program.hpp"
#include "digitnet/export/export.hpp"

int main(int argc, char** argv) {
  using namespace digitnet;
  return program_main("digitnet-export", argc, argv, export_options_parse, [](const ExportOptions& opts) {
    export_run(opts);
    return 0;
  });
}
