// The drawing page's files (src/serve/page/*), compiled into the program so that
// the page needs nothing but the server. Private to src/serve.
#pragma once
#include <string>
#include <vector>

namespace digitnet {

struct PageFile {
  std::string url;           // "/" for index.html, else "/<file name>"
  std::string content_type;  // from the file name's extension
  std::string body;
};

const std::vector<PageFile>& page_files();

}  // namespace digitnet
