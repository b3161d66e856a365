#include "page.hpp"

#include <utility>

namespace digitnet {

namespace {

std::string content_type_of(const std::string& name) {
  const std::string ext = name.substr(name.find_last_of('.') + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "svg") return "image/svg+xml";
  return "application/octet-stream";
}

}  // namespace

const std::vector<PageFile>& page_files() {
  // (file name, contents) of every file of src/serve/page, written by src/CMakeLists.txt.
  static const std::pair<const char*, const char*> embedded[] = {
#include "page_files.inc"
  };
  static const std::vector<PageFile> files = [] {
    std::vector<PageFile> out;
    for (const auto& [name, body] : embedded) {
      const std::string file = name;
      out.push_back({file == "index.html" ? "/" : "/" + file, content_type_of(file), body});
    }
    return out;
  }();
  return files;
}

}  // namespace digitnet
