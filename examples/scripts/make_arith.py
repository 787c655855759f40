#!/usr/bin/env python3
"""Writes data/declared_example/arith.jsonl, the small dataset of examples/declared.toml
(docs/tasks.md). Run from the repository root.

Every row is generated here, from a fixed seed, by this script and nothing else: no third-party
data. Run it again to check the file (the output is byte-identical).
"""
import json
import random

rng = random.Random(15)
TEMPLATES = [
    ("easy", "Ana has {a} apples and buys {b} more. How many apples does she have?",
     lambda a, b: a + b),
    ("easy", "A box holds {a} pens. {b} pens are taken out. How many pens are left?",
     lambda a, b: a - b),
    ("hard", "A train travels {a} km every hour for {b} hours. How many km does it travel?",
     lambda a, b: a * b),
    ("hard", "{a} cookies are shared equally by {b} children. How many does each child get?",
     lambda a, b: a // b),
]
rows = []
for i in range(16):
    level, text, fn = TEMPLATES[i % len(TEMPLATES)]
    b = rng.randint(2, 9)
    a = rng.randint(b + 1, 60)
    if "shared" in text:
        a = b * rng.randint(2, 12)
    rows.append({"id": f"arith-{i:02d}", "question": text.format(a=a, b=b),
                 "answer": fn(a, b), "level": level})
with open("data/declared_example/arith.jsonl", "w") as f:
    for r in rows:
        f.write(json.dumps(r) + "\n")
