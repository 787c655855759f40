#include "jobs/llm/sim/sim_answers.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <vector>

namespace codesweep::sim {

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// `text` with the first occurrence of `question` removed (the instruction around it).
std::string WithoutQuestion(const std::string& text, std::string_view question) {
  if (question.empty()) return text;
  size_t at = text.find(question);
  if (at == std::string::npos) return text;
  return text.substr(0, at) + text.substr(at + question.size());
}

bool ContainsAny(const std::string& haystack, std::initializer_list<const char*> needles) {
  for (const char* n : needles) {
    if (haystack.find(n) != std::string::npos) return true;
  }
  return false;
}

// The system messages and the first user message, lower-cased, question removed.
std::string Instruction(const LlmRequest& request, std::string_view question) {
  std::string out;
  bool seen_user = false;
  for (const ChatMessage& m : request.messages) {
    if (m.role == "system") out += WithoutQuestion(m.content, question) + "\n";
    if (m.role == "user" && !seen_user) {
      out += WithoutQuestion(m.content, question) + "\n";
      seen_user = true;
    }
  }
  return Lower(out);
}

bool HasRole(const LlmRequest& request, std::string_view role) {
  return std::any_of(request.messages.begin(), request.messages.end(),
                     [&](const ChatMessage& m) { return m.role == role; });
}

}  // namespace

Phase DetectPhase(const LlmRequest& request, std::string_view question) {
  if (!request.tools.empty())
    return HasRole(request, "tool") ? Phase::kToolFinal : Phase::kToolStart;
  const std::string instruction = Instruction(request, question);
  if (instruction.find("confidence score") != std::string::npos) return Phase::kSelfEstimate;
  if (!request.messages.empty() && request.messages.back().role == "user" &&
      HasRole(request, "assistant") &&
      request.messages.back().content.find("TERMINATE") != std::string::npos) {
    return Phase::kRefine;
  }
  if (instruction.find("two agents") != std::string::npos) return Phase::kSummarize;
  return Phase::kAnswer;
}

Mode DetectMode(const LlmRequest& request, std::string_view question) {
  const std::string instruction = Instruction(request, question);
  if (ContainsAny(instruction, {"do not output code", "do not output any code", "do not write code",
                                "without writing code"})) {
    return Mode::kText;
  }
  if (ContainsAny(instruction, {"python code", "coding skills", "```python", "python block",
                                "use code", "using code", "`python` tool"})) {
    return Mode::kCode;
  }
  return Mode::kChoose;
}

std::optional<std::string> LastAnswerIn(std::string_view s) {
  size_t open = s.rfind("<<<");
  while (open != std::string_view::npos) {
    size_t close = s.find(">>>", open + 3);
    if (close != std::string_view::npos) return std::string(s.substr(open + 3, close - open - 3));
    if (open == 0) break;
    open = s.rfind("<<<", open - 1);
  }
  return std::nullopt;
}

std::string PyLiteral(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
}

namespace {

// Candidate wrong answers made by small edits of the canonical one, most plausible first.
std::vector<std::string> Mutations(const std::string& a) {
  std::vector<std::string> out;
  const std::pair<const char*, const char*> kSwaps[] = {
      {"Yes", "No"},     {"No", "Yes"},     {"yes", "no"},     {"no", "yes"},
      {"True", "False"}, {"False", "True"}, {"true", "false"}, {"false", "true"}};
  for (const auto& [from, to] : kSwaps) {
    if (a == from) out.push_back(to);
  }
  for (size_t i = a.size(); i-- > 0;) {
    char c = a[i];
    if (c >= 'A' && c <= 'F' && i > 0 && a[i - 1] == '(') {
      std::string m = a;
      m[i] = c == 'A' ? 'B' : static_cast<char>(c - 1);
      out.push_back(m);
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      std::string m = a;
      m[i] = c == '9' ? '1' : static_cast<char>(c + 1);
      out.push_back(m);
      break;
    }
  }
  if (!a.empty()) out.push_back(a.substr(0, a.size() - 1));
  out.push_back(a + "0");
  out.push_back("0");
  out.push_back("none");
  return out;
}

}  // namespace

std::string WrongAnswer(const Task& task, const Instance& instance) {
  for (const std::string& m : Mutations(instance.canonical_answer)) {
    if (!task.Check(instance, "<<<" + m + ">>>").correct) return m;
  }
  return "";
}

std::string TextReply(const std::string& answer) {
  return "Let me reason about this step by step.\n"
         "First I restate what is asked, then I work through the constraints one at a time, "
         "checking each intermediate result before moving on.\n"
         "Putting it together, the final answer is:\n<<<" +
         answer + ">>>";
}

std::string CodeReply(const std::string& code) {
  std::string body = code;
  if (body.empty() || body.back() != '\n') body += '\n';
  return "I will solve this with a Python program that computes the answer.\n\n```python\n" + body +
         "```\n";
}

std::string WrongCode(const Task& task, const Instance& instance, double p_hang, Rng& rng) {
  double u = rng.Unit();
  if (u < p_hang) {
    return "# The search below never reaches its stopping condition.\n"
           "import time\n"
           "while True:\n"
           "    time.sleep(0.05)\n";
  }
  if (rng.Bernoulli(0.5)) {
    std::string wrong = WrongAnswer(task, instance);
    if (wrong.empty()) wrong = "unknown";
    return "# A quick estimate instead of a full search.\n"
           "answer = " +
           PyLiteral(wrong) + "\nprint('<<<' + answer + '>>>')\n";
  }
  return "# An indexing slip before the real work starts.\n"
         "values = []\n"
         "first = values[0]\n" +
         task.ReferenceSolution(instance);
}

}  // namespace codesweep::sim
