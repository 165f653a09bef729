"""Every method of kimera.Store, Encoder and Detector against the CLI on the same store."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest

import kimera
from conftest import DEMO, cli, cli_error, cli_json, copy_store, demo_records, demo_texts, scar_rows

# the rules and the fast head: the cross-encoder is exercised by the Ray tests' default
DETECTORS = "lexical,model"


def stored_vectors(db: Path) -> Dict[str, np.ndarray]:
    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            "SELECT g.text, e.vector FROM geoids g JOIN embeddings e ON e.text_hash = g.text_hash"
        ).fetchall()
    finally:
        con.close()
    return {t: np.frombuffer(v, dtype="<f4") for t, v in rows}


def test_encoder_vectors_equal_the_clis(demo_store: Path) -> None:
    stored = stored_vectors(demo_store)
    texts = demo_texts()
    enc = kimera.Encoder()
    got = enc.encode(texts)
    assert got.dtype == np.float32 and got.shape == (len(texts), enc.dim) == (len(texts), 384)
    for t, v in zip(texts, got):
        assert np.array_equal(v, stored[t]), t
    assert enc.model_id in cli_json(demo_store, "stats")["embeddings_by_model"][0][0]
    assert enc.encode([]).shape == (0, 384)
    with pytest.raises(TypeError):
        enc.encode("one string")  # type: ignore[arg-type]


def test_add_embed_run_and_scars_equal_the_clis(demo_store: Path, tmp_path: Path) -> None:
    ref = copy_store(demo_store, tmp_path / "cli.db")
    cli_stats = cli_json(ref, "run", "--detectors", DETECTORS)

    store = kimera.Store(tmp_path / "py.db")
    added = store.add(demo_records())
    assert added == {"inserted": len(demo_texts()), "duplicates": 0}
    assert store.add(demo_records()[:3]) == {"inserted": 0, "duplicates": 3}
    emb = store.embed()
    assert emb["encoded"] == len(set(demo_texts()))
    stats = store.run(detectors=DETECTORS)
    for key in ("pairs_checked", "scars_found", "new_scars", "scars_by_detector", "index", "vectors"):
        assert stats[key] == cli_stats[key], key
    assert stats["new_scars"] > 0
    assert scar_rows(Path(store.path)) == scar_rows(ref)
    assert store.scars(limit=0) == [
        {**s, "created_at": p["created_at"], "run_id": p["run_id"], "seq": p["seq"]}
        for s, p in zip(cli_json(ref, "scars", "--limit", "0"), store.scars(limit=0))
    ]
    lexical = store.scars(limit=0, detector="lexical")
    assert lexical and all(s["detector"] == "lexical" for s in lexical)

    # one conflict per pair, the CLI's rows; a settled one moves from open to resolved
    conflicts = store.conflicts(status="all")

    def key(c: Dict[str, Any]) -> Any:
        # sources and times differ between the two stores (added here, ingested there)
        return (c["a"], c["b"], c["text_a"], c["text_b"], c["kind"], c["score"], c["status"],
                [(v["detector"], v["score"], v["evidence"]) for v in c["verdicts"]])

    assert [key(c) for c in conflicts] == [
        key(c) for c in cli_json(ref, "conflicts", "--status", "all", "--limit", "0")
    ]
    assert conflicts and len({(c["a"], c["b"]) for c in conflicts}) == len(conflicts)
    first = store.conflicts(limit=1)[0]
    cli(Path(store.path), "resolve", str(first["id"]), "--keep", "b")
    # a Store opened after the CLI's write (the long-lived one above may read an older
    # snapshot: see the note on issue #21)
    store = kimera.Store(store.path)
    assert first["id"] not in [c["id"] for c in store.conflicts()]
    settled = store.conflicts(status="resolved")
    assert [c["id"] for c in settled] == [first["id"]]
    assert settled[0]["resolution"] == "keep_b"


def test_ingest_summary_is_the_clis(tmp_path: Path) -> None:
    py = kimera.Store(tmp_path / "py.db").ingest(DEMO)
    ref = cli_json(tmp_path / "cli.db", "ingest", str(DEMO))
    for key in ("rows", "geoids", "bad_rows", "failed_files"):
        assert py[key] == ref[key], key
    assert py["geoids"]["inserted"] == len(demo_texts())


def test_check_and_similar_equal_the_clis(demo_store: Path) -> None:
    store = kimera.Store(demo_store)
    text = "Paris is not the capital of France."
    got = store.check(text, detectors=DETECTORS)
    ref = cli_json(demo_store, "check", "--detectors", DETECTORS, text)
    assert got == ref["contradictions"]
    assert any(h["text"] == "Paris is the capital of France." for h in got)
    assert set(got[0]) >= {"id", "text", "cosine", "detector", "score", "evidence"}
    many = store.check([text, "Water boils at 100 degrees Celsius at sea level."], detectors=DETECTORS)
    assert many[0] == got and len(many) == 2

    sim = store.similar("the capital city of France", k=5)
    assert sim == cli_json(demo_store, "similar", "-k", "5", "the capital city of France")
    assert len(sim) == 5 and sim[0]["score"] >= sim[-1]["score"]


def test_learn_and_concept_equal_the_clis(demo_store: Path, tmp_path: Path) -> None:
    ref = copy_store(demo_store, tmp_path / "cli.db")
    py_db = copy_store(demo_store, tmp_path / "py.db")
    cli_learn = cli_json(ref, "learn")
    store = kimera.Store(py_db)
    rep = store.learn()
    assert rep["learned"] == cli_learn["learned"] > 0
    assert (rep["concepts"], rep["associations"]) == (cli_learn["concepts"], cli_learn["associations"])
    assert store.concept("paris") == cli_json(ref, "concept", "paris")
    with pytest.raises(kimera.NotFoundError) as e:
        store.concept("zzzunknownzzz")
    assert str(e.value) == cli_error(ref, "concept", "zzzunknownzzz")


def test_detector_scores_pairs() -> None:
    lex = kimera.Detector("lexical")
    v = lex.score([("The water is hot.", "The water is cold."), ("The water is hot.", "The sky is blue.")])
    assert [x["contradiction"] for x in v] == [True, False]
    assert v[0]["evidence"]["rule"] == "antonym"
    model = kimera.Detector()
    assert model.name == "model"
    m = model.score([("Paris is the capital of France.", "Paris is not the capital of France."),
                     ("Paris is the capital of France.", "Paris is a city in France.")])
    assert m[0]["contradiction"] and not m[1]["contradiction"]
    assert 0.0 <= m[1]["score"] <= 1.0


def test_errors_are_kimera_errors_with_the_clis_messages(demo_store: Path, tmp_path: Path) -> None:
    assert issubclass(kimera.NoVectorsError, kimera.RunError)
    assert all(issubclass(c, kimera.KimeraError) for c in (
        kimera.StoreError, kimera.ModelError, kimera.IngestError, kimera.ConfigError, kimera.NotFoundError))

    bad = tmp_path / "no" / "such" / "dir" / "x.db"
    with pytest.raises(kimera.StoreError) as e:
        kimera.Store(bad)
    assert str(e.value) == cli_error(bad, "stats")

    # statements without vectors
    raw = tmp_path / "raw.db"
    cli(raw, "ingest", str(DEMO))
    with pytest.raises(kimera.NoVectorsError) as e2:
        kimera.Store(raw).run(detectors="lexical", model_id="some-model")
    assert str(e2.value) == cli_error(raw, "run", "--detectors", "lexical", "--model-id", "some-model")

    with pytest.raises(kimera.ConfigError) as e3:
        kimera.Store(demo_store).run(detectors="lexical,nonsense")
    assert str(e3.value) == cli_error(demo_store, "run", "--detectors", "lexical,nonsense")

    with pytest.raises(kimera.IngestError) as e4:
        kimera.Store(tmp_path / "i.db").ingest(tmp_path / "missing.csv")
    assert str(e4.value) == cli_error(tmp_path / "i.db", "ingest", str(tmp_path / "missing.csv"))

    with pytest.raises(kimera.ConfigError):
        kimera.Store(tmp_path / "r.db").add([{"lang": "en"}])
    with pytest.raises(kimera.ConfigError):
        kimera.Detector("nonsense")
    with pytest.raises(kimera.ConfigError):
        kimera.Store(demo_store).conflicts(status="closed")


@pytest.mark.skipif(
    os.environ.get("KIMERA_TEST_CTRL_C") != "1",
    reason="hung once in the full suite (a debug build kept encoding after SIGINT; issue #21 "
    "note): run with KIMERA_TEST_CTRL_C=1 until that is understood",
)
def test_ctrl_c_interrupts_a_long_encode() -> None:
    enc = kimera.Encoder()
    texts = [f"Statement number {i} about the long list of things." for i in range(200_000)]
    started = threading.Event()

    def interrupt() -> None:
        started.wait()
        os.kill(os.getpid(), signal.SIGINT)

    t = threading.Thread(target=interrupt)
    t.start()
    started.set()
    with pytest.raises(KeyboardInterrupt):
        enc.encode(texts)  # 200k texts: minutes, unless interrupted
    t.join()


def test_the_package_type_checks(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    usage = tmp_path / "usage.py"
    usage.write_text(
        "import kimera, kimera.ray\n"
        "import numpy as np\n"
        "s = kimera.Store('x.db')\n"
        "hits: list[dict] = s.check('a')\n"
        "many: list[list[dict]] = s.check(['a', 'b'])\n"
        "v: np.ndarray = kimera.Encoder().encode(['a'])\n"
        "r: list[dict] = kimera.Detector('lexical').score([('a', 'b')])\n"
        "st: dict = kimera.ray.run(s, address='auto')\n"
    )
    pkg = Path(kimera.__file__).parent
    p = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--allow-any-generics",
         "--cache-dir", str(tmp_path / "mypy"), str(usage), str(pkg)],
        capture_output=True, text=True, cwd=pkg.parent,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert (pkg / "py.typed").exists()
