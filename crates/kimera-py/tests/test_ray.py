"""kimera.ray on a local Ray cluster gives exactly the scars of `kimera run`."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import DEMO, cli, cli_json, copy_store, kimera_bin, scar_rows

ray_mod = pytest.importorskip("ray")
import kimera.ray as kray  # noqa: E402

# IVF search (exact up to 1,000 vectors) over the few thousand statements of big_store
IVF = ["--exact-max", "1000", "--chunk", "2000"]
DETECTORS = "lexical,model"


@pytest.fixture(scope="module")
def reference(big_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """`kimera run` on one machine: its stats and the scars it wrote, in order."""
    db = copy_store(big_store, tmp_path_factory.mktemp("ref") / "ref.db")
    stats = cli_json(db, "run", "--detectors", DETECTORS, *IVF)
    return stats, scar_rows(db)


def test_ray_run_gives_the_scars_of_kimera_run(ray_cluster: Any, big_store: Path, reference: Any, tmp_path: Path) -> None:
    ref_stats, ref_scars = reference
    assert ref_stats["index"].startswith("ivf(") and len(ref_scars) > 10
    db = copy_store(big_store, tmp_path / "ray.db")
    stats = kray.run(db, detectors=DETECTORS, exact_max=1000, chunk=2000)
    assert stats["mode"] == "ray" and stats["workers"] == 2
    for key in ("index", "vectors", "pairs_checked", "scars_found", "new_scars", "scars_by_detector", "chunks"):
        assert stats[key] == ref_stats[key], key
    assert scar_rows(db) == ref_scars


def test_a_worker_killed_mid_run_changes_nothing(ray_cluster: Any, big_store: Path, reference: Any, tmp_path: Path) -> None:
    _, ref_scars = reference
    db = copy_store(big_store, tmp_path / "ray.db")
    marker = tmp_path / "killed"
    kray.run(db, detectors=DETECTORS, exact_max=1000, chunk=2000, _kill_once=str(marker))
    assert marker.exists(), "no worker was killed"
    killed_pid = int(marker.read_text())
    assert killed_pid > 0 and killed_pid != os.getpid()
    assert scar_rows(db) == ref_scars


def test_exact_search_and_random_pairing_equal_kimera_run(ray_cluster: Any, demo_store: Path, tmp_path: Path) -> None:
    for args, kw in [
        (["--detectors", "lexical,model-head"], {"detectors": "lexical,model-head"}),
        (["--detectors", "lexical", "--pairing", "random", "--seed", "3"],
         {"detectors": "lexical", "pairing": "random", "seed": 3}),
    ]:
        ref = copy_store(demo_store, tmp_path / "ref.db")
        ref_stats = cli_json(ref, "run", *args)
        db = copy_store(demo_store, tmp_path / "ray.db")
        stats = kray.run(db, **kw)
        assert stats["pairs_checked"] == ref_stats["pairs_checked"] > 0
        assert scar_rows(db) == scar_rows(ref), args
        for p in (ref, db):
            os.remove(p)


def test_ray_embeds_a_store_without_vectors_as_the_cli_does(ray_cluster: Any, tmp_path: Path) -> None:
    ref = tmp_path / "ref.db"
    cli(ref, "ingest", str(DEMO))
    cli(ref, "embed")
    db = tmp_path / "ray.db"
    cli(db, "ingest", str(DEMO))
    out = kray.embed(db)
    assert out["encoded"] > 100
    q = "SELECT model, hex(text_hash), hex(vector) FROM embeddings ORDER BY 1, 2"
    a = sqlite3.connect(ref).execute(q).fetchall()
    b = sqlite3.connect(db).execute(q).fetchall()
    assert a == b


def test_cli_engine_ray_shells_out_to_kimera_ray(ray_cluster: Any, demo_store: Path, tmp_path: Path) -> None:
    ref = copy_store(demo_store, tmp_path / "ref.db")
    ref_stats = cli_json(ref, "run", "--detectors", "lexical")
    db = copy_store(demo_store, tmp_path / "ray.db")
    address = ray_cluster.get_runtime_context().gcs_address
    p = subprocess.run(
        [str(kimera_bin()), "--db", str(db), "--json", "run", "--detectors", "lexical",
         "--engine", "ray", "--ray-address", address],
        capture_output=True, text=True, env={**os.environ, "KIMERA_PYTHON": sys.executable},
    )
    assert p.returncode == 0, p.stderr
    stats = json.loads(p.stdout)
    assert stats["mode"] == "ray" and stats["new_scars"] == ref_stats["new_scars"]
    assert scar_rows(db) == scar_rows(ref)


def test_as_of_reads_the_store_as_kimera_run_as_of_does(ray_cluster: Any, demo_store: Path, tmp_path: Path) -> None:
    """`--as-of` on Ray: only the statements recorded by then (a third of the demo is
    dated later here) and not superseded then, the same scars as `kimera run --as-of`."""
    t = 1_900_000_000
    dated = copy_store(demo_store, tmp_path / "dated.db")
    con = sqlite3.connect(dated)
    with con:
        con.execute("UPDATE geoids SET created_at = ? WHERE seq % 3 = 0", (t + 1000,))
        con.execute("UPDATE geoids SET created_at = ? WHERE seq % 3 <> 0", (t - 1000,))
    con.close()
    full = copy_store(dated, tmp_path / "full.db")
    full_stats = cli_json(full, "run", "--detectors", "lexical")
    ref = copy_store(dated, tmp_path / "ref.db")
    ref_stats = cli_json(ref, "run", "--detectors", "lexical", "--as-of", str(t))
    assert 0 < ref_stats["pairs_checked"] < full_stats["pairs_checked"]
    db = copy_store(dated, tmp_path / "ray.db")
    stats = kray.run(db, detectors="lexical", as_of=t)
    assert stats["pairs_checked"] == ref_stats["pairs_checked"]
    assert scar_rows(db) == scar_rows(ref)
    # and through `kimera run --engine ray --as-of` (a date: the CLI passes seconds on)
    db2 = copy_store(dated, tmp_path / "ray2.db")
    address = ray_cluster.get_runtime_context().gcs_address
    p = subprocess.run(
        [str(kimera_bin()), "--db", str(db2), "--json", "run", "--detectors", "lexical",
         "--engine", "ray", "--ray-address", address, "--as-of", "2030-03-17T17:46:40Z"],
        capture_output=True, text=True, env={**os.environ, "KIMERA_PYTHON": sys.executable},
    )
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["pairs_checked"] == ref_stats["pairs_checked"]
    assert scar_rows(db2) == scar_rows(ref)
