#!/usr/bin/env bash
# Sentences/s and peak RSS of `kimera embed` vs Python sentence-transformers
# (model.encode(batch_size=64), torch on the same number of threads), on the same
# 10,000 varied sentences (SICK + original Kimera CSV texts, en/fr/ar), in one run.
#
# Usage: scripts/bench-embed-vs-python.sh [N_SENTENCES=10000] [THREADS=2]
# Env:   KIMERA_BIN (default target/release/kimera; built if missing),
#        BENCH_DIR (default /tmp/kimera-bench-embed), SHARED_DATA (default ../shared/data),
#        KIMERA_EMBED_ARGS (extra args for `kimera embed`, e.g. "--precision f32 --batch 32")
# Needs: the model (scripts/fetch-model.sh), python3 with sentence-transformers.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-10000}"
THREADS="${2:-2}"
BIN="${KIMERA_BIN:-target/release/kimera}"
DIR="${BENCH_DIR:-/tmp/kimera-bench-embed}"
DATA="${SHARED_DATA:-../shared/data}"
MODEL_DIR="${KIMERA_MODEL_DIR:-${KIMERA_HOME:-$HOME/.cache/kimera}/models/all-MiniLM-L6-v2}"
mkdir -p "$DIR"
[[ -x "$BIN" ]] || cargo build --release -p kimera-cli
scripts/fetch-model.sh >/dev/null

echo "== sentences: $N from $DATA (SICK + Kimera CSVs)"
python3 - "$DATA" "$N" "$DIR/sentences.csv" <<'PY'
import csv, sys, os
data, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
seen, rows = set(), []
def add(text, lang):
    key = (" ".join(text.lower().split()).rstrip(".!?"), lang)
    if text.strip() and key not in seen:
        seen.add(key); rows.append((text, lang))
sick = [l.rstrip("\n").split("\t") for f in ("sick_train.tsv", "sick_trial.tsv")
        for l in list(open(os.path.join(data, "sick", f), encoding="utf-8"))[1:]]
kim = []
for r in csv.DictReader(open(os.path.join(data, "kimera", "contradictions_2k.csv"), encoding="utf-8")):
    kim.append((r["text"], r["lang"]))
for r in csv.DictReader(open(os.path.join(data, "kimera", "mixed_5k.csv"), encoding="utf-8")):
    kim += [(r["text1"], r["lang"]), (r["text2"], r["lang"])]
# interleave: 60% SICK (short), 40% Kimera (longer, en/fr/ar)
s_it = iter([(c, "en") for r in sick for c in (r[1], r[2])]); k_it = iter(kim)
while len(rows) < n:
    progressed = False
    for it, k in ((s_it, 3), (k_it, 2)):
        for _ in range(k):
            x = next(it, None)
            if x is not None:
                add(*x); progressed = True
    if not progressed:
        break
rows = rows[:n]
with open(out, "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f); w.writerow(["text", "lang"]); w.writerows(rows)
print(f"{len(rows)} sentences written to {out}")
PY

rm -f "$DIR/bench.db" "$DIR/bench.db-wal" "$DIR/bench.db-shm"
"$BIN" --quiet ingest "$DIR/sentences.csv" --db "$DIR/bench.db" >/dev/null

echo "== load before kimera: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min), $(nproc) cores"
/usr/bin/time -v "$BIN" embed --db "$DIR/bench.db" --workers "$THREADS" ${KIMERA_EMBED_ARGS:-} \
  >"$DIR/kimera.out" 2>"$DIR/kimera.time"
cat "$DIR/kimera.out"
K_RSS=$(awk -F': ' '/Maximum resident/ {print $2}' "$DIR/kimera.time")
K_WALL=$(awk -F': ' '/Elapsed \(wall/ {print $2}' "$DIR/kimera.time")
K_USER=$(awk -F': ' '/User time/ {print $2}' "$DIR/kimera.time")

echo "== load before python: $(cut -d' ' -f1-3 /proc/loadavg)"
cat >"$DIR/st_bench.py" <<'PY'
import sqlite3, sys, time, json
import numpy as np, torch
from sentence_transformers import SentenceTransformer
db, model_dir, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
torch.set_num_threads(threads)
con = sqlite3.connect(db)
texts = [r[0] for r in con.execute("SELECT text FROM geoids ORDER BY seq")]
m = SentenceTransformer(model_dir, device="cpu")
m.encode(texts[:64], batch_size=64)  # warm-up
t0 = time.perf_counter()
ref = m.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
dt = time.perf_counter() - t0
# parity with what kimera stored, per model id found in the store
par = {}
for (model,) in con.execute("SELECT DISTINCT model FROM embeddings"):
    rows = dict(con.execute(
        "SELECT g.text, e.vector FROM geoids g JOIN embeddings e "
        "ON e.text_hash = g.text_hash AND e.model = ?", (model,)).fetchall())
    cos = np.array([float(np.dot(np.frombuffer(rows[t], dtype="<f4"), ref[i]))
                    for i, t in enumerate(texts) if t in rows])
    par[model] = {"n": int(cos.size), "min_cos": float(cos.min()), "mean_cos": float(cos.mean())}
print(json.dumps({"texts": len(texts), "seconds": dt, "per_sec": len(texts) / dt, "parity": par}))
PY
/usr/bin/time -v python3 "$DIR/st_bench.py" "$DIR/bench.db" "$MODEL_DIR" "$THREADS" \
  >"$DIR/python.out" 2>"$DIR/python.time"
cat "$DIR/python.out"
P_RSS=$(awk -F': ' '/Maximum resident/ {print $2}' "$DIR/python.time")
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$DIR" "$K_RSS" "$P_RSS" "$K_WALL" "$K_USER" <<'PY'
import json, re, sys
d, k_rss, p_rss, k_wall, k_user = sys.argv[1:]
k = open(f"{d}/kimera.out").read()
kps = float(re.search(r"([\d.]+) sentences/s", k).group(1))
p = json.loads(open(f"{d}/python.out").read().strip().splitlines()[-1])
print(f"kimera embed : {kps:8.1f} sentences/s  peak RSS {int(k_rss)/1024:7.0f} MB  (wall {k_wall}, user {k_user} s)")
print(f"python st    : {p['per_sec']:8.1f} sentences/s  peak RSS {int(p_rss)/1024:7.0f} MB  (encode only)")
print(f"speed-up     : {kps / p['per_sec']:.2f}x")
for m, s in p["parity"].items():
    print(f"parity {m}: n={s['n']} min cos {s['min_cos']:.6f} mean cos {s['mean_cos']:.6f}")
PY
