// Sweep file parsing: accepted files, and errors that name file, line and key.
#include "coordinator/sweep/sweep_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "jobs/sandbox/sandbox.h"
#include "tests/unit/sweep/fake_task.h"

namespace codesweep {
namespace {

using ::testing::HasSubstr;

class SweepFileTest : public ::testing::Test {
 protected:
  SweepFileTest() { registry_.Add(std::make_unique<FakeTask>()); }
  Result<SweepConfig> Parse(const std::string& text) {
    return ParseSweep(text, "test.toml", registry_);
  }
  TaskRegistry registry_;
};

constexpr const char* kGood = R"(
name = "demo"
seed = 7
samples = 3
methods = ["only_question", "all_code"]
turns = [1, 2]

[[tasks]]
name = "fake"
complexity = ["1", "2"]

[models."sim:a"]
p_correct = 0.5

[models."openai:gpt-4o"]
temperature = 0.3
max_tokens = 100
rpm = 500
base_url = "http://127.0.0.1:1/v1"
)";

TEST_F(SweepFileTest, ParsesAGoodFile) {
  auto c = Parse(kGood);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->name, "demo");
  EXPECT_EQ(c->seed, 7u);
  EXPECT_EQ(c->samples, 3);
  ASSERT_EQ(c->tasks.size(), 1u);
  EXPECT_EQ(c->tasks[0].complexities, (std::vector<std::string>{"1", "2"}));
  ASSERT_EQ(c->models.size(), 2u);
  const ModelConfig* gpt = c->models[0].spec.id == "openai:gpt-4o" ? &c->models[0] : &c->models[1];
  EXPECT_EQ(gpt->spec.provider, "openai");
  EXPECT_EQ(gpt->spec.name, "gpt-4o");
  EXPECT_DOUBLE_EQ(gpt->gen.temperature, 0.3);
  EXPECT_EQ(gpt->gen.max_tokens, 100);
  EXPECT_DOUBLE_EQ(gpt->limits.requests_per_minute, 500);
  EXPECT_EQ(gpt->key_alias, "OPENAI_API_KEY");
  EXPECT_THAT(gpt->spec.options_json, HasSubstr("base_url"));
  EXPECT_THAT(gpt->spec.options_json, ::testing::Not(HasSubstr("temperature")));
  EXPECT_EQ(c->turns, (std::vector<int>{1, 2}));
}

TEST_F(SweepFileTest, DefaultComplexityIsTheTasksLevels) {
  auto c = Parse(R"(
name = "d"
methods = ["only_question"]
[[tasks]]
name = "fake"
[models."sim:a"]
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->tasks[0].complexities, (std::vector<std::string>{"1", "2", "3"}));
}

struct BadCase {
  const char* text;
  const char* expect;  // substring of the error
};

TEST_F(SweepFileTest, ErrorsNameFileLineAndKey) {
  const BadCase cases[] = {
      {"name = \"x\"\nmethods = [\"only_question\"]\nbogus = 1\n[[tasks]]\nname=\"fake\"\n"
       "[models.\"sim:a\"]\n",
       "test.toml:3: bogus: unknown key"},
      {"name = \"x\"\nmethods = [\"only_question\"]\nsamples = \"many\"\n[[tasks]]\nname=\"fake\"\n"
       "[models.\"sim:a\"]\n",
       "test.toml:3: samples: expected an integer"},
      {"name = \"x\"\nmethods = [\"only_question\"]\nsamples = 0\n[[tasks]]\nname=\"fake\"\n"
       "[models.\"sim:a\"]\n",
       "test.toml:3: samples: must be between 1"},
      {"name = \"x\"\nmethods = [\"nope\"]\n[[tasks]]\nname=\"fake\"\n[models.\"sim:a\"]\n",
       "test.toml:2: methods: unknown method \"nope\""},
      {"name = \"x\"\nmethods = "
       "[\"only_question\"]\n[[tasks]]\nname=\"nope\"\n[models.\"sim:a\"]\n",
       "test.toml:4: tasks[0].name: unknown task \"nope\""},
      {"name = \"x\"\nmethods = [\"only_question\"]\n[[tasks]]\nname=\"fake\"\ncomplexity=[\"9\"]\n"
       "[models.\"sim:a\"]\n",
       "test.toml:5: tasks[0].complexity:"},
      {"name = \"x\"\nmethods = [\"only_question\"]\n[[tasks]]\nname=\"fake\"\n[models.\"bad\"]\n",
       "models.bad: a model id is"},
      {"name = \"x\"\nmethods = [\"only_question\"]\n[[tasks]]\nname=\"fake\"\n"
       "[models.\"openai:m\"]\ntemperature = 9\n",
       "test.toml:6: models.\"openai:m\".temperature: must be between 0 and 2"},
      {"name = \"x\"\nmethods = [\"only_question\"]\n[[tasks]]\nname=\"fake\"\n"
       "[models.\"sim:a\"]\nno_such_knob = 1\n",
       "models.\"sim:a\""},
      {"name = \"x\"\nmethods = [\"only_question\"]\n[[tasks]]\nname=\"fake\"\nname = \"y\"\n",
       "test.toml:5:"},  // TOML syntax error: duplicate key
      {"methods = [\"only_question\"]\n[[tasks]]\nname=\"fake\"\n[models.\"sim:a\"]\n",
       "name: missing"},
      {"name = \"x\"\nmethods = [\"only_question\"]\nturns = [0]\n[[tasks]]\nname=\"fake\"\n"
       "[models.\"sim:a\"]\n",
       "test.toml:3: turns: must be between 1 and 50"},
      {"name = \"x\"\nmethods = [\"only_question\"]\n[[tasks]]\nname=\"fake\"\n[models.\"sim:a\"]\n"
       "[sandbox]\nwall_ms = -5\n",
       "test.toml:7: sandbox.wall_ms: must be between 1 and"},
  };
  for (const BadCase& bc : cases) {
    auto c = Parse(bc.text);
    ASSERT_FALSE(c.ok()) << "accepted: " << bc.text;
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(c.status().message(), HasSubstr(bc.expect)) << bc.text;
  }
}

TEST_F(SweepFileTest, ToolMethodsOnAModelWithoutToolsAreRefusedUnlessSkipped) {
  const std::string base = R"(
name = "t"
methods = ["only_question", "code_interpreter"]
[[tasks]]
name = "fake"
[models."openai:o1-preview"]
)";
  auto bad = Parse(base);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("cannot run method \"code_interpreter\""));
  EXPECT_THAT(bad.status().message(), HasSubstr("skip_methods"));
  auto good = Parse(base + "skip_methods = [\"code_interpreter\"]\n");
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_FALSE(good->models[0].Runs("code_interpreter"));
  EXPECT_TRUE(good->models[0].Runs("only_question"));
  auto unknown = Parse(base + "skip_methods = [\"nope\"]\n");
  EXPECT_THAT(unknown.status().message(), HasSubstr("unknown method \"nope\""));
}

TEST_F(SweepFileTest, GarbageNeverCrashes) {
  std::string junk;
  for (int i = 0; i < 2000; ++i) junk.push_back(static_cast<char>((i * 7919) % 256));
  EXPECT_FALSE(Parse(junk).ok());
  EXPECT_FALSE(Parse("").ok());
  EXPECT_FALSE(Parse(std::string(100000, '[')).ok());
}

constexpr const char* kHead =
    "name = \"x\"\nmethods = [\"only_question\"]\n[[tasks]]\nname = \"fake\"\n"
    "[models.\"sim:a\"]\n";

// Issue 20: a 50 KB file with a table nested 25,000 deep made validate, run and coordinator die
// with SIGSEGV (recursion converting TOML to JSON); at 100,000 deep toml++ itself crashes. The
// text is now scanned for depth before toml++ sees it.
TEST_F(SweepFileTest, DeepNestingIsAnErrorNotACrash) {
  auto deep_header = [](int n) {
    std::string s = std::string(kHead) + "[sandbox";
    for (int i = 0; i < n; ++i) s += ".a";
    return s + "]\nx = 1\n";
  };
  for (int n : {25'000, 200'000}) {
    auto c = Parse(deep_header(n));
    ASSERT_FALSE(c.ok());
    EXPECT_THAT(c.status().message(), HasSubstr("test.toml:6: nested deeper than 64 levels"));
  }
  std::string dotted = std::string(kHead) + "x";
  for (int i = 0; i < 200'000; ++i) dotted += ".a";
  EXPECT_THAT(Parse(dotted + " = 1\n").status().message(), HasSubstr("test.toml:6: nested"));
  std::string arrays =
      std::string(kHead) + "stop = " + std::string(70, '[') + std::string(70, ']') + "\n";
  EXPECT_THAT(Parse(arrays).status().message(), HasSubstr("test.toml:6: nested"));
  std::string inline_tables = std::string(kHead) + "x = ";
  for (int i = 0; i < 70; ++i) inline_tables += "{a.b = ";
  inline_tables += "1" + std::string(70, '}') + "\n";
  EXPECT_THAT(Parse(inline_tables).status().message(), HasSubstr("test.toml:6: nested"));
  // Within the bound, the ordinary checks answer (here: the unknown sandbox key).
  auto shallow = Parse(deep_header(60));
  ASSERT_FALSE(shallow.ok());
  EXPECT_THAT(shallow.status().message(), HasSubstr("sandbox.a: unknown key"));
  // Brackets and dots inside strings and comments do not count.
  std::string quoted = std::string(kHead) + "# " + std::string(100, '[') + "\n" + "stop = [\"" +
                       std::string(100, '{') + "...\", '" + std::string(100, '[') + "']\n";
  EXPECT_TRUE(Parse(quoted).ok()) << Parse(quoted).status().ToString();
}

// `methods = "only_question"` and `complexity = [2]` used to be accepted where the format says
// an array of strings.
TEST_F(SweepFileTest, ListsOfStringsAreNothingElse) {
  const BadCase cases[] = {
      {"name = \"x\"\nmethods = \"only_question\"\n[[tasks]]\nname=\"fake\"\n"
       "[models.\"sim:a\"]\n",
       "test.toml:2: methods: expected an array of strings (write [\"only_question\"])"},
      {"name = \"x\"\nmethods = [\"only_question\"]\n[[tasks]]\nname=\"fake\"\n"
       "complexity = [2]\n[models.\"sim:a\"]\n",
       "test.toml:5: tasks[0].complexity: expected an array of strings (write levels in quotes, "
       "e.g. [\"2\"])"},
      {"name = \"x\"\nmethods = [\"only_question\"]\n[[tasks]]\nname=\"fake\"\n"
       "[models.\"sim:a\"]\nskip_methods = \"all_code\"\n",
       "test.toml:6: models.\"sim:a\".skip_methods: expected an array of strings"},
      {"name = \"x\"\nmethods = [\"only_question\", 3]\n[[tasks]]\nname=\"fake\"\n"
       "[models.\"sim:a\"]\n",
       "test.toml:2: methods: expected an array of strings"},
  };
  for (const BadCase& bc : cases) {
    auto c = Parse(bc.text);
    ASSERT_FALSE(c.ok()) << "accepted: " << bc.text;
    EXPECT_THAT(c.status().message(), HasSubstr(bc.expect)) << bc.text;
  }
}

// toml++ printed a table defined twice as 'models."sisim:x"'; names are quoted as written.
TEST_F(SweepFileTest, TwiceDefinedNamesAreQuotedAsWritten) {
  auto c = Parse(std::string(kHead) + "[models.\"sim:b\"]\n[models.\"sim:b\"]\n");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("test.toml:7:1:"));
  EXPECT_THAT(c.status().message(), HasSubstr("'models.\"sim:b\"'"));
  auto headers = Parse(std::string(kHead) + "[models.\"openai:gpt-4o\".headers]\n" +
                       "[models.\"openai:gpt-4o\".headers]\n");
  EXPECT_THAT(headers.status().message(), HasSubstr("'models.\"openai:gpt-4o\".headers'"));
  auto key = Parse(std::string(kHead) + "p_correct = 0.5\np_correct = 0.6\n");
  EXPECT_THAT(key.status().message(), HasSubstr("'p_correct'"));
}

// `[sandbox] wall_ms = 9223372036854775807` passed validate and overflowed the deadline sum,
// recording every execution as a timeout. Every limit has a documented range.
TEST_F(SweepFileTest, SandboxLimitsAreRangeChecked) {
  const BadCase cases[] = {
      {"wall_ms = 9223372036854775807\n",
       "test.toml:7: sandbox.wall_ms: must be between 1 and 86400000"},
      {"wall_ms = 0\n", "test.toml:7: sandbox.wall_ms: must be between 1 and 86400000"},
      {"cpu_ms = 86400001\n", "sandbox.cpu_ms: must be between 1 and 86400000"},
      {"memory_bytes = 1024\n", "sandbox.memory_bytes: must be between 1048576 and"},
      {"max_processes = 1000000\n", "sandbox.max_processes: must be between 1 and 65536"},
      {"keep_output_bytes = 9223372036854775807\n", "sandbox.keep_output_bytes: must be"},
      {"wall_ms = \"10s\"\n", "test.toml:7: sandbox.wall_ms: expected an integer"},
      {"walltime = 5\n", "test.toml:7: sandbox.walltime: unknown key"},
  };
  for (const BadCase& bc : cases) {
    auto c = Parse(std::string(kHead) + "[sandbox]\n" + bc.text);
    ASSERT_FALSE(c.ok()) << "accepted: " << bc.text;
    EXPECT_THAT(c.status().message(), HasSubstr(bc.expect)) << bc.text;
  }
  auto good = Parse(std::string(kHead) + "[sandbox]\nwall_ms = 86400000\nmemory_bytes = 1048576\n");
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  // The worker re-checks what reaches it as JSON (a coordinator of another build, a hand edit).
  EXPECT_FALSE(ParseExecLimits(R"({"wall_ms": 9223372036854775807})").ok());
  EXPECT_FALSE(ParseExecLimits(R"({"wall_ms": 18446744073709551615})").ok());
  Result<ExecLimits> derived = ParseExecLimits(R"({"wall_ms": 86400000})");
  ASSERT_TRUE(derived.ok());
  EXPECT_EQ(derived->cpu_ms, 86'401'000);
}

TEST_F(SweepFileTest, MissingFileIsNotFound) {
  auto c = LoadSweepFile("no/such/file.toml", registry_);
  EXPECT_EQ(c.status().code(), StatusCode::kNotFound);
}

// Issue 16 §1 (start-up): parsing a sweep builds only the built-in tasks it names, so a process
// does not load all 14 (and their datasets) to serve one.
TEST(SweepFileLazyTasksTest, ParsingBuildsOnlyTheNamedTasks) {
  std::unique_ptr<TaskRegistry> reg = TaskRegistry::CreateLazy(DefaultDataDir());
  const std::string text =
      "name = \"x\"\nmethods = [\"only_question\"]\n[[tasks]]\nname = \"number_multiply\"\n"
      "complexity = [\"1_2\"]\n[[tasks]]\nname = \"letters\"\n[models.\"sim:a\"]\n";
  Result<SweepConfig> c = ParseSweep(text, "test.toml", *reg);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  std::vector<std::string> built;
  for (const Task* t : reg->tasks()) built.push_back(std::string(t->name()));
  EXPECT_EQ(built, (std::vector<std::string>{"number_multiply", "letters"}));
}

// A named task whose dataset cannot be read is reported where the sweep names it, with the file;
// a sweep that does not name it is not concerned.
TEST(SweepFileLazyTasksTest, ABrokenDatasetIsReportedWhereTheSweepNamesItsTask) {
  const std::string dir = ::testing::TempDir() + "/cs_lazy_sweep_empty_data";
  std::filesystem::create_directories(dir);
  std::unique_ptr<TaskRegistry> reg = TaskRegistry::CreateLazy(dir);
  const std::string head = "name = \"x\"\nmethods = [\"only_question\"]\n[[tasks]]\n";
  Result<SweepConfig> bad =
      ParseSweep(head + "name = \"game24\"\n[models.\"sim:a\"]\n", "test.toml", *reg);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("test.toml:4: tasks[0].name: task \"game24\""));
  EXPECT_THAT(bad.status().message(), HasSubstr("puzzles_"));
  Result<SweepConfig> good =
      ParseSweep(head + "name = \"number_multiply\"\n[models.\"sim:a\"]\n", "test.toml", *reg);
  EXPECT_TRUE(good.ok()) << good.status().ToString();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace codesweep
