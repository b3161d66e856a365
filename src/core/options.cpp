#include "digitnet/core/options.hpp"

#include <sstream>

#include "digitnet/core/error.hpp"

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

}  // namespace digitnet
