#!/usr/bin/env python3
"""A store with N open conflicts for measuring `kimera resolve --auto` and the review page.

Usage: kimera --db big.db stats >/dev/null   # creates the schema
       scripts/make-conflicts-store.py big.db 100000

Two statements per conflict (2N statements), recorded at distinct times (recency decides
every one but the ties planted every 10th), sources split between two files, one scar
per conflict. Written with SQL directly: a benchmark fixture, not a way to load data.
"""
import json
import random
import sqlite3
import sys

db, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(42)
c = sqlite3.connect(db)
assert c.execute("PRAGMA user_version").fetchone()[0] >= 6, "run `kimera --db DB stats` first"
geoids, scars, conflicts = [], [], []
for i in range(n):
    a, b = f"a{i:08d}", f"b{i:08d}"
    ta = 1_600_000_000 + rng.randrange(10**7)
    tb = ta if i % 10 == 0 else ta + rng.randrange(1, 10**6) * rng.choice([-1, 1])
    for gid, t, src in ((a, ta, "old.csv"), (b, tb, "new.csv")):
        geoids.append((gid, f"Statement {gid} says {rng.randrange(1000)}.", "en",
                       rng.randbytes(32), rng.getrandbits(63), f"{src}:{i + 2}", t))
    score = round(rng.uniform(0.5, 1.0), 4)
    ev = json.dumps({"rule": "numbers", "tokens": [str(i), str(i + 1)]})
    scars.append((a, b, score, "lexical", ev, ta))
    conflicts.append((a, b, "number", score, ta))
c.executemany("INSERT INTO geoids (id, text, lang, text_hash, dedupe_key, source, created_at)"
              " VALUES (?,?,?,?,?,?,?)", geoids)
c.executemany("INSERT INTO scars (a, b, score, detector, evidence, created_at)"
              " VALUES (?,?,?,?,?,?)", scars)
c.executemany("INSERT INTO conflicts (a, b, kind, score, detectors, status, created_at)"
              " VALUES (?,?,?,?,1,'open',?)", conflicts)
c.commit()
print(f"{n} open conflicts between {2 * n} statements in {db}")
