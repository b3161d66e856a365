// The command line of a program with positional arguments (digitnet-score, digitnet-serve, digitnet-export):
// one parse, Boost's errors turned into Error(usage), --help as text.
#pragma once
#include <boost/program_options.hpp>

#include <string>

namespace digitnet {

// Parses argv into the values the options are bound to. `visible` holds what --help
// prints (and must define "help"); up to `max_checkpoints` positional arguments (-1:
// any number) go to the option "checkpoint", stored by `checkpoint`. Boost's errors
// become Error(usage). Returns false when --help was given, with *help_text holding
// the visible options.
bool command_line_parse(int argc, const char* const* argv, const boost::program_options::options_description& visible,
                        boost::program_options::value_semantic* checkpoint, int max_checkpoints,
                        std::string* help_text);

}  // namespace digitnet
