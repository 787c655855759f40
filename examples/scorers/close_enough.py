# A Python scorer for examples/declared.toml (docs/tasks.md). codesweep runs it in the sandbox
# with the extracted answer, the dataset row and the whole reply; it returns a bool, a score in
# [0, 1], or a dict with correct, score and reason.


def score(answer, row, reply):
    try:
        got = float(answer.replace(",", ""))
    except ValueError:
        return {"correct": False, "score": 0.0, "reason": f"not a number: {answer!r}"}
    want = float(row["answer"])
    if got == want:
        return {"correct": True, "reason": "exact"}
    # Partial credit within 10 %.
    off = abs(got - want) / max(abs(want), 1.0)
    partial = max(0.0, 1.0 - off * 10)
    return {"correct": False, "score": round(partial, 3), "reason": f"off by {off:.1%}"}
