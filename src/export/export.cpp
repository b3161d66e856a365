#include "digitnet/export/export.hpp"

#include <cstdio>
#include <filesystem>

#include "digitnet/core/checkpoint.hpp"
#include "digitnet/core/command_line.hpp"
#include "digitnet/core/error.hpp"
#include "digitnet/core/file_io.hpp"
#include "digitnet/export/onnx_model.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace digitnet {

namespace {

// Refuses an output that cannot be written before the checkpoint is read.
void check_output_path(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) fail(ErrorKind::usage, "--onnx " + path + ": is a directory, expected a file name");
  const fs::path dir = fs::path(path).parent_path();
  if (!dir.empty() && !fs::is_directory(dir, ec))
    fail(ErrorKind::usage, "--onnx " + path + ": " + dir.string() + " is not an existing directory");
}

// A directory means its newest checkpoint.
std::string resolve_checkpoint(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return path;
  const auto found = checkpoint_list(path);
  if (found.empty()) fail(ErrorKind::checkpoint, path + ": directory holds no ckpt-*.pb checkpoint");
  return found.back();
}

}  // namespace

ExportOptions export_options_parse(int argc, const char* const* argv) {
  ExportOptions o;
  po::options_description visible(
      "Usage: digitnet-export CHECKPOINT --onnx OUT.onnx\n"
      "Writes the model of a checkpoint (a file, or a directory: its newest checkpoint) as an ONNX file:\n"
      "input 'pixels' float32 [N, rows*cols] = pixel/255, output 'probabilities' float32 [N, classes]");
  visible.add_options()
      ("onnx", po::value(&o.onnx), "the ONNX file to write (replaced atomically)")
      ("verbose", po::bool_switch(&o.verbose), "errors also say where they come from (source file:line)")
      ("help,h", "show this help");
  o.help = !command_line_parse(argc, argv, visible, po::value(&o.checkpoint), 1, &o.help_text);
  if (o.help) return o;
  if (o.checkpoint.empty()) fail(ErrorKind::usage, "no checkpoint given (a ckpt-*.pb file or a directory of them)");
  if (o.onnx.empty()) fail(ErrorKind::usage, "--onnx OUT.onnx is required");
  return o;
}

void export_run(const ExportOptions& opts) {
  check_output_path(opts.onnx);
  const std::string path = resolve_checkpoint(opts.checkpoint);
  const ModelCheckpoint model = model_checkpoint_load(path);
  const std::string bytes = onnx_model_encode(model);
  file_write_atomic(opts.onnx, bytes.data(), bytes.size());
  std::printf("digitnet-export: %s (model %s, step %llu) -> %s (%zu bytes, ONNX opset %lld)\n", path.c_str(),
              model.spec.shape.str().c_str(), (unsigned long long)model.step, opts.onnx.c_str(), bytes.size(),
              (long long)kOnnxOpset);
}

}  // namespace digitnet
