// Datasets of declared tasks: JSON lines, a JSON array of objects, or CSV with a header row.
// Open() reads the file once, checks every row (valid JSON object or CSV record with the header's
// column count, valid UTF-8, size limits) and keeps only an index: where each row starts and
// ends, its line, and the hash of its content. Rows are read back one at a time with Row(), so a
// dataset of millions of rows costs tens of bytes per row in memory. Errors name the file and
// line. Thread-safe after Open() (Row() uses pread).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"

namespace codesweep {

enum class DatasetFormat { kJsonLines, kJsonArray, kCsv };

struct DatasetLimits {
  uint64_t max_file_bytes = 1ull << 30;  // 1 GiB
  uint64_t max_row_bytes = 16ull << 20;  // 16 MiB
};

// The format a path names by its extension: .jsonl/.ndjson, .json, .csv; an error otherwise.
Result<DatasetFormat> DatasetFormatOf(const std::string& path);

class Dataset {
 public:
  // Reads and checks the whole file. Fails naming "path:line: what" on the first bad row, or
  // "path: ..." for the file as a whole (missing, too big, no rows).
  // `visit`, when given, sees every row once as it is read (its index, line and content) and can
  // refuse it with an error, which Open() returns prefixed with "path:line: ".
  using RowVisitor = std::function<Status(size_t index, const nlohmann::json& row)>;
  static Result<Dataset> Open(const std::string& path, DatasetLimits limits = {},
                              const RowVisitor& visit = nullptr);

  size_t size() const { return rows_.size(); }
  const std::string& path() const { return path_; }
  DatasetFormat format() const { return format_; }
  // The 1-based line where row `i` starts (for messages).
  uint32_t line(size_t i) const { return rows_[i].line; }
  // The first 64 bits of SHA-256 over the row's canonical JSON (object keys sorted, compact):
  // the same row gives the same hash wherever it sits in the file and however it is spaced.
  uint64_t content_hash(size_t i) const { return rows_[i].hash; }
  // Row `i` as a JSON object (CSV: column name -> text). Reads the file again.
  Result<nlohmann::json> Row(size_t i) const;

 private:
  struct RowRef {
    uint64_t offset = 0;
    uint32_t length = 0;
    uint32_t line = 0;
    uint64_t hash = 0;
  };
  std::string path_;
  DatasetFormat format_ = DatasetFormat::kJsonLines;
  std::vector<std::string> csv_header_;
  std::vector<RowRef> rows_;

  friend class DatasetScanner;
};

// Parses one CSV record (RFC 4180: quoted fields, doubled quotes, embedded newlines) into its
// fields; fails on a malformed quote.
Result<std::vector<std::string>> ParseCsvRecord(std::string_view record);

}  // namespace codesweep
