#!/usr/bin/env bash
# Load test of `kimera serve` against `kimera check` per request, side by side in one run.
#
# Usage: scripts/bench-serve.sh [N] [DIR]     (N statements, default 100000; DIR default
#                                              /tmp/kimera-bench-serve, kept for re-runs)
#        KIMERA=path/to/kimera scripts/bench-serve.sh …   (another build, e.g. a baseline)
#
# Builds a store of N generated statements (scripts/gen-statements.py: facts about made-up
# entities with planted contradictions), embeds it with the real model (once: a re-run
# reuses DIR/store.db), starts `kimera serve` on 127.0.0.1:7979 and drives it with oha:
#   - POST /v1/check at concurrency 1, 8 and 32 for 20 s each, a different statement per
#     request (2,000 generated with another seed);
#   - POST /v1/statements, 32 new statements per request, with and without check-on-write,
#     beside `kimera embed` on the same number of new statements;
#   - `kimera check` started per request (hyperfine, 5 runs);
#   - the server's peak RSS (/usr/bin/time -v).
# Needs: a release build (cargo build --release -p kimera-cli), oha (cargo install oha),
# hyperfine (apt-get install hyperfine), python3.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
DIR=${2:-/tmp/kimera-bench-serve}
K=${KIMERA:-${CARGO_TARGET_DIR:-$PWD/target}/release/kimera}
GEN="python3 $PWD/scripts/gen-statements.py"
ADDR=${ADDR:-127.0.0.1:7979}
mkdir -p "$DIR"
cd "$DIR"
for tool in oha hyperfine; do
    command -v $tool >/dev/null || { echo "error: $tool is not installed" >&2; exit 1; }
done
[ -x "$K" ] || { echo "error: build it first: cargo build --release -p kimera-cli" >&2; exit 1; }

if [ ! -f store.db ]; then
    $GEN "$N" 42 > store.csv
    "$K" ingest store.csv --db store.db -q
    "$K" embed --db store.db
fi
bodies() { # FILE SEED COUNT CHECK -> one JSON body per line, 32 statements each
    $GEN "$3" "$2" | python3 -c "
import csv, json, sys
rows = [r['text'] for r in csv.DictReader(sys.stdin)]
for i in range(0, len(rows), 32):
    print(json.dumps({'statements': [{'text': t} for t in rows[i:i + 32]], 'check': $4}))
" > "$1"
}
$GEN 2000 7 | python3 -c "
import csv, json, sys
for r in csv.DictReader(sys.stdin): print(json.dumps({'text': r['text']}))
" > checks.jsonl
SEED=$(date +%s)
bodies write-check.jsonl $((SEED + 1)) 2048 True
bodies write-plain.jsonl $((SEED + 2)) 2048 False

summary() {
    python3 -c "
import json, sys
d = json.load(open('$1')); s = d['summary']; p = d['latencyPercentiles']
print('$2: %.2f requests/s, p50 %.0f ms, p99 %.0f ms, statuses %s' % (
    s['requestsPerSec'], p['p50'] * 1000, p['p99'] * 1000, d.get('statusCodeDistribution')))
"
}

/usr/bin/time -v "$K" serve --db store.db --addr $ADDR > serve.log 2>&1 &
until curl -sf http://$ADDR/readyz > /dev/null; do
    kill -0 $! 2> /dev/null || { echo "error: the server stopped; see $DIR/serve.log" >&2; exit 1; }
    sleep 0.5
done
echo "== store: $(curl -s http://$ADDR/metrics | grep '^kimera_statements ' | cut -d' ' -f2) statements; load: $(cut -d' ' -f1-3 /proc/loadavg)"
for c in 1 8 32; do
    oha --no-tui -z 20s -c $c -m POST -H 'content-type: application/json' -Z checks.jsonl \
        --output-format json http://$ADDR/v1/check > check-c$c.json
    summary check-c$c.json "POST /v1/check, concurrency $c"
done
oha --no-tui -n 64 -c 4 -m POST -H 'content-type: application/json' -Z write-check.jsonl \
    --output-format json http://$ADDR/v1/statements > write-check.json
summary write-check.json "POST /v1/statements, 32 per request, check-on-write (x32 = statements/s)"
oha --no-tui -n 64 -c 4 -m POST -H 'content-type: application/json' -Z write-plain.jsonl \
    --output-format json http://$ADDR/v1/statements > write-plain.json
summary write-plain.json "POST /v1/statements, 32 per request, no check (x32 = statements/s)"
kill -TERM "$(pgrep -P $! -x "$(basename "$K")")"
wait || true
grep -E "Maximum resident" serve.log | sed 's/^\s*/server: /'

rm -f embed.db
$GEN 2048 $((SEED + 3)) > embed.csv
"$K" ingest embed.csv --db embed.db -q
"$K" embed --db embed.db 2>&1 | tail -1
hyperfine -w 1 -r 5 "$K check --db store.db 'The company Enafen is located in France.'"
