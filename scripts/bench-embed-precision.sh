#!/usr/bin/env bash
# Sentences/s of `kimera embed --precision f32` vs `--precision int8`, side by side in one
# run, on short sentences (SICK) and long statements (the Kimera contradictions_2k set),
# and how close the int8 vectors are to the f32 ones (cosine min/mean over every text).
# Runs alternate f32, int8, f32, int8 on fresh copies of one ingested store; the figure
# is the best of the REPS runs of each.
#
# Usage: scripts/bench-embed-precision.sh [N_SICK=3000] [THREADS=2] [REPS=2]
# Env:   KIMERA_BIN (default target/release/kimera), BENCH_DIR (default
#        /tmp/kimera-bench-precision), SHARED_DATA (default ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-3000}"
THREADS="${2:-2}"
REPS="${3:-2}"
BIN="${KIMERA_BIN:-target/release/kimera}"
DIR="${BENCH_DIR:-/tmp/kimera-bench-precision}"
DATA="${SHARED_DATA:-../shared/data}"
mkdir -p "$DIR"
[[ -x "$BIN" ]] || cargo build --release -p kimera-cli

python3 - "$DATA" "$N" "$DIR" <<'PY'
import csv, os, sys
data, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
seen, short = set(), []
for line in list(open(os.path.join(data, "sick", "sick_train.tsv"), encoding="utf-8"))[1:]:
    for s in line.rstrip("\n").split("\t")[1:3]:
        if s not in seen and len(short) < n:
            seen.add(s); short.append(s)
long = [r["text"] for r in csv.DictReader(open(os.path.join(data, "kimera", "contradictions_2k.csv"), encoding="utf-8"))]
for name, rows in (("sick", short), ("long", long)):
    with open(os.path.join(out, f"{name}.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f); w.writerow(["text", "lang"]); w.writerows((t, "en") for t in rows)
    print(f"{name}: {len(rows)} texts")
PY

echo "== $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for set in sick long; do
  rm -f "$DIR/$set.db"*
  "$BIN" --quiet ingest "$DIR/$set.csv" --db "$DIR/$set.db" >/dev/null
  for rep in $(seq "$REPS"); do
    for p in f32 int8; do
      cp "$DIR/$set.db" "$DIR/run.db"
      /usr/bin/time -v "$BIN" embed --db "$DIR/run.db" --workers "$THREADS" --precision "$p" \
        >"$DIR/$set.$p.$rep.out" 2>"$DIR/$set.$p.$rep.time"
      rss=$(awk -F': ' '/Maximum resident/ {print $2}' "$DIR/$set.$p.$rep.time")
      echo "$set $p run $rep: $(cat "$DIR/$set.$p.$rep.out") peak RSS $((rss / 1024)) MB"
    done
  done
  # both precisions' vectors in one store, for the cosines
  cp "$DIR/$set.db" "$DIR/both.db"
  "$BIN" --quiet embed --db "$DIR/both.db" --workers "$THREADS" --precision f32 >/dev/null
  "$BIN" --quiet embed --db "$DIR/both.db" --workers "$THREADS" --precision int8 >/dev/null
  python3 - "$DIR" "$set" "$REPS" <<'PY'
import re, sqlite3, struct, sys, math
d, s, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
best = {}
for p in ("f32", "int8"):
    best[p] = max(float(re.search(r"([\d.]+) sentences/s", open(f"{d}/{s}.{p}.{r}.out").read()).group(1))
                  for r in range(1, reps + 1))
con = sqlite3.connect(f"{d}/both.db")
vec = {}
for model, h, v in con.execute("SELECT model, text_hash, vector FROM embeddings"):
    vec.setdefault(h, {})[model.rsplit("/", 1)[-1]] = struct.unpack(f"<{len(v)//4}f", v)
cos = [sum(a * b for a, b in zip(x["f32"], x["int8"])) for x in vec.values() if "f32" in x and "int8" in x]
print(f"{s}: f32 {best['f32']:.1f} sentences/s, int8 {best['int8']:.1f} sentences/s: "
      f"{best['int8'] / best['f32']:.2f}x; cosine int8 vs f32 over {len(cos)} texts: "
      f"min {min(cos):.5f}, mean {sum(cos) / len(cos):.5f}")
PY
done
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
