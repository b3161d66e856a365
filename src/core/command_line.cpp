#include "digitnet/core/command_line.hpp"

#include <sstream>

#include "digitnet/core/error.hpp"

namespace po = boost::program_options;

namespace digitnet {

bool command_line_parse(int argc, const char* const* argv, const po::options_description& visible,
                        po::value_semantic* checkpoint, int max_checkpoints, std::string* help_text) {
  po::options_description hidden;
  hidden.add_options()("checkpoint", checkpoint, "checkpoint files or directories");
  po::positional_options_description positional;
  positional.add("checkpoint", max_checkpoints);
  po::options_description all;
  all.add(visible).add(hidden);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    if (vm.count("help")) {
      std::ostringstream ss;
      ss << visible;
      *help_text = ss.str();
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    fail(ErrorKind::usage, e.what());
  }
  return true;
}

}  // namespace digitnet
