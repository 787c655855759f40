// Declared methods in sweep files: [method_templates.NAME] parsing with errors naming file, line
// and key, inline or from a template file (`file = "..."`); their cells beside built-in ones;
// template edits give new cells (on a real SQLite file), unchanged templates keep theirs, and every
// job points at the definition it runs.
#include "coordinator/sweep/method_templates.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "coordinator/sweep/grid.h"
#include "tests/unit/sweep/fake_task.h"

namespace codesweep {
namespace {

using ::testing::HasSubstr;

constexpr const char* kSweep = R"(
name = "decl"
seed = 1
samples = 2
methods = ["all_code", "my_cot", "refine", "tooly"]
turns = [1, 3]
[[tasks]]
name = "fake"
complexity = ["1"]
[models."sim:a"]
p_correct = 0.5

[method_templates.my_cot]
description = "chain of thought, then code"
system = "You are a careful solver."
prompt = "{task_prompt}\nThink step by step, then write one Python block that prints the answer."
code = "execute"
turns = 1

[method_templates.refine]
prompt = "{task_prompt}"
code = "never"
feedback = "Check your answer ({reply}). If it is right, reply TERMINATE."

[method_templates.tooly]
prompt = "Use the python tool. {task_prompt}"
code = "tool"
)";

class MethodTemplatesTest : public ::testing::Test {
 protected:
  MethodTemplatesTest() { registry_.Add(std::make_unique<FakeTask>()); }
  Result<SweepConfig> Parse(const std::string& text) {
    return ParseSweep(text, "decl.toml", registry_);
  }
  // Parses kSweep with `from` replaced by `to`.
  Result<SweepConfig> Edited(const std::string& from, const std::string& to) {
    std::string text = kSweep;
    size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) text.replace(at, from.size(), to);
    return Parse(text);
  }
  std::string ErrorOf(const std::string& from, const std::string& to) {
    Result<SweepConfig> c = Edited(from, to);
    EXPECT_FALSE(c.ok()) << to;
    return c.ok() ? "" : c.status().message();
  }
  // method/turns -> cell keys.
  std::map<std::string, std::set<std::string>> Keys(const SweepConfig& c) {
    std::map<std::string, std::set<std::string>> keys;
    ForEachCell(c, [&](const GridCell& g) {
      keys[g.method + "/" + std::to_string(g.turns)].insert(g.cell.value());
      return true;
    });
    return keys;
  }
  TaskRegistry registry_;
};

TEST_F(MethodTemplatesTest, ParsesDeclaredMethodsBesideBuiltIns) {
  Result<SweepConfig> c = Parse(kSweep);
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->method_templates.size(), 3u);
  const MethodTemplate* cot = FindMethodTemplate(*c, "my_cot");
  ASSERT_NE(cot, nullptr);
  EXPECT_EQ(cot->system, "You are a careful solver.");
  EXPECT_EQ(cot->code, CodeMode::kExecute);
  EXPECT_EQ(cot->turns, 1);
  EXPECT_EQ(FindMethodTemplate(*c, "tooly")->code, CodeMode::kTool);
  EXPECT_EQ(FindMethodTemplate(*c, "all_code"), nullptr);
  EXPECT_TRUE(SweepMethodInfo(*c, "tooly")->needs_tools);
  EXPECT_FALSE(SweepMethodInfo(*c, "nope"));
  // Turns: all_code and refine (feedback, no fixed turns) follow the sweep's list.
  EXPECT_EQ(SweepMethodTurns(*c, "all_code"), (std::vector<int>{1, 3}));
  EXPECT_EQ(SweepMethodTurns(*c, "refine"), (std::vector<int>{1, 3}));
  EXPECT_EQ(SweepMethodTurns(*c, "my_cot"), (std::vector<int>{1}));
  EXPECT_EQ(SweepMethodTurns(*c, "tooly"), (std::vector<int>{1}));
  std::map<std::string, std::set<std::string>> keys = Keys(*c);
  EXPECT_EQ(keys.size(), 6u);  // all_code/1, all_code/3, refine/1, refine/3, my_cot/1, tooly/1
  EXPECT_EQ(GridSize(*c), 12);
  EXPECT_THAT(SweepConfigJson(*c), HasSubstr("\"method_templates\""));
}

TEST_F(MethodTemplatesTest, ErrorsNameFileLineAndKey) {
  EXPECT_THAT(ErrorOf("code = \"never\"", "code = \"sometimes\""),
              HasSubstr("decl.toml:22: method_templates.refine.code: unknown code mode"));
  EXPECT_THAT(ErrorOf("prompt = \"{task_prompt}\"\ncode = \"never\"",
                      "prompt = \"{task_prompt} {answer}\"\ncode = \"never\""),
              HasSubstr("decl.toml:21: method_templates.refine.prompt: unknown placeholder "
                        "{answer}"));
  EXPECT_THAT(ErrorOf("({reply})", "({output} {nope})"),
              HasSubstr("method_templates.refine.feedback: unknown placeholder {nope}"));
  EXPECT_THAT(ErrorOf("turns = 1\n", "turns = 1\nretries = 2\n"),
              HasSubstr("decl.toml:19: method_templates.my_cot.retries: unknown key"));
  EXPECT_THAT(ErrorOf("turns = 1\n", "turns = 0\n"),
              HasSubstr("decl.toml:18: method_templates.my_cot.turns: expected an integer"));
  EXPECT_THAT(ErrorOf("turns = 1\n", "turns = \"1\"\n"),
              HasSubstr("method_templates.my_cot.turns: expected an integer"));
  EXPECT_THAT(ErrorOf("turns = 1\n", "turns = 4\n"),
              HasSubstr("method_templates.my_cot.turns: 4 turns need a feedback template"));
  EXPECT_THAT(ErrorOf("code = \"tool\"", "code = \"tool\"\nfeedback = \"{output}\""),
              HasSubstr("method_templates.tooly.feedback: not used with code = \"tool\""));
  EXPECT_THAT(ErrorOf("system = \"You are", "system = 3\nx = \"You are"),
              HasSubstr("method_templates.my_cot.system: expected a string"));
  EXPECT_THAT(ErrorOf("prompt = \"Use the python tool. {task_prompt}\"\n", ""),
              HasSubstr("method_templates.tooly.prompt: missing"));
  EXPECT_THAT(ErrorOf("[method_templates.tooly]", "[method_templates.all_text]"),
              HasSubstr("method_templates.all_text: \"all_text\" is a built-in method"));
  EXPECT_THAT(ErrorOf("\"tooly\"]", "\"toolz\"]"), HasSubstr("unknown method \"toolz\""));
  EXPECT_THAT(ErrorOf("\"tooly\"]", "\"tooly\", \"tooly\"]"), HasSubstr("listed twice"));
  EXPECT_THAT(ErrorOf("{task_prompt}\\nThink", "{task_prompt\\nThink"),
              HasSubstr("method_templates.my_cot.prompt: "));
}

// [method_templates.NAME] file = "methods/x.toml": relative to the sweep file, checked as an
// inline template, errors naming both files; the same text gives the same cells either way.
TEST_F(MethodTemplatesTest, TemplateFromAFileIsTheSameMethod) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("cs_method_file_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir / "methods");
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name, std::ios::binary) << text;
  };
  const std::string inline_cot =
      "[method_templates.my_cot]\n"
      "description = \"chain of thought, then code\"\n"
      "system = \"You are a careful solver.\"\n"
      "prompt = \"{task_prompt}\\nThink step by step, then write one Python block that prints "
      "the answer.\"\n"
      "code = \"execute\"\n"
      "turns = 1\n";
  const std::string body = inline_cot.substr(inline_cot.find('\n') + 1);
  std::string text = kSweep;
  ASSERT_NE(text.find(inline_cot), std::string::npos);
  const std::string sweep = (dir / "decl.toml").string();
  auto with_file = [&](const std::string& entry) {
    std::string t = text;
    t.replace(t.find(inline_cot), inline_cot.size(), "[method_templates.my_cot]\n" + entry);
    return ParseSweep(t, sweep, registry_);
  };
  auto error_of = [&](const std::string& entry) {
    Result<SweepConfig> c = with_file(entry);
    EXPECT_FALSE(c.ok()) << entry;
    return c.ok() ? "" : c.status().message();
  };

  write("methods/cot.toml", body);
  Result<SweepConfig> from_file = with_file("file = \"methods/cot.toml\"\n");
  ASSERT_TRUE(from_file.ok()) << from_file.status().ToString();
  Result<SweepConfig> inline_config = ParseSweep(text, sweep, registry_);
  ASSERT_TRUE(inline_config.ok()) << inline_config.status().ToString();
  EXPECT_EQ(Keys(*from_file), Keys(*inline_config));
  EXPECT_EQ(FindMethodTemplate(*from_file, "my_cot")->system, "You are a careful solver.");

  // Errors name the sweep file's line and the template file's.
  write("methods/bad.toml", body + "retries = 2\n");
  std::string e = error_of("file = \"methods/bad.toml\"\n");
  EXPECT_THAT(e, HasSubstr("decl.toml:14: method_templates.my_cot.file: "));
  EXPECT_THAT(e, HasSubstr("methods/bad.toml:6: method_templates.my_cot.retries: unknown key"));
  write("methods/bad.toml", "prompt = \"{task_prompt} {nope}\"\n");
  EXPECT_THAT(error_of("file = \"methods/bad.toml\"\n"),
              HasSubstr("methods/bad.toml:1: method_templates.my_cot.prompt: unknown placeholder "
                        "{nope}"));
  write("methods/bad.toml", "prompt = \"x\"\nturns = [\n");
  EXPECT_THAT(error_of("file = \"methods/bad.toml\"\n"), HasSubstr("methods/bad.toml:"));
  EXPECT_THAT(error_of("file = \"methods/none.toml\"\n"),
              HasSubstr("methods/none.toml: cannot open method template file"));
  EXPECT_THAT(error_of("file = \"methods/cot.toml\"\ncode = \"never\"\n"),
              HasSubstr("method_templates.my_cot.file: no other key beside file"));
  EXPECT_THAT(error_of("file = 3\n"), HasSubstr("method_templates.my_cot.file: a path"));
  write("methods/nested.toml", "file = \"cot.toml\"\n");
  EXPECT_THAT(error_of("file = \"methods/nested.toml\"\n"),
              HasSubstr("a method template file does not include others"));
  std::filesystem::remove_all(dir);
}

TEST_F(MethodTemplatesTest, ModelsWithoutToolsOrSystemAreRefusedUnlessSkipped) {
  auto with_model = [&](const std::string& caps, const std::string& skip) {
    return Edited("[method_templates.my_cot]",
                  "[models.\"openai:m\"]\nbase_url = \"http://127.0.0.1:1/v1\"\n"
                  "capabilities = { " +
                      caps + " }\nskip_methods = [" + skip + "]\n[method_templates.my_cot]");
  };
  Result<SweepConfig> c = with_model("tools = false", "");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("cannot run method \"tooly\""));
  c = with_model("tools = false, system_message = false", "\"tooly\"");
  ASSERT_FALSE(c.ok());  // my_cot has a system message
  EXPECT_THAT(c.status().message(), HasSubstr("cannot run method \"my_cot\""));
  c = with_model("tools = false, system_message = false", "\"tooly\", \"my_cot\"");
  EXPECT_TRUE(c.ok()) << c.status().message();
  c = with_model("tools = false", "\"nope\"");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("unknown method \"nope\""));
}

TEST_F(MethodTemplatesTest, TemplateTextIsPartOfTheCellKey) {
  std::map<std::string, std::set<std::string>> base = Keys(*Parse(kSweep));
  // Editing one prompt changes exactly that method's cells.
  std::map<std::string, std::set<std::string>> edited =
      Keys(*Edited("Think step by step,", "Think hard,"));
  for (const auto& [combo, keys] : base) {
    if (combo == "my_cot/1") {
      EXPECT_NE(edited[combo], keys);
    } else {
      EXPECT_EQ(edited[combo], keys) << combo;
    }
  }
  // The description is not part of any key; the code mode and the system message are.
  EXPECT_EQ(Keys(*Edited("chain of thought", "other words")), base);
  EXPECT_NE(Keys(*Edited("code = \"execute\"", "code = \"never\""))["my_cot/1"], base["my_cot/1"]);
  EXPECT_NE(Keys(*Edited("careful solver", "solver"))["my_cot/1"], base["my_cot/1"]);
  // A declared method whose templates equal another's under another name has other cells.
  std::string renamed = kSweep;
  for (size_t at = renamed.find("my_cot"); at != std::string::npos;
       at = renamed.find("my_cot", at + 7)) {
    renamed.replace(at, 6, "my_cot2");
  }
  Result<SweepConfig> r = Parse(renamed);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_NE(Keys(*r)["my_cot2/1"], base["my_cot/1"]);
}

TEST_F(MethodTemplatesTest, EditedTemplateGivesNewCellsOnARealDatabase) {
  std::string dir =
      (std::filesystem::temp_directory_path() / ("cs_method_templates_" + std::to_string(getpid())))
          .string();
  std::filesystem::create_directories(dir);
  const std::string db = dir + "/decl.db";
  {
    auto store = Store::Open(db, StoreOptions{});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    SweepConfig base = *Parse(kSweep);
    auto first = ExpandIntoStore(base, **store);
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    EXPECT_EQ(first->inserted, 12);
    auto again = ExpandIntoStore(*Parse(kSweep), **store);  // a reload of the same file
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->inserted, 0);
    auto edited = ExpandIntoStore(*Edited("Think step by step,", "Think hard,"), **store);
    ASSERT_TRUE(edited.ok()) << edited.status().ToString();
    EXPECT_EQ(edited->inserted, 2);              // my_cot's two samples, nothing else
    auto back = ExpandIntoStore(base, **store);  // back to the first text: its cells exist
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->inserted, 0);
    EXPECT_EQ(*(*store)->CountJobs(std::nullopt, 0), 14);
  }
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  auto query = [&](const std::string& sql) {
    std::vector<std::string> rows;
    sqlite3_exec(
        raw, sql.c_str(),
        [](void* out, int n, char** values, char**) {
          std::string row;
          for (int i = 0; i < n; ++i)
            row += (i ? "|" : "") + std::string(values[i] ? values[i] : "");
          static_cast<std::vector<std::string>*>(out)->push_back(row);
          return 0;
        },
        &rows, nullptr);
    return rows;
  };
  // Built-in cells point at no definition; each my_cot cell at the text its key was made from.
  EXPECT_EQ(query("SELECT count(*) FROM jobs WHERE method = 'all_code' AND method_template_id = 0"),
            std::vector<std::string>{"4"});
  EXPECT_EQ(query("SELECT count(DISTINCT method_template_id) FROM jobs WHERE method = 'my_cot'"),
            std::vector<std::string>{"2"});
  EXPECT_EQ(query("SELECT count(*) FROM method_templates"), std::vector<std::string>{"4"});
  std::vector<std::string> defs = query(
      "SELECT t.definition_json FROM jobs j JOIN method_templates t"
      " ON t.id = j.method_template_id WHERE j.method = 'my_cot' ORDER BY j.id");
  ASSERT_EQ(defs.size(), 4u);
  EXPECT_THAT(defs[0], HasSubstr("Think step by step,"));
  EXPECT_THAT(defs[3], HasSubstr("Think hard,"));
  sqlite3_close(raw);
  {
    auto store = Store::Open(db, StoreOptions{});
    ASSERT_TRUE(store.ok());
    Result<std::string> def = (*store)->GetMethodTemplate(1);
    ASSERT_TRUE(def.ok()) << def.status().message();
    EXPECT_TRUE(MethodTemplateFromJson(*def).ok());
    EXPECT_FALSE((*store)->GetMethodTemplate(999).ok());
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace codesweep
