// Command line and config file of digitnet-train (Boost.Program_options).
#include <boost/program_options.hpp>

#include <cmath>
#include <fstream>
#include <sstream>

#include "digitnet/error.hpp"
#include "digitnet/options.hpp"
#include "digitnet/train.hpp"

namespace po = boost::program_options;

namespace digitnet {

std::vector<uint32_t> parse_widths(const std::string& option, const std::string& text) {
  std::vector<uint32_t> widths;
  if (text.empty() || text == "none") return widths;  // no hidden layer: softmax regression
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    long long w = -1;
    try {
      w = std::stoll(item, &used);
    } catch (...) {
    }
    if (used != item.size() || w <= 0 || w > (1 << 20))
      fail(ErrorKind::usage, "--" + option + " " + text + ": expected positive layer widths like 512,512");
    widths.push_back(uint32_t(w));
  }
  return widths;
}

TrainOptions train_options_parse(int argc, const char* const* argv) {
  TrainOptions o;
  std::string hidden = "512,512", config, schedule = "cosine";
  // Counts are parsed signed: Boost would wrap "-1" into a huge unsigned value.
  int64_t seed = int64_t(o.seed), epochs = int64_t(o.epochs), batch = int64_t(o.batch_size), max_steps = 0, keep = 0;

  po::options_description data("Data and model");
  data.add_options()
      ("data", po::value(&o.data_dir), "directory with the IDX files (train-*/t10k-*, raw or .gz)")
      ("hidden", po::value(&hidden)->default_value(hidden), "hidden ReLU layer widths, comma-separated")
      ("seed", po::value(&seed)->default_value(seed), "seed of initialisation and shuffling");
  po::options_description training("Training");
  training.add_options()
      ("epochs", po::value(&epochs)->default_value(epochs), "passes over the training set")
      ("batch-size", po::value(&batch)->default_value(batch), "global batch, sharded across ranks")
      ("lr", po::value(&o.adam.lr)->default_value(o.adam.lr, "0.001"), "Adam learning rate (the schedule's starting value)")
      ("lr-schedule", po::value(&schedule)->default_value(schedule), "cosine (decays to 0 at the last planned step) or constant")
      ("beta1", po::value(&o.adam.beta1)->default_value(o.adam.beta1, "0.9"), "Adam first-moment decay")
      ("beta2", po::value(&o.adam.beta2)->default_value(o.adam.beta2, "0.999"), "Adam second-moment decay")
      ("eps", po::value(&o.adam.eps)->default_value(o.adam.eps, "1e-08"), "Adam epsilon")
      ("max-steps", po::value(&max_steps)->default_value(0), "stop after this many optimizer steps in total, checkpointing there (0 = no limit)");
  po::options_description output("Checkpoints and output");
  output.add_options()
      ("checkpoint-dir", po::value(&o.checkpoint_dir), "rank 0 writes ckpt-<step>.pb here after every epoch and at the end")
      ("resume", po::value(&o.resume), "continue from a checkpoint: a file, a directory (its newest), 'latest' (newest valid one in --checkpoint-dir), or 'auto' (latest if there is one, else start fresh: for requeued jobs)")
      ("keep", po::value(&keep)->default_value(0), "keep only the newest K checkpoints (0 = keep all)")
      ("metrics", po::value(&o.metrics_path), "append a CSV row per epoch to this file")
      ("quiet", po::bool_switch(&o.quiet), "print only errors and the final summary");
  po::options_description parallel("Parallelism");
  parallel.add_options()
      ("threads", po::value(&o.threads)->default_value(0), "threads per rank (0 = cores of the node / ranks on it)")
      ("check-replicas", po::bool_switch(&o.check_replicas), "verify after every step that all ranks hold bitwise equal parameters (debug)")
      ("collective-timeout", po::value(&o.collective_timeout)->default_value(o.collective_timeout, "300"), "seconds a rank may wait for the others in one collective before it ends the job (a dead or stuck rank); 0 = wait forever");
  po::options_description general("General");
  general.add_options()
      ("config", po::value(&config), "read options from this INI file (name = value); the command line wins")
      ("help,h", "show this help");

  po::options_description all("Usage: [mpirun -np W] digitnet-train --data DIR [options]");
  all.add(data).add(training).add(output).add(parallel).add(general);

  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).run(), vm);
    if (vm.count("config")) {
      const std::string path = vm["config"].as<std::string>();
      std::ifstream in(path);
      if (!in) fail(ErrorKind::usage, "--config " + path + ": cannot open");
      po::options_description file_options;
      file_options.add(data).add(training).add(output).add(parallel);
      // store() keeps values already set: the command line overrides the file.
      po::store(po::parse_config_file(in, file_options), vm);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    fail(ErrorKind::usage, e.what());
  }

  if (vm.count("help")) {
    std::ostringstream ss;
    ss << all;
    o.help = true;
    o.help_text = ss.str();
    return o;
  }
  for (const auto& kv : vm)
    if (!kv.second.defaulted()) o.given.insert(kv.first);

  o.hidden = parse_widths("hidden", hidden);
  o.lr_schedule = lr_schedule_parse(schedule);
  if (o.data_dir.empty()) fail(ErrorKind::usage, "--data DIR is required (run scripts/fetch-mnist.sh DIR to get MNIST)");
  if (epochs <= 0) fail(ErrorKind::usage, "--epochs must be positive");
  if (batch <= 0) fail(ErrorKind::usage, "--batch-size must be positive");
  if (seed < 0) fail(ErrorKind::usage, "--seed must not be negative");
  if (max_steps < 0) fail(ErrorKind::usage, "--max-steps must not be negative");
  if (keep < 0) fail(ErrorKind::usage, "--keep must not be negative");
  o.seed = uint64_t(seed);
  o.epochs = uint64_t(epochs);
  o.batch_size = uint64_t(batch);
  o.max_steps = uint64_t(max_steps);
  o.keep = uint64_t(keep);
  if (!(o.adam.lr > 0) || !std::isfinite(o.adam.lr)) fail(ErrorKind::usage, "--lr must be a positive number");
  if (!(o.adam.beta1 >= 0 && o.adam.beta1 < 1)) fail(ErrorKind::usage, "--beta1 must be in [0, 1)");
  if (!(o.adam.beta2 >= 0 && o.adam.beta2 < 1)) fail(ErrorKind::usage, "--beta2 must be in [0, 1)");
  if (!(o.adam.eps > 0) || !std::isfinite(o.adam.eps)) fail(ErrorKind::usage, "--eps must be a positive number");
  if (o.threads < 0) fail(ErrorKind::usage, "--threads must be 0 (automatic) or positive");
  if ((o.resume == "latest" || o.resume == "auto") && o.checkpoint_dir.empty())
    fail(ErrorKind::usage, "--resume " + o.resume + " needs --checkpoint-dir");
  if (!(o.collective_timeout >= 0) || !std::isfinite(o.collective_timeout))
    fail(ErrorKind::usage, "--collective-timeout must be 0 (no limit) or a positive number of seconds");
  return o;
}

}  // namespace digitnet
