// The command line of a program with positional arguments (digitnet-score, digitnet-export):
// one parse, Boost's errors turned into Error(usage), --help as text.
#pragma once
#include <boost/program_options.hpp>

#include <string>

namespace digitnet {

// Parses argv into the values the options are bound to. `visible` holds what --help
// prints (and must define "help"), `hidden` the names the positional arguments fill.
// Returns false when --help was given, with *help_text holding the visible options.
bool command_line_parse(int argc, const char* const* argv, const boost::program_options::options_description& visible,
                        const boost::program_options::options_description& hidden,
                        const boost::program_options::positional_options_description& positional, std::string* help_text);

}  // namespace digitnet
