// Command line and config file of digitnet-train (Boost.Program_options).
#include <boost/program_options.hpp>

#include <cmath>
#include <fstream>
#include <sstream>

#include "digitnet/core/error.hpp"
#include "digitnet/core/options.hpp"
#include "digitnet/train/train.hpp"

namespace po = boost::program_options;

namespace digitnet {

namespace {

// Presets: INI files under scripts/presets/, compiled in (presets.inc is
// generated from them by CMake) so that --preset works wherever the binary is.
struct Preset {
  const char* name;
  const char* ini;
};
const Preset kPresets[] = {
#include "presets.inc"
};

const Preset* preset_find(const std::string& name) {
  for (const Preset& p : kPresets)
    if (name == p.name) return &p;
  return nullptr;
}

std::string preset_names() {
  std::string names;
  for (const Preset& p : kPresets) names += (names.empty() ? "" : ", ") + std::string(p.name);
  return names;
}

// "0.2" -> {0.2} (every hidden layer), "0.2,0.5" -> one rate per hidden layer.
std::vector<float> parse_rates(const std::string& option, const std::string& text) {
  std::vector<float> rates;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    double r = -1;
    try {
      r = std::stod(item, &used);
    } catch (...) {
    }
    if (used != item.size() || !(r >= 0 && r < 1))
      fail(ErrorKind::usage, "--" + option + " " + text + ": expected rates in [0, 1) like 0.2 or 0.2,0.3");
    rates.push_back(float(r));
  }
  return rates;
}

}  // namespace

TrainOptions train_options_parse(int argc, const char* const* argv) {
  TrainOptions o;
  Recipe& r = o.recipe;
  std::string hidden = "512,512", config, schedule = "cosine", dropout = "0", preset;
  int64_t eval_every = 1, early_stop = 0, lr_ref_batch = 0, train_limit = 0;
  // Counts are parsed signed: Boost would wrap "-1" into a huge unsigned value.
  int64_t seed = int64_t(o.seed), epochs = int64_t(o.epochs), batch = int64_t(o.batch_size), max_steps = 0, keep = 0;

  po::options_description data("Data and model");
  data.add_options()
      ("data", po::value(&o.data_dir), "directory with the IDX files (train-*/t10k-*, raw or .gz)")
      ("hidden", po::value(&hidden)->default_value(hidden), "hidden ReLU layer widths, comma-separated")
      ("seed", po::value(&seed)->default_value(seed), "seed of initialisation and shuffling")
      ("train-limit", po::value(&train_limit)->default_value(0), "train on the first N training samples only (0 = all): quick experiments");
  po::options_description training("Training");
  training.add_options()
      ("epochs", po::value(&epochs)->default_value(epochs), "passes over the training set")
      ("batch-size", po::value(&batch)->default_value(batch), "global batch, sharded across ranks")
      ("lr", po::value(&o.adam.lr)->default_value(o.adam.lr, "0.001"), "Adam learning rate (the schedule's starting value)")
      ("lr-schedule", po::value(&schedule)->default_value(schedule), "cosine (decays to 0 at the last planned step), step (times --lr-gamma every --lr-step-epochs) or constant")
      ("warmup-epochs", po::value(&r.warmup_epochs)->default_value(0, "0"), "ramp the learning rate up linearly over this many epochs (may be fractional)")
      ("lr-step-epochs", po::value(&r.lr_step_epochs)->default_value(0, "0"), "step schedule: epochs between decays")
      ("lr-gamma", po::value(&r.lr_gamma)->default_value(0.1, "0.1"), "step schedule: decay factor")
      ("lr-ref-batch", po::value(&lr_ref_batch)->default_value(0), "linear scaling rule (Goyal et al. 2017): peak rate = --lr x batch / this (0 = off)")
      ("weight-decay", po::value(&o.adam.weight_decay)->default_value(0, "0"), "decoupled weight decay (AdamW) on weights, not biases")
      ("clip-grad-norm", po::value(&r.clip_grad_norm)->default_value(0, "0"), "clip the global gradient norm to this (0 = off)")
      ("beta1", po::value(&o.adam.beta1)->default_value(o.adam.beta1, "0.9"), "Adam first-moment decay")
      ("beta2", po::value(&o.adam.beta2)->default_value(o.adam.beta2, "0.999"), "Adam second-moment decay")
      ("eps", po::value(&o.adam.eps)->default_value(o.adam.eps, "1e-08"), "Adam epsilon")
      ("max-steps", po::value(&max_steps)->default_value(0), "stop after this many optimizer steps in total, checkpointing there (0 = no limit)");
  po::options_description regular("Regularisation and augmentation (training images distorted on the fly)");
  regular.add_options()
      ("dropout", po::value(&dropout)->default_value(dropout), "dropout rate of the hidden layers: one rate, or one per hidden layer")
      ("label-smoothing", po::value(&r.reg.label_smoothing)->default_value(0, "0"), "label smoothing of the cross-entropy target")
      ("rotate", po::value(&r.augment.rotate_deg)->default_value(0, "0"), "random rotation up to this many degrees")
      ("scale", po::value(&r.augment.scale)->default_value(0, "0"), "random scaling by up to this fraction")
      ("shear", po::value(&r.augment.shear)->default_value(0, "0"), "random shear up to this factor")
      ("translate", po::value(&r.augment.translate)->default_value(0, "0"), "random shift up to this many pixels")
      ("elastic-alpha", po::value(&r.augment.elastic_alpha)->default_value(0, "0"), "elastic distortion strength in pixels (Simard et al. 2003; 0 = off)")
      ("elastic-sigma", po::value(&r.augment.elastic_sigma)->default_value(r.augment.elastic_sigma, "4"), "smoothness of the elastic distortion field in pixels");
  po::options_description evaluation("Evaluation");
  evaluation.add_options()
      ("eval-every", po::value(&eval_every)->default_value(eval_every), "score the test set every N epochs (and at the end); best.pb keeps the best")
      ("early-stop", po::value(&early_stop)->default_value(early_stop), "stop after N evaluations without a better test accuracy (0 = never)");
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
      ("preset", po::value(&preset), "start from a named recipe (the command line and --config win)")
      ("help,h", "show this help");

  po::options_description all("Usage: [mpirun -np W] digitnet-train --data DIR [options]");
  all.add(data).add(training).add(regular).add(evaluation).add(output).add(parallel).add(general);
  po::options_description file_options;  // what --config files and presets may set
  file_options.add(data).add(training).add(regular).add(evaluation).add(output).add(parallel);

  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).run(), vm);
    if (vm.count("config")) {
      const std::string path = vm["config"].as<std::string>();
      std::ifstream in(path);
      if (!in) fail(ErrorKind::usage, "--config " + path + ": cannot open");
      // store() keeps values already set: the command line overrides the file.
      po::store(po::parse_config_file(in, file_options), vm);
    }
    if (vm.count("preset")) {  // last: the command line and --config override it
      const std::string name = vm["preset"].as<std::string>();
      const Preset* p = preset_find(name);
      if (!p) fail(ErrorKind::usage, "--preset " + name + ": unknown (available: " + preset_names() + ")");
      std::istringstream in(p->ini);
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
  r.lr_schedule = lr_schedule_parse(schedule);
  r.reg.dropout = parse_rates("dropout", dropout);
  if (r.reg.dropout.size() == 1) r.reg.dropout.assign(o.hidden.size(), r.reg.dropout[0]);
  if (r.reg.dropout.size() != o.hidden.size())
    fail(ErrorKind::usage, "--dropout " + dropout + ": give one rate or one per hidden layer (" +
                               std::to_string(o.hidden.size()) + ")");
  r.preset = preset;
  if (eval_every <= 0) fail(ErrorKind::usage, "--eval-every must be positive");
  if (train_limit < 0) fail(ErrorKind::usage, "--train-limit must not be negative");
  o.train_limit = uint64_t(train_limit);
  if (early_stop < 0) fail(ErrorKind::usage, "--early-stop must not be negative");
  if (lr_ref_batch < 0) fail(ErrorKind::usage, "--lr-ref-batch must not be negative");
  r.eval_every = uint64_t(eval_every);
  r.early_stop = uint64_t(early_stop);
  r.lr_ref_batch = uint64_t(lr_ref_batch);
  auto non_negative = [](const char* name, double v) {
    if (!(v >= 0) || !std::isfinite(v)) fail(ErrorKind::usage, std::string("--") + name + " must be a number >= 0");
  };
  non_negative("warmup-epochs", r.warmup_epochs);
  non_negative("lr-step-epochs", r.lr_step_epochs);
  non_negative("weight-decay", o.adam.weight_decay);
  non_negative("clip-grad-norm", r.clip_grad_norm);
  non_negative("rotate", r.augment.rotate_deg);
  non_negative("translate", r.augment.translate);
  non_negative("elastic-alpha", r.augment.elastic_alpha);
  if (!(r.lr_gamma > 0 && r.lr_gamma <= 1)) fail(ErrorKind::usage, "--lr-gamma must be in (0, 1]");
  if (!(r.reg.label_smoothing >= 0 && r.reg.label_smoothing < 1))
    fail(ErrorKind::usage, "--label-smoothing must be in [0, 1)");
  if (!(r.augment.scale >= 0 && r.augment.scale < 1)) fail(ErrorKind::usage, "--scale must be in [0, 1)");
  if (!(r.augment.shear >= 0 && r.augment.shear < 1)) fail(ErrorKind::usage, "--shear must be in [0, 1)");
  if (!(r.augment.elastic_sigma > 0) || !std::isfinite(r.augment.elastic_sigma))
    fail(ErrorKind::usage, "--elastic-sigma must be positive");
  r.augment.validate();
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

void recipe_override(const TrainOptions& o, Recipe& r, AdamConfig& adam) {
  const Recipe& n = o.recipe;
  auto given = [&](const char* name) { return o.given.count(name) != 0; };
  if (given("lr")) adam.lr = o.adam.lr;
  if (given("beta1")) adam.beta1 = o.adam.beta1;
  if (given("beta2")) adam.beta2 = o.adam.beta2;
  if (given("eps")) adam.eps = o.adam.eps;
  if (given("weight-decay")) adam.weight_decay = o.adam.weight_decay;
  if (given("lr-schedule")) r.lr_schedule = n.lr_schedule;
  if (given("warmup-epochs")) r.warmup_epochs = n.warmup_epochs;
  if (given("lr-step-epochs")) r.lr_step_epochs = n.lr_step_epochs;
  if (given("lr-gamma")) r.lr_gamma = n.lr_gamma;
  if (given("lr-ref-batch")) r.lr_ref_batch = n.lr_ref_batch;
  if (given("clip-grad-norm")) r.clip_grad_norm = n.clip_grad_norm;
  if (given("dropout")) r.reg.dropout = n.reg.dropout;
  if (given("label-smoothing")) r.reg.label_smoothing = n.reg.label_smoothing;
  if (given("rotate")) r.augment.rotate_deg = n.augment.rotate_deg;
  if (given("scale")) r.augment.scale = n.augment.scale;
  if (given("shear")) r.augment.shear = n.augment.shear;
  if (given("translate")) r.augment.translate = n.augment.translate;
  if (given("elastic-alpha")) r.augment.elastic_alpha = n.augment.elastic_alpha;
  if (given("elastic-sigma")) r.augment.elastic_sigma = n.augment.elastic_sigma;
  if (given("eval-every")) r.eval_every = n.eval_every;
  if (given("early-stop")) r.early_stop = n.early_stop;
}

}  // namespace digitnet
