// Seeded, bounded fuzzing of dataset files (issue 20): a copy of data/ with one file mutated per
// iteration (flipped bytes, cut lines, wrong JSON types, rows nested 100,000 deep) must load or
// fail with an error that names the file — never crash, hang or throw.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "base/hash.h"
#include "jobs/tasks/common.h"
#include "jobs/tasks/task.h"

namespace codesweep {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteAll(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

// Replaces one line of `text` with a hostile version of itself.
std::string MutateLine(Rng& rng, const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream ss(text);
  for (std::string l; std::getline(ss, l);) lines.push_back(l);
  if (lines.empty()) return text;
  std::string& line = lines[rng.Uniform(0, static_cast<int64_t>(lines.size()) - 1)];
  switch (rng.Uniform(0, 6)) {
    case 0:
      for (int i = 0; i < 4 && !line.empty(); ++i) {
        line[rng.Uniform(0, static_cast<int64_t>(line.size()) - 1)] =
            static_cast<char>(rng.Uniform(0, 255));
      }
      break;
    case 1:
      line = line.substr(0, rng.Uniform(0, static_cast<int64_t>(line.size())));
      break;
    case 2:
      line = std::string(100'000, '[') + std::string(100'000, ']');
      break;
    case 3:
      line = "{\"a\":" + std::string(100'000, '{') + std::string(100'000, '}') + "}";
      break;
    case 4:  // every string value becomes a number
      for (size_t at = line.find(":\""); at != std::string::npos; at = line.find(":\"", at + 1)) {
        line.replace(at + 1, 1, "12345e400,\"x\":\"");
      }
      break;
    case 5:
      line = "{}";
      break;
    default:
      line += "\xff\xfe" + line;
      break;
  }
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

// A dataset row nested past kMaxJsonDepth is refused with file and line before it is parsed.
TEST(DatasetFuzzTest, DeepRowIsACorruptionNamingFileAndLine) {
  fs::path file =
      fs::temp_directory_path() / ("cs_deep_row_" + std::to_string(getpid()) + ".jsonl");
  WriteAll(file,
           "{\"q\": 1}\n{\"q\": " + std::string(200'000, '[') + std::string(200'000, ']') + "}\n");
  Result<std::vector<nlohmann::json>> rows = ReadJsonLines(file.string());
  fs::remove(file);
  ASSERT_FALSE(rows.ok());
  EXPECT_EQ(rows.status().code(), StatusCode::kCorruption);
  EXPECT_NE(rows.status().message().find(file.filename().string() + ":2: nested deeper than 128"),
            std::string::npos)
      << rows.status().message();
}

TEST(DatasetFuzzTest, MutatedDatasetsLoadOrNameTheFile) {
  fs::path dir = fs::temp_directory_path() / ("cs_dataset_fuzz_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::copy(DefaultDataDir(), dir, fs::copy_options::recursive);
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    std::string ext = e.path().extension().string();
    if (e.is_regular_file() && (ext == ".jsonl" || ext == ".json" || ext == ".csv")) {
      files.push_back(e.path());
    }
  }
  ASSERT_FALSE(files.empty());
  Rng rng(2020);
  for (int i = 0; i < 40; ++i) {
    const fs::path& file = files[rng.Uniform(0, static_cast<int64_t>(files.size()) - 1)];
    std::string original = ReadAll(file);
    WriteAll(file, MutateLine(rng, original));
    Result<std::unique_ptr<TaskRegistry>> r = TaskRegistry::Create(dir.string());
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find(file.filename().string()), std::string::npos)
          << "iteration " << i << ": " << r.status().ToString();
    }
    WriteAll(file, original);
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace codesweep
