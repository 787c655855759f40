#!/usr/bin/env python3
"""Builds a large codesweep database for benchmarking `codesweep view` (BENCHMARKS.md).

The schema comes from the real binary (a 4-cell simulated sweep run by `codesweep run`) or from
the migrations' SQL files in this tree, then a
sweep "bench" of N synthetic cells is appended with plain SQL: 4 tasks x 4 levels x 5 methods x
3 models, about 96% done, 2% failed, 1% dead, 1% pending; one call per cell (a ~300-byte request
and reply), an execution for every cell that used code, one attempt per leased cell.
The writer's triggers (0013_view_newtable.sql) keep the sums as the rows go in, and each batch of
rows is added to the full-text indexes as the store's commit does (0022_view_search_newtable.sql),
as they are for a coordinator.
Usage: make_view_db.py [--codesweep build/codesweep] --out /tmp/view1m.db [--cells 1000000]
"""
import argparse
import glob
import hashlib
import json
import os
import random
import sqlite3
import subprocess
import tempfile

TASKS = ["game24", "number_multiply", "boxlift", "path_plan"]
LEVELS = ["1", "2", "3", "4"]
METHODS = ["only_question", "all_text", "all_code", "code_interpreter", "code_text_sum"]
MODELS = ["openai:gpt-4o", "anthropic:claude-sonnet", "sim:small"]


def make_schema_from_sql(out):
    """The schema as the Store's migrations make it (schema/sql and report/sql, in version order,
    then user_version), plus a 4-cell sweep "seed" so that every per-sweep query of the viewer
    takes its several-sweeps path. For when no built binary is at hand."""
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    files = glob.glob(os.path.join(root, "schema", "sql", "[0-9]*.sql")) + glob.glob(
        os.path.join(root, "report", "sql", "[0-9]*.sql"))
    files.sort(key=os.path.basename)
    db = sqlite3.connect(out)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA legacy_alter_table = ON")
    for f in files:
        with open(f) as sql:
            db.executescript(sql.read())
    version = max(int(os.path.basename(f)[:4]) for f in files)
    db.execute(f"PRAGMA user_version = {version}")
    db.execute("INSERT INTO sweeps (name, seed, created_ms, updated_ms) VALUES ('seed', 1, 0, 0)")
    db.execute("INSERT INTO variants (content_hash, model, provider, model_name, created_ms)"
               " VALUES ('seed', 'sim:strong', 'sim', 'strong', 0)")
    for i in range(4):
        db.execute("INSERT INTO jobs (cell_key, sweep_id, task, complexity, sample, variant_id,"
                   " method, turns, created_ms, updated_ms) VALUES (?, 1, 'game24', '2', ?, 1,"
                   " 'only_question', 1, 0, 0)", (f"seed{i}", i))
    db.commit()
    db.close()


def make_schema(codesweep, out):
    if not codesweep:
        make_schema_from_sql(out)
        return
    with tempfile.TemporaryDirectory() as d:
        toml = os.path.join(d, "seed.toml")
        with open(toml, "w") as f:
            f.write('name = "seed"\nseed = 1\nsamples = 1\nmethods = ["only_question"]\n'
                    'turns = [1]\n[[tasks]]\nname = "game24"\ncomplexity = ["2", "3"]\n'
                    '[models."sim:strong"]\np_correct = 0.9\n[models."sim:weak"]\np_correct = 0.5\n')
        subprocess.run([codesweep, "run", toml, "--db", out, "--quiet"], check=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--codesweep", help="take the schema from `codesweep run` (default: the"
                    " SQL files of this tree)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--cells", type=int, default=1_000_000)
    a = ap.parse_args()
    if os.path.exists(a.out):
        os.remove(a.out)
    make_schema(a.codesweep, a.out)
    db = sqlite3.connect(a.out)
    # One bulk transaction without a journal, in a 4 GB page cache: written once at the end.
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA cache_size = -4000000")
    rng = random.Random(7)
    now = 1_760_000_000_000
    db.execute("INSERT INTO sweeps (name, seed, source_path, created_ms, updated_ms)"
               " VALUES ('bench', 7, 'bench.toml', ?, ?)", (now, now))
    sweep_id = db.execute("SELECT id FROM sweeps WHERE name = 'bench'").fetchone()[0]
    variants = []
    for m in MODELS:
        provider, name = m.split(":")
        db.execute("INSERT INTO variants (content_hash, model, provider, model_name, created_ms)"
                   " VALUES (?, ?, ?, ?, ?)", (hashlib.sha256(m.encode()).hexdigest(), m,
                                                provider, name, now))
        variants.append(db.execute("SELECT id FROM variants WHERE model = ?", (m,)).fetchone()[0])
    first_id = db.execute("SELECT coalesce(max(id), 0) + 1 FROM jobs").fetchone()[0]
    lease0 = db.execute("SELECT coalesce(max(lease_token), 0) + 1 FROM attempts").fetchone()[0]
    per_sample = len(TASKS) * len(LEVELS) * len(METHODS) * len(MODELS)
    jobs, attempts, results, calls, execs = [], [], [], [], []

    def flush():
        db.executemany("INSERT INTO jobs (id, cell_key, sweep_id, task, complexity, sample,"
                       " variant_id, method, turns, state, attempts, lease_token, worker,"
                       " lease_until_ms, not_before_ms, last_error, created_ms, updated_ms)"
                       " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", jobs)
        db.executemany("INSERT INTO attempts (lease_token, job_id, attempt, worker, started_ms,"
                       " lease_until_ms, ended_ms, outcome, error) VALUES (?,?,?,?,?,?,?,?,?)",
                       attempts)
        db.executemany("INSERT INTO results (job_id, lease_token, final_answer, correct, score,"
                       " passed_by, verdict_reason, code_used, code_ok, turns_used, n_calls,"
                       " n_executions, tokens_in, tokens_out, tokens_estimated, cost_usd,"
                       " wall_ms, extra_json, finished_ms)"
                       " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", results)
        db.executemany("INSERT INTO calls (job_id, lease_token, idx, turn, call_key, request_json,"
                       " response_json, tokens_in, tokens_out, tokens_estimated, latency_ms,"
                       " http_status, attempts, rate_limited, cost_usd, cached, error)"
                       " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", calls)
        db.executemany("INSERT INTO executions (job_id, lease_token, idx, turn, code, status,"
                       " exit_code, signal, wall_ms, cpu_ms, peak_rss_kb, stdout_text,"
                       " stderr_text, stdout_truncated, stderr_truncated, tier)"
                       " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", execs)
        for x in (jobs, attempts, results, calls, execs):
            x.clear()
        # Since 0022 the store's commit fills the full-text indexes (Store::Commit): the same.
        if db.execute("SELECT count(*) FROM sqlite_schema WHERE name = 'view_search_mark'"
                      ).fetchone()[0]:
            db.execute("INSERT INTO reply_search (rowid, response_json) SELECT id, response_json"
                       " FROM calls WHERE id > (SELECT reply_indexed_to FROM view_search_mark)"
                       " ORDER BY id")
            db.execute("UPDATE view_search_mark SET reply_indexed_to = (SELECT max(id) FROM calls)"
                       " WHERE reply_indexed_to < (SELECT ifnull(max(id), 0) FROM calls)")
            db.execute("INSERT INTO answer_search (rowid, final_answer) SELECT r.job_id,"
                       " r.final_answer FROM view_answer_backlog b JOIN results r"
                       " ON r.job_id = b.job_id ORDER BY b.job_id")
            db.execute("DELETE FROM view_answer_backlog")

    for i in range(a.cells):
        job = first_id + i
        sample, r = divmod(i, per_sample)
        r, model_i = divmod(r, len(MODELS))
        r, method_i = divmod(r, len(METHODS))
        task_i, level_i = divmod(r, len(LEVELS))
        task, level, method = TASKS[task_i], LEVELS[level_i], METHODS[method_i]
        key = hashlib.sha256(f"bench|{i}".encode()).digest()
        u = rng.random()
        state = "done" if u < 0.96 else "failed" if u < 0.98 else "dead" if u < 0.99 else "pending"
        error = "" if state in ("done", "pending") else rng.choice(
            ["HTTP 500 from provider", "worker lost", "sandbox: out of memory",
             "request timed out after 120 s"])
        t = now + i * 10
        lease = lease0 + i
        jobs.append((job, key, sweep_id, task, level, sample, variants[model_i], method, 1, state,
                     0 if state == "pending" else 1, 0 if state == "pending" else lease, "",
                     0, 0, error, now, t))
        if state == "pending":
            continue
        attempts.append((lease, job, 1, "w1", t - 900, t + 60_000, t, state, error))
        code = method in ("all_code", "code_interpreter") or (method == "code_text_sum" and u < .5)
        answer = str(rng.randint(1, 10_000))
        reply = (f"Let me work this out step by step for {task} level {level}. "
                 f"The final answer is {answer}.") if not code else (
                     f"```python\nprint({answer})\n```")
        request = json.dumps({"model": MODELS[model_i], "messages": [
            {"role": "user", "content": f"Solve this {task} instance of complexity {level}, "
                                        f"sample {sample}. Think carefully and give the answer."}]})
        response = json.dumps({"choices": [{"message": {"role": "assistant", "content": reply}}]})
        calls.append((job, lease, 0, 1, key.hex(), request, response, 120, 60, 0, 800, 200, 1,
                      1 if u < 0.01 else 0, 0.0009, 0, ""))
        if code:
            execs.append((job, lease, 0, 1, f"print({answer})", "ok", 0, 0, 30, 20, 9000,
                          answer + "\n", "", 0, 0, "plain"))
        if state == "done":
            correct = 1 if rng.random() < 0.3 + 0.1 * method_i + 0.1 * (3 - level_i) / 3 else 0
            results.append((job, lease, answer, correct, float(correct),
                            "code" if code else "reply", "checked by the task's verifier",
                            1 if code else 0, 1 if code else 0, 1, 1, 1 if code else 0,
                            120, 60, 0, 0.0009, 900, "{}", t))
        if len(jobs) >= 20_000:
            flush()
    flush()
    db.commit()
    db.execute("PRAGMA journal_mode = WAL")  # as the Store keeps it
    db.close()
    print(f"{a.out}: {a.cells} cells in sweep 'bench'")


if __name__ == "__main__":
    main()
