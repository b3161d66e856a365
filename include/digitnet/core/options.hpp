// Helpers shared by the programs' option parsers.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace digitnet {

// "512,512" -> {512, 512}; "" or "none" -> {}. Throws Error(usage) naming the option.
std::vector<uint32_t> parse_widths(const std::string& option, const std::string& text);

}  // namespace digitnet
