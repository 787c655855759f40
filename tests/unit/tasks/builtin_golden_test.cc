// Issue 15: the seven dataset tasks (four BBH tasks, gsm_hard, two MATH tasks) moved from C++ to
// task files in data/ served by DeclaredTask. tests/unit/tasks/builtin_verdicts.jsonl holds what
// the old C++ implementation said, recorded before it was deleted: for every dataset item (every
// sample index of every level at seed 1, which the seeded permutation maps onto every item once)
// the SHA-256 of its prompt, its truth and its canonical answer, and the verdict (correct, score,
// parsed answer, answer source) on a corpus of answers built from the item; for the first items
// of each level also the verdicts on a corpus of hostile answers (noise, ambiguous answers,
// several candidates, invalid UTF-8, megabytes); and the prompts served at two other seeds. This
// test diffs the current tasks against that record.
//
// Regenerating the record (only ever from an implementation known to be right):
//   CODESWEEP_WRITE_GOLDEN=tests/unit/tasks/builtin_verdicts.jsonl
//   build/tests/unit_tasks --gtest_filter='BuiltinGolden.*'
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "base/hash.h"
#include "base/utf8.h"
#include "jobs/tasks/task.h"
#include "tests/unit/tasks/a_test_util.h"

namespace codesweep::testing_a {
namespace {

const char* const kGoldenTasks[] = {"bbh_date_understanding",
                                    "bbh_web_of_lies",
                                    "bbh_logical_deduction_seven_objects",
                                    "bbh_navigate",
                                    "gsm_hard",
                                    "math_geometry",
                                    "math_counting_and_probability"};
constexpr int kHostileItems = 3;  // per level, the first samples at seed 1

std::string GoldenPath() {
  return std::string(CODESWEEP_SOURCE_DIR) + "/tests/unit/tasks/builtin_verdicts.jsonl";
}

// The "(X) text" options listed in a prompt, as (letter, text).
std::vector<std::pair<std::string, std::string>> PromptOptions(const std::string& prompt) {
  std::vector<std::pair<std::string, std::string>> out;
  std::istringstream in(prompt);
  for (std::string line; std::getline(in, line);) {
    if (line.size() >= 4 && line[0] == '(' && line[2] == ')' && line[3] == ' ') {
      out.emplace_back(line.substr(0, 3), line.substr(4));
    }
  }
  return out;
}

// Answers built from one item: the reference answer in every position a model puts it, wrapped,
// bare, ambiguous, contradicted, and (for multiple choice) by option text.
std::vector<std::string> ItemAnswers(const Instance& inst) {
  const std::string& c = inst.canonical_answer;
  std::vector<std::string> a = {
      "<<<" + c + ">>>",
      c,
      "Let me think step by step.\nSo the answer is " + c + ".",
      "<<<" + c + ">>> or maybe <<<7>>>",
      "First <<<(B)>>>, on reflection:\n<<< " + c + " >>>",
      "**Answer:** " + c + "\nIs that right?",
      "\\boxed{" + c + "}",
      "The answer is " + c + " or No or (A) or 12.",
  };
  std::vector<std::pair<std::string, std::string>> options = PromptOptions(inst.prompt);
  for (size_t i = 0; i < options.size() && i < 3; ++i) {
    const auto& [letter, text] = options[i];
    a.push_back("<<<" + text + ">>>");
    a.push_back("Reasoning...\nThe answer is " + letter + " " + text);
    a.push_back("Thinking.\n" + text);
  }
  if (options.size() >= 2) {
    a.push_back(options[0].first + " " + options[0].second + "\n" + options[1].first + " " +
                options[1].second);
  }
  return a;
}

std::vector<std::string> HostileAnswers() {
  std::vector<std::string> a = {
      "",
      "<<<>>>",
      "<<<   >>>",
      "no idea",
      "Yes",
      "No.",
      "yes or no?",
      "- Yes\n- No",
      "Answer: yes\nAnswer: no",
      "<<<Yes>>>",
      "<<<no>>>",
      "<<<Incorrect>>>",
      "<<<maybe>>>",
      "<<<(A)>>>",
      "<<<C>>>",
      "<<<(Z)>>>",
      "(A) (B) (C)",
      "The answer is (B).",
      "I think (A). No wait, (B).",
      "<<<12>>>",
      "<<<1,234.5>>>",
      "<<<-7/2>>>",
      "<<<1e400>>>",
      "<<<nan>>>",
      "42",
      "The total is 12 and 13",
      "12\n",
      "\\boxed{\\frac{3}{4}}",
      "<<<\\boxed{12}>>>",
      "<<<\\frac{1}{2}>>>",
      "\\boxed{",
      "<<<<<<5>>>>>>",
      "<<<5>>",
      ">>><<<",
      "<<<5>>> trailing <<<6",
      std::string("\xff\xfe<<<\xc3\x28>>>\x80"),
      std::string("Yes\xff"),
      std::string("(A\xe2\x82)"),
      std::string(1, '\0') + "<<<1>>>",
      std::string(3 << 20, 'x') + "\n<<<(A)>>>",
      std::string(3 << 20, '<') + "Yes",
      "Yes " + std::string(1 << 20, '9'),
      std::string(2 << 20, '\n') + "No",
      "(" + std::string(1 << 20, 'A') + ")",
  };
  std::string many;
  for (int i = 0; i < 2000; ++i) many += "<<<" + std::to_string(i) + ">>> ";
  a.push_back(many);
  return a;
}

nlohmann::json VerdictJson(const Verdict& v) {
  // parsed as text when short and valid UTF-8, else its hash (keeps the file small).
  std::string parsed = v.parsed.size() <= 24 && IsValidUtf8(v.parsed)
                           ? v.parsed
                           : "sha256:" + Sha256Hex(v.parsed).substr(0, 16);
  return nlohmann::json::array({v.correct, v.score, parsed, AnswerSourceName(v.source)});
}

std::string PromptHash(const Instance& inst) { return Sha256Hex(inst.prompt).substr(0, 16); }

// Every record the golden file holds for the current implementation, one JSON object per line.
std::vector<nlohmann::json> Records() {
  std::vector<nlohmann::json> out;
  const std::vector<std::string> hostile = HostileAnswers();
  for (const char* name : kGoldenTasks) {
    const Task& task = TaskNamed(name);
    std::vector<std::string> levels = task.complexity_levels();
    if (levels.empty()) levels.push_back("");
    out.push_back({{"task", name},
                   {"levels", levels},
                   {"description", task.description()},
                   {"partial", task.has_partial_score()}});
    for (const std::string& level : levels) {
      const int64_t n = task.InstanceCount(level);
      out.push_back({{"task", name}, {"level", level}, {"count", n}});
      for (int64_t s = 0; s < n; ++s) {
        Result<Instance> inst = task.Generate(level, s, 1);
        EXPECT_TRUE(inst.ok()) << name << " " << level << " " << s;
        if (!inst.ok()) continue;
        nlohmann::json r = {{"task", name},         {"level", level},
                            {"sample", s},          {"prompt", PromptHash(*inst)},
                            {"truth", inst->truth}, {"canonical", inst->canonical_answer}};
        nlohmann::json verdicts = nlohmann::json::array();
        for (const std::string& answer : ItemAnswers(*inst)) {
          verdicts.push_back(VerdictJson(task.Check(*inst, answer)));
        }
        r["verdicts"] = verdicts;
        if (s < kHostileItems) {
          nlohmann::json h = nlohmann::json::array();
          for (const std::string& answer : hostile) {
            h.push_back(VerdictJson(task.Check(*inst, answer)));
          }
          r["hostile"] = h;
        }
        out.push_back(std::move(r));
      }
      for (uint64_t seed : {0ull, 12345ull}) {
        nlohmann::json prompts = nlohmann::json::array();
        for (int64_t s = 0; s < 10; ++s) {
          Result<Instance> inst = task.Generate(level, s, seed);
          prompts.push_back(inst.ok() ? PromptHash(*inst) : "error");
        }
        out.push_back({{"task", name}, {"level", level}, {"seed", seed}, {"prompts", prompts}});
      }
    }
  }
  return out;
}

// What identifies a record (to report a difference by item).
std::string RecordKey(const nlohmann::json& r) {
  std::string key = r.value("task", "") + " level '" + r.value("level", "") + "'";
  if (r.contains("sample")) key += " sample " + std::to_string(r["sample"].get<int64_t>());
  if (r.contains("seed")) key += " seed " + std::to_string(r["seed"].get<uint64_t>());
  if (r.contains("description")) key += " (task)";
  if (r.contains("count")) key += " (count)";
  return key;
}

TEST(BuiltinGolden, DatasetTasksJudgeEveryItemAsTheOldImplementationDid) {
  const std::vector<nlohmann::json> now = Records();
  if (const char* path = std::getenv("CODESWEEP_WRITE_GOLDEN")) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    for (const nlohmann::json& r : now) out << r.dump() << "\n";
    ASSERT_TRUE(out.good()) << path;
    GTEST_SKIP() << "wrote " << now.size() << " records to " << path;
  }
  std::ifstream in(GoldenPath(), std::ios::binary);
  ASSERT_TRUE(in.good()) << GoldenPath();
  std::map<std::string, nlohmann::json> golden;
  for (std::string line; std::getline(in, line);) {
    nlohmann::json r = nlohmann::json::parse(line);
    golden[RecordKey(r)] = r;
  }
  ASSERT_EQ(golden.size(), now.size());
  int differences = 0;
  for (const nlohmann::json& r : now) {
    auto it = golden.find(RecordKey(r));
    if (it == golden.end()) {
      ADD_FAILURE() << "not in the golden file: " << RecordKey(r);
      ++differences;
      continue;
    }
    nlohmann::json want = it->second;
    nlohmann::json got = r;
    // gsm_hard's truth was the dataset's JSON number token ("3431580.0"); the task file renders
    // the same double without a redundant ".0". Compared as numbers.
    if (got.value("task", "") == "gsm_hard" && got.contains("truth")) {
      for (const char* key : {"truth", "canonical"}) {
        EXPECT_DOUBLE_EQ(std::stod(got[key].get<std::string>()),
                         std::stod(want[key].get<std::string>()))
            << RecordKey(r) << " " << key;
        got.erase(key);
        want.erase(key);
      }
    }
    if (got != want && ++differences <= 20) {
      ADD_FAILURE() << RecordKey(r) << "\n  old: " << want.dump() << "\n  new: " << got.dump();
    }
  }
  EXPECT_EQ(differences, 0);
}

}  // namespace
}  // namespace codesweep::testing_a
