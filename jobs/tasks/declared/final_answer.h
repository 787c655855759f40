// The answer readers the paper's dataset tasks (BBH, gsm_hard) were judged with, as general
// declared-task features (issue 15): Yes/No words, option letters of a question that lists its
// options as "(X) text" lines, and the unambiguous fallbacks for replies without <<<answer>>>.
// Pure functions, linear in the input, safe on any bytes; any thread.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace codesweep {

// The options "(X) text" listed one per line in `question` (text lower-cased).
std::map<char, std::string> ListedOptions(std::string_view question);

// "yes" / "no" when the short answer `t` starts with that word (quotes, '*', '.', '$' and an
// "Answer:" prefix stripped); "" otherwise (e.g. "Incorrect").
std::string YesNoWord(std::string_view t);

// The option a short answer names: the exact text of one of `options` (case-insensitive), or a
// letter written "(C)", "C", "C)", "C:", "(C) text", else the last "(X)" in it; letters up to
// the last listed option ('G' when none are listed). "(C)", or "" when it names none.
std::string OptionOfAnswer(std::string_view t, const std::map<char, std::string>& options);

// The Yes/No that unambiguously ends `reply`: its last non-empty line (or, when that line names
// both, the line's last sentence) names exactly one of yes/no, ends with it, and, if longer than
// four words, says "answer" before it; not a question, not the last item of a list of options.
// "yes", "no", or "" when there is none.
std::string FinalYesNo(std::string_view reply);

// The option that unambiguously ends `reply`, by the same rules: "(X)" or the exact text of a
// listed option name it; the option's own text may follow its letter. "(X)" or "".
std::string FinalOption(std::string_view reply, const std::map<char, std::string>& options);

// The last non-empty line of `reply` when it holds exactly one number (digits joined by ',', '.'
// or '/') and that number reads as a finite value; nullopt otherwise (an ambiguous last line is
// no answer).
std::optional<std::string> LoneNumberLine(std::string_view reply);

}  // namespace codesweep
