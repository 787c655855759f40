#include "jobs/tasks/declared/dataset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace codesweep {
namespace {

using ::testing::HasSubstr;

class DatasetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("cs_dataset_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_ / name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  std::string Error(const std::string& name, const std::string& text, DatasetLimits limits = {}) {
    auto ds = Dataset::Open(Write(name, text), limits);
    EXPECT_FALSE(ds.ok()) << name;
    return ds.ok() ? "" : ds.status().message();
  }
  std::filesystem::path dir_;
};

TEST_F(DatasetTest, JsonLinesRowsReadBackByIndex) {
  auto ds = Dataset::Open(
      Write("a.jsonl", "{\"q\": \"1+1\", \"a\": 2}\n\n  \n{\"q\": \"×÷\", \"a\": [3]}\n"));
  ASSERT_TRUE(ds.ok()) << ds.status().ToString();
  ASSERT_EQ(ds->size(), 2u);
  EXPECT_EQ(ds->line(0), 1u);
  EXPECT_EQ(ds->line(1), 4u);
  EXPECT_EQ((*ds->Row(1))["q"], "×÷");
  EXPECT_EQ((*ds->Row(0))["a"], 2);
  EXPECT_FALSE(ds->Row(2).ok());
}

TEST_F(DatasetTest, JsonArrayAndCsvGiveTheSameRowsAndHashesAsJsonLines) {
  auto lines = Dataset::Open(
      Write("a.jsonl", "{\"q\":\"x, \\\"y\\\"\",\"a\":\"1\"}\n{\"q\":\"z\",\"a\":\"2\"}\n"));
  auto array = Dataset::Open(
      Write("a.json",
            "[\n {\"a\": \"1\", \"q\": \"x, \\\"y\\\"\"},\n {\"q\": \"z\", \"a\": \"2\"}\n]\n"));
  auto csv = Dataset::Open(Write("a.csv", "q,a\n\"x, \"\"y\"\"\",1\r\nz,2\n"));
  ASSERT_TRUE(lines.ok() && array.ok() && csv.ok())
      << lines.status().ToString() << array.status().ToString() << csv.status().ToString();
  ASSERT_EQ(array->size(), 2u);
  ASSERT_EQ(csv->size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(lines->content_hash(i), array->content_hash(i)) << i;
    EXPECT_EQ(lines->content_hash(i), csv->content_hash(i)) << i;
    EXPECT_EQ(*lines->Row(i), *csv->Row(i));
    EXPECT_EQ(*lines->Row(i), *array->Row(i));
  }
  EXPECT_EQ(array->line(1), 3u);
  EXPECT_EQ(csv->line(1), 3u);
}

TEST_F(DatasetTest, CsvQuotedNewlinesKeepTheRecordTogether) {
  auto ds = Dataset::Open(Write("m.csv", "q,a\n\"line one\nline two\",1\n\nnext,2\n"));
  ASSERT_TRUE(ds.ok()) << ds.status().ToString();
  ASSERT_EQ(ds->size(), 2u);
  EXPECT_EQ((*ds->Row(0))["q"], "line one\nline two");
  EXPECT_EQ(ds->line(1), 5u);
  EXPECT_EQ((*ds->Row(1))["q"], "next");
}

TEST_F(DatasetTest, ReorderingAndRespacingKeepEachRowsHash) {
  auto a = Dataset::Open(Write("a.jsonl", "{\"x\":1,\"y\":2}\n{\"x\":3}\n"));
  auto b = Dataset::Open(Write("b.jsonl", "{\"x\": 3}\n{ \"y\": 2, \"x\": 1 }\n"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->content_hash(0), b->content_hash(1));
  EXPECT_EQ(a->content_hash(1), b->content_hash(0));
  EXPECT_NE(a->content_hash(0), a->content_hash(1));
}

TEST_F(DatasetTest, MalformedFilesNameFileAndLine) {
  EXPECT_THAT(Error("bad.jsonl", "{\"a\":1}\n{\"a\":\n"), HasSubstr("bad.jsonl:2: invalid JSON"));
  EXPECT_THAT(Error("arr.jsonl", "{\"a\":1}\n[1,2]\n"),
              HasSubstr("arr.jsonl:2: a row must be a JSON object"));
  EXPECT_THAT(Error("utf.jsonl", "{\"a\":1}\n{\"a\":\"\xff\"}\n"),
              HasSubstr("utf.jsonl:2: invalid UTF-8"));
  EXPECT_THAT(Error("deep.jsonl", "{\"a\":" + std::string(1000, '[') + "}\n"),
              HasSubstr("deep.jsonl:1: nested deeper"));
  EXPECT_THAT(Error("cols.csv", "q,a\n1,2\n3\n"),
              HasSubstr("cols.csv:3: a row has 1 columns, the header 2"));
  EXPECT_THAT(Error("quote.csv", "q,a\n\"open,2\n"), HasSubstr("quote.csv:2: malformed CSV"));
  EXPECT_THAT(Error("dup.csv", "q,q\n1,2\n"),
              HasSubstr("dup.csv:1: the header names column 'q' twice"));
  EXPECT_THAT(Error("utf.csv", "q\n\xc3\n"), HasSubstr("utf.csv:2: invalid UTF-8"));
  EXPECT_THAT(Error("empty.jsonl", "\n\n"), HasSubstr("empty.jsonl: the dataset has no rows"));
  EXPECT_THAT(Error("empty.csv", ""), HasSubstr("no header row"));
  EXPECT_THAT(Error("x.json", "{\"a\": 1}"), HasSubstr("x.json:1: a .json dataset is an array"));
  EXPECT_THAT(Error("open.json", "[{\"a\": 1},\n"),
              HasSubstr("open.json:2: the array is not closed"));
  EXPECT_THAT(Error("trail.json", "[{\"a\": 1}] x"), HasSubstr("text after the array"));
  EXPECT_THAT(Error("num.json", "[{\"a\": 1}, 2]"), HasSubstr("a row must be a JSON object"));
  EXPECT_THAT(Error("data.txt", "x"), HasSubstr("a dataset is .jsonl"));
  auto missing = Dataset::Open((dir_ / "nope.jsonl").string());
  EXPECT_THAT(missing.status().message(), HasSubstr("nope.jsonl: no such file"));
}

TEST_F(DatasetTest, SizeLimitsAreErrorsNotAllocations) {
  DatasetLimits small;
  small.max_file_bytes = 1000;
  small.max_row_bytes = 100;
  EXPECT_THAT(Error("big.jsonl", std::string(2000, ' '), small), HasSubstr("more than the"));
  std::string long_row = "{\"a\": \"" + std::string(200, 'x') + "\"}\n";
  EXPECT_THAT(Error("row.jsonl", "{\"a\":1}\n" + long_row, small),
              HasSubstr("row.jsonl:2: the row is"));
  EXPECT_THAT(Error("row.json", "[" + long_row + "]", small), HasSubstr("row.json:1: the row is"));
  EXPECT_THAT(Error("row.csv", "a\n\"" + std::string(300, 'x') + "\n", small),
              HasSubstr("row.csv:2:"));
}

TEST_F(DatasetTest, ChangedFileIsAnErrorOnRead) {
  std::string path = Write("c.jsonl", "{\"a\":1}\n{\"a\":2}\n");
  auto ds = Dataset::Open(path);
  ASSERT_TRUE(ds.ok());
  Write("c.jsonl", "{\"a\":9}\n{\"a\":2}\n");
  EXPECT_THAT(ds->Row(0).status().message(), HasSubstr("c.jsonl:1: the file changed"));
  EXPECT_TRUE(ds->Row(1).ok());
}

}  // namespace
}  // namespace codesweep
