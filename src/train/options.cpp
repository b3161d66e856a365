// Command line and config file of digitnet-train (Boost.Program_options).
#include "digitnet/train/options.hpp"

#include <boost/program_options.hpp>

#include <cmath>
#include <fstream>
#include <sstream>

#include "digitnet/core/error.hpp"
#include "digitnet/core/options.hpp"

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

std::string number_text(double v) {
  std::ostringstream ss;
  ss << v;
  return ss.str();
}

// Values as typed, before they are checked and converted. Counts are parsed
// signed: Boost would wrap "-1" into a huge unsigned value.
struct RawOptions {
  std::string hidden = "512,512", config, schedule = "cosine", dropout = "0", preset, grad_wire = "f32", progress = "poll",
      precision = "f32";
  int64_t seed = 1, epochs = 10, batch = 128, max_steps = 0, keep = 0, train_limit = 0, every_steps = 0;
  std::vector<int64_t> counts;  // the recipe's integer settings, by row of recipe_settings()
};

// The recipe table's rows of one --help group, bound to o.recipe (integers to raw.counts).
void add_recipe_options(po::options_description& group, RecipeGroup which, TrainOptions& o, RawOptions& raw) {
  const auto& rows = recipe_settings();
  raw.counts.resize(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const RecipeSetting& s = rows[i];
    if (s.group != which) continue;
    const std::string shown = number_text(recipe_get(s, o.recipe));
    po::value_semantic* value = std::visit(
        [&](auto ref) -> po::value_semantic* {
          using T = std::decay_t<decltype(ref(o.recipe))>;
          if constexpr (std::is_same_v<T, uint64_t>) {
            raw.counts[i] = int64_t(ref(o.recipe));
            return po::value(&raw.counts[i])->default_value(raw.counts[i], shown);
          } else {
            return po::value(&ref(o.recipe))->default_value(ref(o.recipe), shown);
          }
        },
        s.ref);
    group.add_options()(s.option, value, s.help);
  }
}

// The declarative part: every option, its group and its help line.
void describe_options(TrainOptions& o, RawOptions& raw, po::options_description& all,
                      po::options_description& file_options) {
  po::options_description data("Data and model");
  data.add_options()
      ("data", po::value(&o.data_dir), "directory with the IDX files (train-*/t10k-*, raw or .gz)")
      ("hidden", po::value(&raw.hidden)->default_value(raw.hidden), "hidden ReLU layer widths, comma-separated")
      ("seed", po::value(&raw.seed)->default_value(raw.seed), "seed of initialisation and shuffling")
      ("train-limit", po::value(&raw.train_limit)->default_value(0), "train on the first N training samples only (0 = all): quick experiments");
  po::options_description training("Training");
  training.add_options()
      ("epochs", po::value(&raw.epochs)->default_value(raw.epochs), "passes over the training set")
      ("batch-size", po::value(&raw.batch)->default_value(raw.batch), "global batch, sharded across ranks")
      ("lr-schedule", po::value(&raw.schedule)->default_value(raw.schedule), "cosine (decays to 0 at the last planned step), step (times --lr-gamma every --lr-step-epochs) or constant")
      ("max-steps", po::value(&raw.max_steps)->default_value(0), "stop after this many optimizer steps in total, checkpointing there (0 = no limit)")
      ("precision", po::value(&raw.precision)->default_value(raw.precision), "f32 or bf16: the data type of the training GEMMs' inputs (bf16: oneDNN's bf16 matmul; outputs, master weights, Adam and checkpoints stay f32)");
  add_recipe_options(training, RecipeGroup::training, o, raw);
  po::options_description regular("Regularisation and augmentation (training images distorted on the fly)");
  regular.add_options()
      ("dropout", po::value(&raw.dropout)->default_value(raw.dropout), "dropout rate of the hidden layers: one rate, or one per hidden layer");
  add_recipe_options(regular, RecipeGroup::regularisation, o, raw);
  po::options_description evaluation("Evaluation");
  add_recipe_options(evaluation, RecipeGroup::evaluation, o, raw);
  po::options_description output("Checkpoints and output");
  output.add_options()
      ("checkpoint-dir", po::value(&o.checkpoint_dir), "rank 0 writes ckpt-<step>.pb here after every epoch and at the end")
      ("resume", po::value(&o.resume), "continue from a checkpoint: a file, a directory (its newest), 'latest' (newest valid one in --checkpoint-dir), or 'auto' (latest if there is one, else start fresh: for requeued jobs)")
      ("checkpoint-every-steps", po::value(&raw.every_steps)->default_value(0), "also write a checkpoint every N steps inside epochs (0 = only at epoch ends and stops)")
      ("checkpoint-every-seconds", po::value(&o.checkpoint_every_seconds)->default_value(0, "0"), "also write a checkpoint when S seconds have passed since the last one (0 = off)")
      ("keep", po::value(&raw.keep)->default_value(0), "keep only the newest K checkpoints (0 = keep all)")
      ("metrics", po::value(&o.metrics_path), "append a CSV row per epoch to this file")
      ("timeline", po::value(&o.timeline_path), "write a Chrome trace (chrome://tracing, ui.perfetto.dev) of every step to this JSON file: a track per rank")
      ("quiet", po::bool_switch(&o.quiet), "print only errors and the final summary")
      ("verbose", po::bool_switch(&o.verbose), "errors also say where they come from (source file:line, rank)");
  po::options_description parallel("Parallelism");
  parallel.add_options()
      ("threads", po::value(&o.threads)->default_value(0), "threads per rank (0 = cores of the node / ranks on it)")
      ("check-replicas", po::bool_switch(&o.check_replicas), "verify after every step that all ranks hold bitwise equal parameters (debug)")
      ("collective-timeout", po::value(&o.collective_timeout)->default_value(o.collective_timeout, "300"), "seconds a rank may wait for the others in one collective before it ends the job (a dead or stuck rank); 0 = wait forever")
      ("bucket-mb", po::value(&o.bucket_mb)->default_value(o.bucket_mb, "1"), "gradient buckets of at least this many MB, last layer first: each bucket's exchange starts as soon as backward has produced it (0 = one bucket, exchanged after backward)")
      ("progress", po::value(&raw.progress)->default_value(raw.progress), "who moves the bucket reductions along during backward: poll (the main thread, with MPI_Test after each layer) or thread (a thread of each rank)")
      ("grad-wire", po::value(&raw.grad_wire)->default_value(raw.grad_wire), "f32, or bf16: gradients and updates cross the network as bf16 (half the bytes, summed in f32) for slow links");
  po::options_description general("General");
  general.add_options()
      ("config", po::value(&raw.config), "read options from this INI file (name = value); the command line wins")
      ("preset", po::value(&raw.preset), "start from a named recipe (the command line and --config win)")
      ("help,h", "show this help");
  all.add(data).add(training).add(regular).add(evaluation).add(output).add(parallel).add(general);
  file_options.add(data).add(training).add(regular).add(evaluation).add(output).add(parallel);
}

// The command line first, then --config, then --preset: store() keeps values
// already set, so the command line wins over the file and both over the preset.
po::variables_map store_all(int argc, const char* const* argv, const po::options_description& all,
                            const po::options_description& file_options) {
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).run(), vm);
    if (vm.count("config")) {
      const std::string path = vm["config"].as<std::string>();
      std::ifstream in(path);
      if (!in) fail(ErrorKind::usage, "--config " + path + ": cannot open");
      po::store(po::parse_config_file(in, file_options), vm);
    }
    if (vm.count("preset")) {
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
  return vm;
}

uint64_t count_at_least(const char* option, int64_t value, int64_t least) {
  if (value < least)
    fail(ErrorKind::usage, std::string("--") + option + (least > 0 ? " must be positive" : " must not be negative"));
  return uint64_t(value);
}

// Checks the values and converts them into o.
void finish_options(const RawOptions& raw, TrainOptions& o) {
  Recipe& r = o.recipe;
  o.hidden = parse_widths("hidden", raw.hidden);
  r.lr_schedule = lr_schedule_parse(raw.schedule);
  r.precision = precision_parse(raw.precision);
  r.reg.dropout = parse_rates("dropout", raw.dropout);
  if (r.reg.dropout.size() == 1) r.reg.dropout.assign(o.hidden.size(), r.reg.dropout[0]);
  if (r.reg.dropout.size() != o.hidden.size())
    fail(ErrorKind::usage, "--dropout " + raw.dropout + ": give one rate or one per hidden layer (" +
                               std::to_string(o.hidden.size()) + ")");
  r.preset = raw.preset;
  const auto& rows = recipe_settings();
  for (size_t i = 0; i < rows.size(); ++i)
    if (auto* ref = std::get_if<uint64_t& (*)(Recipe&)>(&rows[i].ref)) (*ref)(r) = count_at_least(rows[i].option, raw.counts[i], 0);
  recipe_validate(r);
  if (o.data_dir.empty()) fail(ErrorKind::usage, "--data DIR is required (run scripts/fetch-mnist.sh DIR to get MNIST)");
  o.epochs = count_at_least("epochs", raw.epochs, 1);
  o.batch_size = count_at_least("batch-size", raw.batch, 1);
  o.seed = count_at_least("seed", raw.seed, 0);
  o.max_steps = count_at_least("max-steps", raw.max_steps, 0);
  o.keep = count_at_least("keep", raw.keep, 0);
  o.checkpoint_every_steps = count_at_least("checkpoint-every-steps", raw.every_steps, 0);
  if (!(o.checkpoint_every_seconds >= 0) || !std::isfinite(o.checkpoint_every_seconds))
    fail(ErrorKind::usage, "--checkpoint-every-seconds must be 0 (off) or a positive number of seconds");
  o.train_limit = count_at_least("train-limit", raw.train_limit, 0);
  if (o.threads < 0) fail(ErrorKind::usage, "--threads must be 0 (automatic) or positive");
  if ((o.resume == "latest" || o.resume == "auto") && o.checkpoint_dir.empty())
    fail(ErrorKind::usage, "--resume " + o.resume + " needs --checkpoint-dir");
  if (!(o.collective_timeout >= 0) || !std::isfinite(o.collective_timeout))
    fail(ErrorKind::usage, "--collective-timeout must be 0 (no limit) or a positive number of seconds");
  if (!(o.bucket_mb >= 0) || !(o.bucket_mb <= 4096))
    fail(ErrorKind::usage, "--bucket-mb must be in [0, 4096] (0 = one bucket)");
  o.grad_wire = grad_wire_parse(raw.grad_wire);
  o.progress = progress_parse(raw.progress);
}

}  // namespace

TrainOptions train_options_parse(int argc, const char* const* argv) {
  TrainOptions o;
  RawOptions raw;
  po::options_description all("Usage: [mpirun -np W] digitnet-train --data DIR [options]"), file_options;
  describe_options(o, raw, all, file_options);
  const po::variables_map vm = store_all(argc, argv, all, file_options);
  if (vm.count("help")) {
    std::ostringstream ss;
    ss << all;
    o.help = true;
    o.help_text = ss.str();
    return o;
  }
  for (const auto& kv : vm)
    if (!kv.second.defaulted()) o.given.insert(kv.first);
  finish_options(raw, o);
  return o;
}

}  // namespace digitnet
