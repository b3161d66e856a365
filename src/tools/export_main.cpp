// digitnet-export: writes a checkpoint's model as an ONNX file. No MPI needed.
#include <cstdio>

#include "digitnet/core/error.hpp"
#include "digitnet/export/export.hpp"

int main(int argc, char** argv) {
  using namespace digitnet;
  ExportOptions opts;
  try {
    opts = export_options_parse(argc, argv);
    if (opts.help) {
      std::printf("%s", opts.help_text.c_str());
      return 0;
    }
    export_run(opts);
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", error_line("digitnet-export", e, opts.verbose).c_str());
    return e.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "digitnet-export: internal error: %s\n", e.what());
    return int(ErrorKind::runtime);
  }
}
