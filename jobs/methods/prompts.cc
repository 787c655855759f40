// The prompt texts. Sources (PAPER.md §3.1): the paper's prompt.py is known only as a
// paraphrase, so every text here is written from that description; the AutoGen text is the stock
// AssistantAgent system message. "ours" marks prompts the paper does not give at all.
// The sim model recognises a few cue phrases in these texts (docs/methods.md lists them); keep
// them when editing: "Do not output code", "coding skills", "python code", "`python` tool",
// "two agents", "confidence score", "TERMINATE".
#include "jobs/methods/prompts.h"

namespace codesweep::prompts {

const std::string_view kAllText =
    "Analyze the question step by step and list the careful points to consider. Then derive the "
    "answer step by step by textual reasoning. At the end, state the answer directly in the "
    "required format. Do not output code for execution: answer by textual reasoning only.";

const std::string_view kAllCode =
    "You are a helpful AI assistant. Solve the following task with your coding skills. Write "
    "Python code for the user to execute: output exactly one code block, starting with "
    "```python, whose printed output is the final answer in the required format. Use the "
    "'print' function for the output; do not ask the user to copy and paste results.";

const std::string_view kAllCodeCot =
    "You are a helpful AI assistant. Solve the following task with your coding skills. Propose "
    "Python code (or a shell script) for the user to execute. Output only one code block in your "
    "reply. Use the 'print' function for the output when relevant; do not ask the user to copy "
    "and paste results. Think the task through step by step: first explain your plan, then give "
    "the code. Textual reasoning may come before the final code block. Start the code block with "
    "```python, and make the program print the final answer in the required format.";

const std::string_view kAutoGen =
    "You are a helpful AI assistant.\n"
    "Solve tasks using your coding and language skills.\n"
    "In the following cases, suggest python code (in a python coding block) or shell script (in a "
    "sh coding block) for the user to execute.\n"
    "    1. When you need to collect info, use the code to output the info you need, for example, "
    "browse or search the web, download/read a file, print the content of a webpage or a file, "
    "get the current date/time, check the operating system. After sufficient info is printed and "
    "the task is ready to be solved based on your language skill, you can solve the task by "
    "yourself.\n"
    "    2. When you need to perform some task with code, use the code to perform the task and "
    "output the result. Finish the task smartly.\n"
    "Solve the task step by step if you need to. If a plan is not provided, explain your plan "
    "first. Be clear which step uses code, and which step uses your language skill.\n"
    "When using code, you must indicate the script type in the code block. The user cannot "
    "provide any other feedback or perform any other action beyond executing the code you "
    "suggest. The user can't modify your code. So do not suggest incomplete code which requires "
    "users to modify. Don't use a code block if it's not intended to be executed by the user.\n"
    "If you want the user to save the code in a file before executing it, put # filename: "
    "<filename> inside the code block as the first line. Don't include multiple code blocks in "
    "one response. Do not ask users to copy and paste the result. Instead, use 'print' function "
    "for the output when relevant. Check the execution result returned by the user.\n"
    "If the result indicates there is an error, fix the error and output the code again. Suggest "
    "the full code instead of partial code or code changes. If the error can't be fixed or if "
    "the task is not solved even after the code is executed successfully, analyze the problem, "
    "revisit your assumption, collect additional info you need, and think of a different "
    "approach to try.\n"
    "When you find an answer, verify the answer carefully. Include verifiable evidence in your "
    "response if possible.\n"
    "Reply \"TERMINATE\" in the end when everything is done.";

const std::string_view kRefineWithCode =
    "Above are the execution results of your code. List the careful points of the task and check "
    "the output against them. If the code has errors or the answer is not right yet, output "
    "improved Python code that fixes them: one code block, with '# filename: <name>' as its "
    "first line. If the task is solved, give the final answer in the required format and reply "
    "TERMINATE.";

const std::string_view kRefineWithoutCode =
    "Review your previous answer. List the careful points of the task and check each step of "
    "your reasoning against them. If you find a mistake, give a corrected answer in the required "
    "format. If your answer is final, repeat it in the required format and reply TERMINATE.";

const std::string_view kSummarizer =
    "You are given a question and the answers of two agents to it. The agents may have used "
    "code; their replies and the results of executing their code follow. Analyse the question "
    "and both answers, then give the final answer in the required format. You may write one "
    "Python code block if it helps. Try to do better than both agents: pick the best answer, or "
    "propose a new one if both are wrong.";

const std::string_view kSummarizerClose =
    "Now analyse the question and both agents' answers, and output the final answer in the "
    "required format.";

const std::string_view kCodeInterpreterPlus =
    "Solve the following task by using the `python` tool: write and run Python code that "
    "computes the answer, read its output, fix the code if needed, and only then give the final "
    "answer in the required format. Prefer computing with code over reasoning in text.";

const std::string_view kSelfEstimate =
    "Before solving the question below, estimate how well you could solve it in two ways: "
    "(1) by writing and executing Python code, (2) by textual reasoning without code. Give each "
    "a confidence score from 0 (certain to fail) to 10 (certain to succeed). Do not solve the "
    "question yet. Reply in exactly this format:\n"
    "Code score: <0-10>\n"
    "Text score: <0-10>";

const std::string_view kPythonToolDescription =
    "Runs a Python 3 program in a sandbox and returns its standard output and errors. The "
    "program must print what you want to see. Available: the standard library, numpy, sympy, "
    "scipy, networkx. No network access.";

const std::string_view kPythonToolParameters =
    R"({"type":"object","properties":{"code":{"type":"string","description":"The complete Python 3 program to run."}},"required":["code"]})";

}  // namespace codesweep::prompts
