// The lazy task registry (issue 16 §1, start-up): a process builds only the tasks it is asked
// for, each once; a task whose dataset cannot be read fails only its own Get, naming the file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "jobs/tasks/task.h"

namespace codesweep {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> Names(const std::vector<const Task*>& tasks) {
  std::vector<std::string> out;
  for (const Task* t : tasks) out.push_back(std::string(t->name()));
  return out;
}

TEST(LazyTaskRegistry, BuildsOnlyTheTasksAskedFor) {
  std::unique_ptr<TaskRegistry> reg = TaskRegistry::CreateLazy(DefaultDataDir());
  EXPECT_EQ(reg->loaded_count(), 0);
  EXPECT_EQ(reg->names().size(), 14u);
  EXPECT_TRUE(reg->Contains("game24"));
  EXPECT_FALSE(reg->Contains("no_such_task"));
  EXPECT_EQ(reg->loaded_count(), 0);  // names and Contains build nothing

  Result<const Task*> t = reg->Get("number_multiply");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ((*t)->name(), "number_multiply");
  EXPECT_EQ(reg->loaded_count(), 1);
  EXPECT_EQ(Names(reg->tasks()), std::vector<std::string>{"number_multiply"});
  EXPECT_EQ(reg->Find("number_multiply"), *t);  // built once
  EXPECT_EQ(reg->loaded_count(), 1);

  Result<const Task*> unknown = reg->Get("no_such_task");
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(reg->Find("no_such_task"), nullptr);
  EXPECT_EQ(reg->loaded_count(), 1);
}

TEST(LazyTaskRegistry, LoadAllListsWhatTheEagerRegistryLists) {
  Result<std::unique_ptr<TaskRegistry>> eager = TaskRegistry::Create(DefaultDataDir());
  ASSERT_TRUE(eager.ok()) << eager.status().ToString();
  EXPECT_EQ((*eager)->loaded_count(), 14);
  std::unique_ptr<TaskRegistry> lazy = TaskRegistry::CreateLazy(DefaultDataDir());
  Result<std::vector<const Task*>> all = lazy->LoadAll();
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(Names(*all), Names((*eager)->tasks()));
  EXPECT_EQ(Names(*all), lazy->names());  // the names registered before loading are the tasks'
}

TEST(LazyTaskRegistry, ConcurrentFirstUsesBuildOneTask) {
  std::unique_ptr<TaskRegistry> reg = TaskRegistry::CreateLazy(DefaultDataDir());
  std::vector<const Task*> seen(8, nullptr);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < seen.size(); ++i) {
    threads.emplace_back([&reg, &seen, i] { seen[i] = reg->Find("letters"); });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_NE(seen[0], nullptr);
  for (const Task* t : seen) EXPECT_EQ(t, seen[0]);
  EXPECT_EQ(reg->loaded_count(), 1);
}

TEST(LazyTaskRegistry, AMissingDatasetFailsOnlyItsOwnTaskNamingTheFile) {
  const fs::path dir = fs::temp_directory_path() / ("cs_lazy_tasks_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);  // an empty data/: every dataset is missing
  std::unique_ptr<TaskRegistry> reg = TaskRegistry::CreateLazy(dir.string());
  EXPECT_TRUE(reg->Get("number_multiply").ok());  // needs no data
  Result<const Task*> game24 = reg->Get("game24");
  ASSERT_FALSE(game24.ok());
  EXPECT_NE(game24.status().message().find("puzzles_"), std::string::npos)
      << game24.status().message();
  EXPECT_EQ(reg->Get("game24").status().message(), game24.status().message());  // kept
  EXPECT_EQ(reg->Find("game24"), nullptr);
  Result<const Task*> shipped = reg->Get("gsm_hard");
  ASSERT_FALSE(shipped.ok());
  EXPECT_NE(shipped.status().message().find("gsm_hard.toml"), std::string::npos)
      << shipped.status().message();
  EXPECT_FALSE(reg->LoadAll().ok());
  EXPECT_FALSE(TaskRegistry::Create(dir.string()).ok());  // the eager registry fails at once
  fs::remove_all(dir);
}

}  // namespace
}  // namespace codesweep
