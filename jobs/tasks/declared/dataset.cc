#include "jobs/tasks/declared/dataset.h"

#include <csv.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/hash.h"
#include "base/json_depth.h"
#include "base/utf8.h"

namespace codesweep {
namespace {

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool IsBlank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

std::string MiB(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

// A read-only view of a whole file, unmapped on destruction.
class MappedFile {
 public:
  ~MappedFile() {
    if (data_ != nullptr && size_ > 0) munmap(data_, size_);
  }
  Status Open(const std::string& path, uint64_t max_bytes) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return errno == ENOENT ? Status::NotFound(path + ": no such file")
                             : Status::IoError(path + ": " + std::strerror(errno));
    }
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return Status::InvalidArgument(path + ": not a regular file");
    }
    size_ = static_cast<uint64_t>(st.st_size);
    if (size_ > max_bytes) {
      ::close(fd);
      return Status::InvalidArgument(path + ": the file is " + MiB(size_) + ", more than the " +
                                     MiB(max_bytes) + " a dataset may have (max_bytes)");
    }
    if (size_ > 0) {
      void* p = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        ::close(fd);
        return Status::IoError(path + ": " + std::strerror(errno));
      }
      data_ = p;
      madvise(p, size_, MADV_SEQUENTIAL);
    }
    ::close(fd);
    return Status::OK();
  }
  // Drops the pages before `offset` from memory (they are not read again), so scanning a large
  // file keeps a bounded part of it resident.
  void Release(uint64_t offset) {
    constexpr uint64_t kChunk = 32ull << 20;
    uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    uint64_t upto = offset / page * page;
    if (data_ == nullptr || upto < released_ + kChunk) return;
    madvise(static_cast<char*>(data_) + released_, upto - released_, MADV_DONTNEED);
    released_ = upto;
  }
  std::string_view view() const {
    return size_ == 0 ? std::string_view() : std::string_view(static_cast<char*>(data_), size_);
  }

 private:
  void* data_ = nullptr;
  uint64_t size_ = 0;
  uint64_t released_ = 0;
};

struct CsvFields {
  std::vector<std::string> fields;
  int records = 0;
};

void OnField(void* s, size_t len, void* data) {
  auto* f = static_cast<CsvFields*>(data);
  f->fields.emplace_back(s == nullptr ? "" : std::string(static_cast<char*>(s), len));
}
void OnRecord(int, void* data) { ++static_cast<CsvFields*>(data)->records; }

uint64_t HashOf(const nlohmann::json& row) {
  return Sha256U64(row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace

Result<DatasetFormat> DatasetFormatOf(const std::string& path) {
  if (EndsWith(path, ".jsonl") || EndsWith(path, ".ndjson")) return DatasetFormat::kJsonLines;
  if (EndsWith(path, ".json")) return DatasetFormat::kJsonArray;
  if (EndsWith(path, ".csv")) return DatasetFormat::kCsv;
  return Status::InvalidArgument(path +
                                 ": a dataset is .jsonl (JSON lines), .json (an array) or .csv");
}

Result<std::vector<std::string>> ParseCsvRecord(std::string_view record) {
  csv_parser p{};
  if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0) return Status::Internal("csv_init failed");
  CsvFields f;
  size_t used = csv_parse(&p, record.data(), record.size(), OnField, OnRecord, &f);
  int err = used == record.size() ? csv_fini(&p, OnField, OnRecord, &f) : -1;
  std::string why = used == record.size() && err == 0 ? "" : csv_strerror(csv_error(&p));
  csv_free(&p);
  if (!why.empty()) return Status::InvalidArgument("malformed CSV: " + why);
  return std::move(f.fields);
}

// Scans a mapped file into a Dataset's index.
class DatasetScanner {
 public:
  DatasetScanner(Dataset* ds, const DatasetLimits& limits, const Dataset::RowVisitor& visit,
                 MappedFile* file)
      : ds_(ds), limits_(limits), visit_(visit), file_(file) {}

  Status Scan(std::string_view text) {
    switch (ds_->format_) {
      case DatasetFormat::kJsonLines:
        return ScanJsonLines(text);
      case DatasetFormat::kJsonArray:
        return ScanJsonArray(text);
      case DatasetFormat::kCsv:
        return ScanCsv(text);
    }
    return Status::Internal("unknown dataset format");
  }

 private:
  Status At(uint32_t line, const std::string& what) const {
    return Status::InvalidArgument(ds_->path_ + ":" + std::to_string(line) + ": " + what);
  }

  // Checks size, UTF-8 and depth of one row's text, parses it as a JSON object and adds it.
  Status AddJsonRow(std::string_view text, uint64_t offset, uint32_t line) {
    if (text.size() > limits_.max_row_bytes) {
      return At(line, "the row is " + MiB(text.size()) + ", more than the " +
                          MiB(limits_.max_row_bytes) + " a row may have (max_row_bytes)");
    }
    if (!IsValidUtf8(text)) return At(line, "invalid UTF-8");
    if (JsonTooDeep(text)) {
      return At(line, "nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    }
    nlohmann::json row = nlohmann::json::parse(text, nullptr, false);
    if (row.is_discarded()) return At(line, "invalid JSON");
    if (!row.is_object()) return At(line, "a row must be a JSON object");
    return Add(row, offset, text.size(), line);
  }

  Status ScanJsonLines(std::string_view text) {
    uint64_t pos = 0;
    uint32_t line = 0;
    while (pos < text.size()) {
      size_t nl = text.find('\n', pos);
      size_t end = nl == std::string_view::npos ? text.size() : nl;
      ++line;
      std::string_view row = text.substr(pos, end - pos);
      if (!IsBlank(row)) {
        Status s = AddJsonRow(row, pos, line);
        if (!s.ok()) return s;
      }
      pos = end + 1;
    }
    return Status::OK();
  }

  Status ScanJsonArray(std::string_view text) {
    size_t i = 0;
    uint32_t line = 1;
    auto skip_ws = [&] {
      while (i < text.size() &&
             (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n')) {
        if (text[i] == '\n') ++line;
        ++i;
      }
    };
    if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") i = 3;  // UTF-8 BOM
    skip_ws();
    if (i >= text.size() || text[i] != '[')
      return At(line, "a .json dataset is an array of objects");
    ++i;
    for (bool first = true;; first = false) {
      skip_ws();
      if (i >= text.size()) return At(line, "the array is not closed");
      if (text[i] == ']') {
        ++i;
        skip_ws();
        if (i != text.size()) return At(line, "text after the array");
        return Status::OK();
      }
      if (!first) {
        if (text[i] != ',') return At(line, "expected ',' or ']' between rows");
        ++i;
        skip_ws();
        if (i >= text.size()) return At(line, "the array is not closed");
      }
      size_t start = i;
      uint32_t start_line = line;
      int depth = 0;
      bool in_string = false;
      for (; i < text.size(); ++i) {
        char c = text[i];
        if (c == '\n') ++line;
        if (in_string) {
          if (c == '\\') {
            ++i;
          } else if (c == '"') {
            in_string = false;
          }
          continue;
        }
        if (c == '"') {
          in_string = true;
        } else if (c == '{' || c == '[') {
          ++depth;
        } else if (c == '}' || c == ']') {
          if (depth == 0) break;  // the array's own ']'
          --depth;
        } else if (c == ',' && depth == 0) {
          break;
        }
        if (i - start > limits_.max_row_bytes) break;
      }
      Status s = AddJsonRow(text.substr(start, i - start), start, start_line);
      if (!s.ok()) return s;
    }
  }

  Status ScanCsv(std::string_view text) {
    csv_parser p{};
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0) return Status::Internal("csv_init failed");
    CsvFields f;
    uint64_t pos = 0;
    uint64_t record_start = 0;
    uint32_t line = 0;
    uint32_t record_line = 1;
    bool header_done = false;
    bool in_record = false;  // a record has begun and not yet ended
    Status result = Status::OK();
    if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") pos = record_start = 3;
    auto finish_record = [&](uint64_t end) -> Status {
      std::vector<std::string> fields = std::move(f.fields);
      f.fields.clear();
      f.records = 0;
      if (end - record_start > limits_.max_row_bytes) {
        return At(record_line, "the row is " + MiB(end - record_start) + ", more than the " +
                                   MiB(limits_.max_row_bytes) + " a row may have");
      }
      for (const std::string& field : fields) {
        if (!IsValidUtf8(field)) return At(record_line, "invalid UTF-8");
      }
      if (!header_done) {
        std::vector<std::string> seen;
        for (const std::string& name : fields) {
          if (name.empty()) return At(record_line, "a column of the header has no name");
          if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
            return At(record_line, "the header names column '" + name + "' twice");
          }
          seen.push_back(name);
        }
        ds_->csv_header_ = std::move(fields);
        header_done = true;
        return Status::OK();
      }
      if (fields.size() != ds_->csv_header_.size()) {
        return At(record_line, "a row has " + std::to_string(fields.size()) +
                                   " columns, the header " +
                                   std::to_string(ds_->csv_header_.size()));
      }
      nlohmann::json row = nlohmann::json::object();
      for (size_t c = 0; c < fields.size(); ++c) row[ds_->csv_header_[c]] = std::move(fields[c]);
      return Add(row, record_start, end - record_start, record_line);
    };
    while (pos < text.size() && result.ok()) {
      size_t nl = text.find('\n', pos);
      size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
      ++line;
      std::string_view piece = text.substr(pos, end - pos);
      std::string_view content = piece;
      if (!content.empty() && content.back() == '\n') content.remove_suffix(1);
      if (!in_record && IsBlank(content)) {
        pos = record_start = end;
        record_line = line + 1;
        continue;
      }
      in_record = true;
      if (end - record_start > limits_.max_row_bytes + 1) {
        result = At(record_line,
                    "a row longer than " + MiB(limits_.max_row_bytes) + " (an unclosed quote?)");
        break;
      }
      if (csv_parse(&p, piece.data(), piece.size(), OnField, OnRecord, &f) != piece.size()) {
        result = At(line, std::string("malformed CSV: ") + csv_strerror(csv_error(&p)));
        break;
      }
      if (f.records > 0) {
        result = finish_record(end);
        in_record = false;
        pos = record_start = end;
        record_line = line + 1;
        continue;
      }
      pos = end;
    }
    if (result.ok()) {
      if (csv_fini(&p, OnField, OnRecord, &f) != 0) {
        result = At(record_line, std::string("malformed CSV: ") + csv_strerror(csv_error(&p)) +
                                     " (an unclosed quote?)");
      } else if (f.records > 0) {
        result = finish_record(text.size());
      }
    }
    csv_free(&p);
    if (result.ok() && !header_done) {
      return Status::InvalidArgument(ds_->path_ + ": the CSV file has no header row");
    }
    return result;
  }

  // Hands a checked row to the visitor, then records it.
  Status Add(const nlohmann::json& row, uint64_t offset, uint64_t length, uint32_t line) {
    if (visit_) {
      Status s = visit_(ds_->rows_.size(), row);
      if (!s.ok()) return At(line, s.message());
    }
    ds_->rows_.push_back({offset, static_cast<uint32_t>(length), line, HashOf(row)});
    file_->Release(offset);
    return Status::OK();
  }

  Dataset* ds_;
  DatasetLimits limits_;
  const Dataset::RowVisitor& visit_;
  MappedFile* file_;
};

Result<Dataset> Dataset::Open(const std::string& path, DatasetLimits limits,
                              const RowVisitor& visit) {
  Result<DatasetFormat> format = DatasetFormatOf(path);
  if (!format.ok()) return format.status();
  MappedFile file;
  Status opened = file.Open(path, limits.max_file_bytes);
  if (!opened.ok()) return opened;
  Dataset ds;
  ds.path_ = path;
  ds.format_ = *format;
  Status scanned = DatasetScanner(&ds, limits, visit, &file).Scan(file.view());
  if (!scanned.ok()) return scanned;
  if (ds.rows_.empty()) return Status::InvalidArgument(path + ": the dataset has no rows");
  ds.rows_.shrink_to_fit();
  return ds;
}

Result<nlohmann::json> Dataset::Row(size_t i) const {
  if (i >= rows_.size())
    return Status::InvalidArgument("row " + std::to_string(i) + " of " + path_);
  const RowRef& ref = rows_[i];
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IoError(path_ + ": " + std::strerror(errno));
  std::string text(ref.length, '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n =
        pread(fd, text.data() + got, text.size() - got, static_cast<off_t>(ref.offset + got));
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  std::string where = path_ + ":" + std::to_string(ref.line);
  if (got != text.size()) return Status::IoError(where + ": the file changed since it was read");
  nlohmann::json row;
  if (format_ == DatasetFormat::kCsv) {
    Result<std::vector<std::string>> fields = ParseCsvRecord(text);
    if (!fields.ok() || fields->size() != csv_header_.size()) {
      return Status::IoError(where + ": the file changed since it was read");
    }
    row = nlohmann::json::object();
    for (size_t c = 0; c < fields->size(); ++c) row[csv_header_[c]] = std::move((*fields)[c]);
  } else {
    row = nlohmann::json::parse(text, nullptr, false);
    if (row.is_discarded() || !row.is_object()) {
      return Status::IoError(where + ": the file changed since it was read");
    }
  }
  if (HashOf(row) != ref.hash)
    return Status::IoError(where + ": the file changed since it was read");
  return row;
}

}  // namespace codesweep
