// The command line of the programs that take checkpoints as their positional
// arguments (digitnet-score, digitnet-serve), on Boost.Program_options.
#pragma once
#include <boost/program_options.hpp>

#include <string>

namespace digitnet {

// Parses `visible` options, and up to `max_checkpoints` positional arguments (-1: any
// number) into the option "checkpoint" that `checkpoint` stores. A bad option throws
// Error(usage). Returns true when --help was asked for, with the help in *help.
bool command_line_parse(int argc, const char* const* argv, const boost::program_options::options_description& visible,
                        boost::program_options::value_semantic* checkpoint, int max_checkpoints, std::string* help);

}  // namespace digitnet
