// digitnet-export: writes a checkpoint's model as an ONNX file (onnx_model.hpp). No MPI.
#pragma once
#include <string>

namespace digitnet {

struct ExportOptions {
  std::string checkpoint;  // a file, or a directory: its newest ckpt-*.pb
  std::string onnx;        // output path, replaced atomically
  bool verbose = false;    // errors also say where they come from (source file:line)
  bool help = false;
  std::string help_text;
};

ExportOptions export_options_parse(int argc, const char* const* argv);

// Reads the checkpoint, writes the ONNX file atomically and prints one line saying what it wrote.
void export_run(const ExportOptions& opts);

}  // namespace digitnet
