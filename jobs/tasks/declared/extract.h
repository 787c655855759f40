// Answer extraction for declared tasks: which part of a model reply (or a program's output) is
// the answer. An extractor is named in a task file by kind ("triple_angle") or as a table with
// its parameters ({ kind = "regex", pattern = "Answer: (.*)" }); a list is an ordered fallback
// chain, and the first extractor that finds something wins. Every extraction records the name of
// the extractor that produced it. Regexes are RE2 (linear time, no backtracking) so a hostile
// reply cannot stall a worker. Pure functions, safe on any bytes; any thread.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "jobs/tasks/declared/template.h"

namespace re2 {
class RE2;
}

namespace codesweep {

enum class ExtractorKind {
  kTripleAngle,   // the last <<<...>>> (the paper's format)
  kBoxed,         // the last \boxed{...}
  kLastNumber,    // the last number: sign, grouping commas, decimals, a/b fractions
  kLastLine,      // the last non-empty line, trimmed
  kChoiceLetter,  // one unambiguous option letter in the final line
  kRegex,         // capture group 1 of the last match of `pattern`
  kJsonField,     // `field` of the last JSON object in the reply
  kWhole,         // the whole reply, trimmed
  // The fallbacks of the paper's dataset tasks (final_answer.h); they read the whole reply.
  kFinalYesNo,      // the one Yes/No that unambiguously ends the reply: "yes" or "no"
  kFinalOption,     // the one option (listed in the prompt) that ends the reply: "(X)"
  kLoneNumberLine,  // the last non-empty line, when it holds exactly one number
};

struct Extractor {
  ExtractorKind kind = ExtractorKind::kTripleAngle;
  std::string name;                       // as recorded with results: "triple_angle", "regex", ...
  std::string choices = "ABCDE";          // kChoiceLetter: the option letters, upper case
  std::shared_ptr<const re2::RE2> regex;  // kRegex
  FieldRef field;                         // kJsonField
  // kTripleAngle, kBoxed: the text exactly as written between the markers, read from the whole
  // reply, even when empty or blank (then the chain stops there and the scorer judges it).
  bool raw = false;
};

// One extractor from its spec: a kind name, or an object with `kind` and its parameters
// (`pattern` for regex, `choices` for choice_letter, `field` for json_field, `raw` for
// triple_angle and boxed). Errors name the
// offending key.
Result<Extractor> ParseExtractor(const nlohmann::json& spec);
// A chain from a string, an object, or a list of them (in order). Empty lists are an error.
Result<std::vector<Extractor>> ParseExtractorChain(const nlohmann::json& spec);

struct Extracted {
  std::string answer;
  std::string source;   // the name of the extractor that found it
  size_t position = 0;  // its index in the chain (0: the primary one, else a fallback)
};

// The first extractor of `chain` that finds an answer in `reply`, or nullopt. `prompt` is the
// question the reply answers (kFinalOption reads the options listed in it).
std::optional<Extracted> ExtractAnswer(std::string_view reply, const std::vector<Extractor>& chain,
                                       std::string_view prompt = {});
// One extractor alone.
std::optional<std::string> ExtractWith(std::string_view reply, const Extractor& extractor,
                                       std::string_view prompt = {});

// `answer` written so that `extractor` reads it back (for reference programs): <<<a>>>,
// \boxed{a}, a JSON object for json_field, the bare text otherwise.
std::string FormatAnswerFor(const Extractor& extractor, std::string_view answer);

// The text of the last number in `text` ("1,234.5", "-3/4", "2e10"), or nullopt.
std::optional<std::string> LastNumberText(std::string_view text);
// The option letter the final line of `text` names unambiguously: the whole line is one letter
// ("B", "(B)", "**B.**", "Answer: B"), or exactly one distinct "(X)" appears in it. Lines that
// name two options, or none, give nullopt.
std::optional<char> UnambiguousChoice(std::string_view text, std::string_view choices);

}  // namespace codesweep
