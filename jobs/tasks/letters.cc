// letters: count one letter in a word and give its 1-based positions. Complexity "LO-HI_F": word
// length in [LO, HI) and exactly F occurrences of the letter. Real words from
// data/letters/words.txt where at least kMinReal fit, synthesized lowercase strings otherwise.
#include <algorithm>
#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "base/hash.h"
#include "jobs/tasks/common.h"
#include "jobs/tasks/factories.h"

namespace codesweep {
namespace {

constexpr int kMaxLength = 1000;
constexpr int kMaxFreq = 20;
constexpr size_t kMinReal = 5;  // fewer real candidates than this: synthesize
constexpr int kMaxIndexedLength = 64;
// The letters the original asks about (string.ascii_lowercase[::6] in its runner).
constexpr char kLetters[] = "agmsy";

struct Level {
  int lo = 0, hi = 0, freq = 0;
};

Result<Level> ParseLevel(std::string_view c) {
  auto bad = [&] {
    return Status::InvalidArgument(
        "letters complexity must be LO-HI_F (length in [LO,HI), F "
        "occurrences), e.g. 10-15_3; got '" +
        Truncate(c, 40) + "'");
  };
  size_t dash = c.find('-'), us = c.find('_');
  if (dash == std::string_view::npos || us == std::string_view::npos || us < dash) return bad();
  auto lo = ParseInt(c.substr(0, dash), 1, kMaxLength);
  auto hi = ParseInt(c.substr(dash + 1, us - dash - 1), 2, kMaxLength + 1);
  auto f = ParseInt(c.substr(us + 1), 1, kMaxFreq);
  if (!lo || !hi || !f || *lo >= *hi || *f > *hi - 1) return bad();
  return Level{static_cast<int>(*lo), static_cast<int>(*hi), static_cast<int>(*f)};
}

std::vector<int> Positions(const std::string& word, char letter) {
  std::vector<int> out;
  for (size_t i = 0; i < word.size(); ++i) {
    if (word[i] == letter) out.push_back(static_cast<int>(i + 1));
  }
  return out;
}

std::string AnswerText(const std::vector<int>& pos) {
  std::string list;
  for (int p : pos) list += (list.empty() ? "" : ", ") + std::to_string(p);
  return "Count: " + std::to_string(pos.size()) + ", Positions: [" + list + "]";
}

// Parses "Count: X, Positions: [a, b, ...]" starting at the last "count" in `text`.
bool ParseCountPositions(std::string_view text, int64_t* count, std::set<int64_t>* positions,
                         std::string* error) {
  size_t at = std::string_view::npos;
  for (size_t p = FindNoCase(text, "count"); p != std::string_view::npos;
       p = FindNoCase(text, "count", p + 1)) {
    at = p;
  }
  if (at == std::string_view::npos) return *error = "no 'Count:' found", false;
  size_t i = at + 5;
  while (i < text.size() && (text[i] == ':' || text[i] == ' ' || text[i] == '=')) ++i;
  size_t j = i;
  while (j < text.size() && j - i < 12 && text[j] >= '0' && text[j] <= '9') ++j;
  auto c = ParseInt(text.substr(i, j - i), 0, INT64_MAX);
  if (!c) return *error = "no number after 'Count:'", false;
  *count = *c;
  size_t pk = FindNoCase(text, "positions", j);
  if (pk == std::string_view::npos) return *error = "no 'Positions:' after the count", false;
  size_t open = text.find('[', pk);
  size_t close = open == std::string_view::npos ? open : text.find(']', open);
  if (close == std::string_view::npos) return *error = "no [...] list of positions", false;
  for (std::string_view item : SplitOn(text.substr(open + 1, close - open - 1), ',')) {
    item = TrimAscii(item);
    if (item.empty()) continue;
    auto v = ParseInt(item, 0, INT64_MAX);
    if (!v) return *error = "bad position '" + Truncate(item, 20) + "'", false;
    positions->insert(*v);
  }
  return true;
}

constexpr char kReference[] = R"PY(# Count a letter in a word and list its 1-based positions.
def count_letter(word, letter):
    positions = [i + 1 for i, ch in enumerate(word) if ch == letter]
    return len(positions), positions


)PY";

class LettersTask : public Task {
 public:
  explicit LettersTask(std::vector<std::string> words) : words_(std::move(words)) {
    // index_[len][letter][count] = words of that length with exactly `count` of `letter`.
    index_.resize(kMaxIndexedLength + 1);
    for (uint32_t w = 0; w < words_.size(); ++w) {
      const std::string& word = words_[w];
      if (word.size() > static_cast<size_t>(kMaxIndexedLength)) continue;
      std::array<int, 26> counts{};
      for (char ch : word) counts[ch - 'a']++;
      for (int l = 0; l < 26; ++l) {
        if (counts[l] == 0 || counts[l] > kMaxFreq) continue;
        auto& by_count = index_[word.size()][l];
        if (by_count.size() <= static_cast<size_t>(counts[l])) by_count.resize(counts[l] + 1);
        by_count[counts[l]].push_back(w);
      }
    }
  }

  std::string_view name() const override { return "letters"; }
  std::string_view description() const override {
    return "Count a letter in a word and give its 1-based positions (LO-HI_F: length bin, count)";
  }
  std::vector<std::string> complexity_levels() const override {
    std::vector<std::string> out;
    for (const char* bin : {"5-10", "10-15", "15-20", "20-25", "25-30", "30-50"}) {
      for (int f = 1; f <= 5; ++f) out.push_back(std::string(bin) + "_" + std::to_string(f));
    }
    return out;
  }
  Status ValidateComplexity(std::string_view c) const override { return ParseLevel(c).status(); }
  int64_t InstanceCount(std::string_view) const override { return -1; }

  Result<Instance> Generate(std::string_view complexity, int64_t sample,
                            uint64_t seed) const override {
    CS_ASSIGN_OR_RETURN(Level level, ParseLevel(complexity));
    Rng rng(InstanceSeed(name(), complexity, sample, seed));
    char letter = kLetters[rng.Uniform(0, static_cast<int64_t>(sizeof kLetters) - 2)];
    bool real = false;
    std::string word = PickRealWord(level, letter, rng);
    if (!word.empty()) {
      real = true;
    } else {
      word = Synthesize(level, letter, rng);
    }
    std::vector<int> pos = Positions(word, letter);
    Instance inst;
    inst.task = std::string(name());
    inst.complexity = std::string(complexity);
    inst.sample = sample;
    inst.seed = seed;
    // The original's prompt (benchmark/run_letters_baseline_methods.py), byte for byte.
    inst.prompt = "How many '" + std::string(1, letter) + "'s are in the word '" + word +
                  "' and what are their positions? The position in the word counts from 1 not "
                  "0.\nSurround the answer with <<<content>>>. Please respond in the format: "
                  "<<<Count: X, Positions: [Y, Z, ...]>>>, such as <<<Count: 2, Positions: [1, "
                  "3]>>>.\nYour answer:\n";
    inst.truth = AnswerText(pos);
    inst.canonical_answer = inst.truth;
    inst.data = {{"word", word},
                 {"letter", std::string(1, letter)},
                 {"positions", pos},
                 {"real_word", real}};
    return inst;
  }

  Verdict Check(const Instance& instance, std::string_view answer) const override {
    Verdict v;
    std::vector<int> truth = instance.data.value("positions", std::vector<int>());
    std::optional<std::string> inner = LastTripleAngle(answer);
    std::string_view text = inner ? std::string_view(*inner) : answer;
    int64_t count = -1;
    std::set<int64_t> got;
    std::string error;
    bool parsed = ParseCountPositions(text, &count, &got, &error);
    v.source =
        inner ? AnswerSource::kTags : (parsed ? AnswerSource::kFallback : AnswerSource::kNone);
    if (!parsed) {
      v.reason = inner ? error : "no <<<answer>>>; " + error;
      v.parsed = Truncate(text, 120);
      return v;
    }
    std::string list;
    for (int64_t p : got) list += (list.empty() ? "" : ", ") + std::to_string(p);
    v.parsed = Truncate("Count: " + std::to_string(count) + ", Positions: [" + list + "]");
    std::set<int64_t> want(truth.begin(), truth.end());
    if (count != static_cast<int64_t>(truth.size())) {
      v.reason = "wrong count";
    } else if (got != want) {
      v.reason = "wrong positions";
    } else {
      v.correct = true;
      v.score = 1.0;
      v.reason = "ok";
    }
    return v;
  }

  std::string ReferenceSolution(const Instance& instance) const override {
    return std::string(kReference) +
           "word = " + PyStringLiteral(instance.data.value("word", std::string())) +
           "\nletter = " + PyStringLiteral(instance.data.value("letter", std::string())) +
           "\ncount, positions = count_letter(word, letter)\n"
           "print(f\"<<<Count: {count}, Positions: {positions}>>>\")\n";
  }

 private:
  std::string PickRealWord(const Level& level, char letter, Rng& rng) const {
    size_t total = 0;
    for (int len = level.lo; len < level.hi && len <= kMaxIndexedLength; ++len) {
      total += Bucket(len, letter, level.freq).size();
    }
    if (total < kMinReal) return "";
    size_t k = static_cast<size_t>(rng.Uniform(0, static_cast<int64_t>(total) - 1));
    for (int len = level.lo; len < level.hi; ++len) {
      const std::vector<uint32_t>& b = Bucket(len, letter, level.freq);
      if (k < b.size()) return words_[b[k]];
      k -= b.size();
    }
    return "";
  }

  const std::vector<uint32_t>& Bucket(int len, char letter, int freq) const {
    static const std::vector<uint32_t> kEmpty;
    const auto& by_count = index_[len][letter - 'a'];
    return static_cast<size_t>(freq) < by_count.size() ? by_count[freq] : kEmpty;
  }

  // A random lowercase string of length in [max(lo, freq), hi) with exactly freq `letter`s.
  static std::string Synthesize(const Level& level, char letter, Rng& rng) {
    int len = static_cast<int>(rng.Uniform(std::max(level.lo, level.freq), level.hi - 1));
    std::string s(len, ' ');
    std::vector<int> slots(len);
    for (int i = 0; i < len; ++i) slots[i] = i;
    for (int i = 0; i < level.freq; ++i) {
      int j = static_cast<int>(rng.Uniform(i, len - 1));
      std::swap(slots[i], slots[j]);
      s[slots[i]] = letter;
    }
    for (char& ch : s) {
      if (ch != ' ') continue;
      int other = static_cast<int>(rng.Uniform(0, 24));
      ch = static_cast<char>('a' + (other >= letter - 'a' ? other + 1 : other));
    }
    return s;
  }

  std::vector<std::string> words_;
  std::vector<std::array<std::vector<std::vector<uint32_t>>, 26>> index_;
};

}  // namespace

Result<std::unique_ptr<Task>> MakeLettersTask(const std::string& data_dir) {
  std::string path = data_dir + "/letters/words.txt";
  CS_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(path));
  std::vector<std::string> words;
  for (std::string_view line : SplitOn(text, '\n')) {
    line = TrimAscii(line);
    if (line.empty()) continue;
    if (!std::all_of(line.begin(), line.end(), [](char c) { return c >= 'a' && c <= 'z'; })) {
      return Status::Corruption(path + ": word '" + Truncate(line, 40) + "' is not [a-z]+");
    }
    words.emplace_back(line);
  }
  if (words.empty()) return Status::Corruption(path + ": no words");
  return std::unique_ptr<Task>(std::make_unique<LettersTask>(std::move(words)));
}

}  // namespace codesweep
