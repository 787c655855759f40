#include "coordinator/sweep/toml_file.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace codesweep {

int TomlNestingDepth(std::string_view text) {
  int depth = 0, deepest = 0;
  char quote = 0;
  bool comment = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (comment) {
      if (c == '\n') comment = false;
    } else if (quote != 0) {
      if (c == '\\' && quote == '"') {
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '#') {
      comment = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      depth = std::max(0, depth - 1);
    }
  }
  return deepest;
}

Result<toml::table> ReadIncludedToml(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument(path + ": cannot open " + std::string(what));
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (text.size() > kMaxIncludedFileBytes) {
    return Status::InvalidArgument(path + ": larger than 1 MiB");
  }
  if (TomlNestingDepth(text) > kMaxIncludedFileDepth) {
    return Status::InvalidArgument(path + ": nested deeper than " +
                                   std::to_string(kMaxIncludedFileDepth) + " levels");
  }
  try {
    return toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(path + ":" + std::to_string(e.source().begin.line) + ":" +
                                   std::to_string(e.source().begin.column) + ": " +
                                   std::string(e.description()));
  } catch (const std::exception& e) {
    return Status::InvalidArgument(path + ": " + e.what());
  }
}

std::string DirOf(const std::string& path) {
  return std::filesystem::path(path).parent_path().string();
}

std::string ResolveIncluded(const std::string& base_dir, const std::string& file) {
  std::filesystem::path path(file);
  if (path.is_relative() && !base_dir.empty()) path = std::filesystem::path(base_dir) / path;
  return path.lexically_normal().string();
}

}  // namespace codesweep
