"""Shared fixtures: the CLI binary, stores built by the CLI, a local Ray cluster.

Every Python method is compared with the `kimera` command on the same input: the CLI is
the reference. The binary is $KIMERA_BIN, else target/debug/kimera (scripts/test.sh
builds it).
"""

from __future__ import annotations

import csv
import json
import os
import random
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "data" / "demo" / "statements.csv"
MODEL = Path(os.environ.get("KIMERA_MODEL_DIR", Path.home() / ".cache/kimera/models/all-MiniLM-L6-v2"))


def kimera_bin() -> Path:
    env = os.environ.get("KIMERA_BIN")
    if env:
        return Path(env)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "debug" / "kimera"


def cli(db: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Runs `kimera --db DB ARGS...` and returns it (stdout, stderr, returncode)."""
    p = subprocess.run(
        [str(kimera_bin()), "--db", str(db), "--quiet", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    if check and p.returncode != 0:
        raise AssertionError(f"kimera {' '.join(args)} failed ({p.returncode}): {p.stderr}")
    return p


def cli_json(db: Path, *args: str) -> Any:
    return json.loads(cli(db, "--json", *args).stdout)


def cli_error(db: Path, *args: str) -> str:
    """The message of a failing CLI command (its `error: ...` line)."""
    p = cli(db, *args, check=False)
    assert p.returncode != 0, p.stdout
    lines = [ln for ln in p.stderr.splitlines() if ln.startswith("error: ")]
    assert lines, p.stderr
    return lines[-1][len("error: ") :]


def copy_store(src: Path, dst: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        s = Path(str(src) + suffix)
        if s.exists():
            shutil.copy(s, str(dst) + suffix)
    return dst


def scar_rows(db: Path) -> List[Dict[str, Any]]:
    """Every scar as written, in order: what a run's result is (ids, detector, score,
    evidence), without times and run ids."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute("SELECT a, b, detector, score, evidence FROM scars ORDER BY seq").fetchall()
    finally:
        con.close()
    return [{"a": a, "b": b, "detector": d, "score": s, "evidence": json.loads(e)} for a, b, d, s, e in rows]


def synthetic_statements(n: int, seed: int = 7) -> List[str]:
    """`n` distinct statements about things in places, with antonyms and numbers, so
    that some pairs contradict (deterministic)."""
    rng = random.Random(seed)
    things = ["bridge", "museum", "river", "station", "library", "tower", "market", "harbour",
              "castle", "stadium", "park", "school", "hospital", "airport", "theatre", "cathedral",
              "factory", "garden", "lake", "mountain", "road", "tunnel", "beach", "forest", "village"]
    places = ["Lisbon", "Oslo", "Quito", "Nairobi", "Hanoi", "Lima", "Dublin", "Perth", "Tunis", "Riga",
              "Sofia", "Accra", "Dhaka", "Hobart", "Bergen", "Cusco", "Porto", "Malmo", "Turku", "Split"]
    props = [("old", "new"), ("open", "closed"), ("large", "small"), ("busy", "quiet"), ("clean", "dirty"),
             ("safe", "dangerous"), ("cheap", "expensive"), ("popular", "unpopular")]
    out: List[str] = []
    seen = set()
    while len(out) < n:
        t, p = rng.choice(things), rng.choice(places)
        kind = rng.random()
        if kind < 0.6:
            a, b = rng.choice(props)
            s = f"The {t} in {p} is {rng.choice([a, b])}."
        elif kind < 0.8:
            s = f"The {t} in {p} was built in {rng.randint(1700, 2020)}."
        else:
            s = f"The {t} in {p} has {rng.randint(2, 90)} {rng.choice(['gates', 'floors', 'rooms', 'staff'])}."
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def write_statements(path: Path, texts: List[str], lang: str = "en") -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "lang"])
        for t in texts:
            w.writerow([t, lang])
    return path


def demo_texts() -> List[str]:
    return [r["text"] for r in demo_records()]


def demo_records() -> List[Dict[str, str]]:
    """The demo statements as records (`text`, `lang`: some are French, Spanish...)."""
    with open(DEMO, newline="") as f:
        return [{"text": r["text"], "lang": r["lang"]} for r in csv.DictReader(f)]


@pytest.fixture(scope="session", autouse=True)
def _needs_cli_and_model() -> None:
    missing = [str(p) for p in (kimera_bin(), MODEL) if not p.exists()]
    if missing:
        msg = f"the kimera binary and the model are needed: missing {', '.join(missing)} (run scripts/test.sh)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo statements ingested and embedded by the CLI (copy it before writing)."""
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    cli(db, "ingest", str(DEMO))
    cli(db, "embed")
    return db


@pytest.fixture(scope="session")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few thousand statements (demo + synthetic) ingested and embedded by the CLI."""
    d = tmp_path_factory.mktemp("big")
    src = write_statements(d / "statements.csv", synthetic_statements(3000))
    db = d / "big.db"
    cli(db, "ingest", str(src))
    cli(db, "embed")
    return db


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Any]:
    """One local Ray cluster (2 CPUs) for every Ray test."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()
