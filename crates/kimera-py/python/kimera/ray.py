"""kimera's reactor on a Ray cluster: the scars of ``kimera run``, computed on many nodes.

``kimera.ray.run(store)`` does what ``kimera run`` does on one machine — same candidate
pairs, same detectors, same scars written in the same order — with the work spread over
a Ray cluster:

1. **embed** (when statements lack a vector): batches of texts go to encoder actors,
   each loading the model once; the vectors are the CLI's (they do not depend on the
   batch) and are written by the driver.
2. **candidates** (``ann`` pairing): the driver loads the unit vectors and fits the IVF
   centroids once (``kimera run``'s seeded k-means); tasks assign blocks of vectors to
   their ``nprobe`` lists; each list is searched on a worker for the vectors probing it;
   the driver merges every list's best ``k`` into each statement's neighbours. Blocks
   and lists are cut where ``kimera run`` cuts them, so every similarity is bit for bit
   the one it computes. (``random``/``pairs`` pairings are cheap and done on the driver.)
3. **detect**: pairs are cut into the run's chunks, chunks into batches scored by
   detector actors (each loads the detectors once).
4. **write**: the driver writes each chunk's scars in pair order, one transaction per
   chunk, and records the run — exactly as ``kimera run`` does.

Workers are deterministic and hold no state besides their models, so a worker or actor
killed mid-run is retried by Ray (tasks are resubmitted, actors restarted and their
calls replayed) and the scars are the same, nothing lost or doubled; a chunk is written
only once all its batches are back.

>>> import kimera, kimera.ray
>>> stats = kimera.ray.run(kimera.Store("kb.db"), address="auto")  # doctest: +SKIP
>>> stats["new_scars"]  # doctest: +SKIP
42

From the command line: ``python -m kimera.ray --db kb.db`` or ``kimera run --engine ray``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import time
from collections import deque
from typing import Any, Deque, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

from . import Store, _kimera

__all__ = ["run", "embed", "main"]

PathLike = Union[str, "os.PathLike[str]"]
F32 = npt.NDArray[np.float32]
U32 = npt.NDArray[np.uint32]

#: Texts per encoder call on an actor.
EMBED_BATCH = 1024
#: Restarts of an actor and retries of a call or task after a worker dies.
RETRIES = 3


def _ray() -> Any:
    try:
        import ray
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("kimera.ray needs Ray: pip install 'ray[data]'") from e
    return ray


_REMOTE: Dict[str, Any] = {}


def _kill_once(marker: Optional[str]) -> None:
    """Test hook: the first worker to get here (across the cluster, by an exclusive
    file) kills its own process with SIGKILL, as an out-of-memory killer or a lost node
    would. Ray must retry the call on a restarted actor."""
    if not marker:
        return
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)


def _remote() -> Dict[str, Any]:
    """The Ray actors and tasks (defined once Ray is imported)."""
    if _REMOTE:
        return _REMOTE
    ray = _ray()

    class EncoderActor:
        """Loads the encoder once; encodes batches of texts."""

        def __init__(self, threads: int) -> None:
            self.enc = _kimera.Encoder("f32", 64, threads)

        def model_id(self) -> str:
            return self.enc.model_id

        def encode(self, texts: List[str]) -> F32:
            return self.enc.encode(texts)

    class DetectorActor:
        """Loads the detector cascade once; scores batches of pairs."""

        def __init__(self, names: str, store_path: Optional[str], kill_marker: Optional[str]) -> None:
            self.dets = _kimera.Detectors(names, store_path if "graph" in names else None)
            self.kill_marker = kill_marker

        def names(self) -> List[str]:
            return self.dets.names

        def pid(self) -> int:
            return os.getpid()

        def detect(self, payload: Any) -> List[Tuple[str, str, float, str, str]]:
            _kill_once(self.kill_marker)
            return self.dets.detect(payload)

    def probe_block(vectors: F32, start: int, end: int, centroids: F32, nprobe: int) -> U32:
        return _kimera.probe(np.ascontiguousarray(vectors[start:end]), centroids, nprobe)

    def search_lists(
        vectors: F32, items: List[Tuple[U32, U32]], k: int, floor: float
    ) -> List[Tuple[U32, U32, F32]]:
        out = []
        for members, probers in items:
            idx, sc = _kimera.search_list(
                np.ascontiguousarray(vectors[members]),
                members,
                np.ascontiguousarray(vectors[probers]),
                probers,
                k,
                floor,
            )
            out.append((probers, idx, sc))
        return out

    _REMOTE["EncoderActor"] = ray.remote(EncoderActor)
    _REMOTE["DetectorActor"] = ray.remote(DetectorActor)
    _REMOTE["probe_block"] = ray.remote(max_retries=RETRIES)(probe_block)
    _REMOTE["search_lists"] = ray.remote(max_retries=RETRIES)(search_lists)
    return _REMOTE


def _connect(address: Optional[str]) -> Any:
    ray = _ray()
    if not ray.is_initialized():
        if address in (None, "", "local"):
            ray.init()
        else:
            ray.init(address=address)
    return ray


def _cluster_cpus(ray: Any) -> int:
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def _path(store: Union[Store, PathLike]) -> str:
    return store.path if isinstance(store, Store) else os.fspath(store)


def _actor_options(cpus: int) -> Dict[str, Any]:
    # one rayon/candle thread per CPU the actor is given: actors share nodes
    return {
        "num_cpus": cpus,
        "max_restarts": RETRIES,
        "max_task_retries": RETRIES,
        "runtime_env": {"env_vars": {"RAYON_NUM_THREADS": str(cpus)}},
    }


def embed(
    store: Union[Store, PathLike],
    address: Optional[str] = "auto",
    actors: Optional[int] = None,
    batch: int = EMBED_BATCH,
) -> Dict[str, Any]:
    """Gives every statement of ``store`` a vector on Ray encoder actors (what
    ``kimera embed`` does on one machine, with the same vectors). Returns
    ``{"model_id", "encoded", "seconds"}``."""
    ray = _connect(address)
    t0 = time.monotonic()
    path = _path(store)
    n_actors = actors or _cluster_cpus(ray)
    cls = _remote()["EncoderActor"]
    pool = [cls.options(**_actor_options(1)).remote(1) for _ in range(n_actors)]
    model_id: str = ray.get(pool[0].model_id.remote())
    st = _kimera.Store(path)
    texts = st.texts_without_vectors(model_id)
    pending: Deque[Tuple[List[str], Any]] = deque()
    encoded = 0
    for i, start in enumerate(range(0, len(texts), batch)):
        part = texts[start : start + batch]
        pending.append((part, pool[i % n_actors].encode.remote(part)))
        while len(pending) > 2 * n_actors:
            done_texts, ref = pending.popleft()
            encoded += st.put_vectors(model_id, done_texts, ray.get(ref))
    while pending:
        done_texts, ref = pending.popleft()
        encoded += st.put_vectors(model_id, done_texts, ray.get(ref))
    for a in pool:
        ray.kill(a)
    return {"model_id": model_id, "encoded": encoded, "seconds": time.monotonic() - t0}


def _ann_pairs(ray: Any, snap: _kimera.Snapshot, tasks: int) -> U32:
    """The candidate pairs of the ``ann`` pairing, searched list by list on workers."""
    n, nlist, nprobe = snap.n, snap.nlist, snap.nprobe
    rm = _remote()
    vectors = snap.vectors()
    vref = ray.put(vectors)
    block = _kimera.PROBE_BLOCK
    if nlist == 1:
        probes = np.zeros((n, 1), dtype=np.uint32)
    else:
        centroids = snap.fit_centroids()
        # blocks start at multiples of PROBE_BLOCK: the products kimera run computes
        step = block * max(1, math.ceil(n / block / tasks))
        refs = [
            rm["probe_block"].remote(vref, a, min(a + step, n), centroids, nprobe)
            for a in range(0, n, step)
        ]
        probes = np.concatenate(ray.get(refs)).astype(np.uint32)
    # members of each list, ascending; the vectors probing each list, ascending
    own = probes[:, 0]
    members_order = np.argsort(own, kind="stable").astype(np.uint32)
    member_bounds = np.searchsorted(own[members_order], np.arange(nlist + 1))
    flat = probes.ravel()
    prober_of = np.repeat(np.arange(n, dtype=np.uint32), probes.shape[1])
    probe_order = np.argsort(flat, kind="stable")
    probers_sorted = prober_of[probe_order]
    prober_bounds = np.searchsorted(flat[probe_order], np.arange(nlist + 1))
    # work items: (list, a slice of its probers cut at multiples of PROBE_BLOCK — whole
    # query tiles, so the products are kimera run's)
    items: List[Tuple[float, U32, U32]] = []
    for lst in range(nlist):
        members = members_order[member_bounds[lst] : member_bounds[lst + 1]]
        probers = probers_sorted[prober_bounds[lst] : prober_bounds[lst + 1]]
        if len(members) == 0 or len(probers) == 0:
            continue
        per = block * max(1, math.ceil(len(probers) * len(members) / 4e7 / block))
        for q0 in range(0, len(probers), per):
            q = probers[q0 : q0 + per]
            items.append((float(len(q)) * len(members), members, q))
    # group items into about 2 tasks per worker by cost, keeping list order
    total = sum(c for c, _, _ in items) or 1.0
    target = total / max(1, 2 * tasks)
    groups: List[List[Tuple[U32, U32]]] = [[]]
    acc = 0.0
    for cost, m, q in items:
        if groups[-1] and acc + cost > target:
            groups.append([])
            acc = 0.0
        groups[-1].append((m, q))
        acc += cost
    k, floor = snap.k, snap.floor
    refs = [rm["search_lists"].remote(vref, g, k, floor) for g in groups if g]
    parts: List[Tuple[U32, U32, F32]] = []
    for r in refs:
        parts.extend(ray.get(r))
    del vref
    return _kimera.merge_pairs(n, k, floor, parts)


def run(
    store: Union[Store, PathLike],
    address: Optional[str] = "auto",
    detectors: str = "model",
    pairing: str = "ann",
    k: int = 10,
    min_sim: float = 0.4,
    seed: int = 42,
    chunk: int = 10_000,
    exact_max: int = 5_000,
    nprobe: int = 8,
    model_id: Optional[str] = None,
    lexical_k: int = 20,
    actors: Optional[int] = None,
    cpus_per_actor: int = 1,
    embed_missing: bool = True,
    as_of: Optional[int] = None,
    _kill_once: Optional[str] = None,
) -> Dict[str, Any]:
    """One reactor cycle over ``store`` on a Ray cluster; returns the run's stats (the
    keys of ``kimera run --json``; ``mode`` is ``"ray"``, ``workers`` the detector
    actors).

    The options are ``kimera run``'s, with the same defaults; the scars written are the
    ones ``kimera run`` writes with those options. ``address``: the cluster (``"auto"``:
    the one ``ray start`` began on this machine; ``"local"``/``None``: a new local one);
    when Ray is already initialised it is used as it is. ``actors``: detector actors
    (default: one per CPU of the cluster), each with ``cpus_per_actor`` CPUs.
    ``embed_missing``: first embed the statements that lack a vector (on Ray).
    ``as_of``: epoch seconds; read the store as it was then (``kimera run --as-of``:
    statements recorded by then and not superseded then).

    ``_kill_once`` (tests): a file path; the first detector call to create it SIGKILLs
    its actor, which Ray restarts and retries.
    """
    ray = _connect(address)
    t_start = time.monotonic()
    path = _path(store)
    cpus = _cluster_cpus(ray)
    n_actors = actors or max(1, cpus // max(1, cpus_per_actor))
    if embed_missing and model_id is None:
        st = _kimera.Store(path)
        counts = st.counts()
        if counts.get("geoids", 0) and not counts.get("embeddings_by_model"):
            embed(path, address, n_actors)
    snap = _kimera.Snapshot(path, pairing, k, min_sim, seed, chunk, exact_max, nprobe, model_id, as_of, lexical_k)
    rm = _remote()
    # the detector names, as the run records them (checked before any work)
    names = _kimera.Detectors(detectors, path if "graph" in detectors else None).names
    args = ["run", "--engine", "ray", "--detectors", detectors, "--pairing", pairing]
    if as_of is not None:
        args += ["--as-of", str(as_of)]
    snap.begin(names, n_actors, args)
    pairs_checked = 0
    cand_ms = det_ms = 0
    pool: List[Any] = []
    try:
        t = time.monotonic()
        if snap.n == 0:
            pairs = np.zeros((0, 2), dtype=np.uint32)
        elif snap.pairing == "ann":
            pairs = snap.with_lexical(_ann_pairs(ray, snap, cpus))
        else:
            pairs = snap.fixed_pairs()
        cand_ms = int((time.monotonic() - t) * 1000)
        pairs_checked = len(pairs)

        # the actors start once the search tasks are done: they hold their CPUs
        pool = [
            rm["DetectorActor"].options(**_actor_options(cpus_per_actor)).remote(detectors, path, _kill_once)
            for _ in range(n_actors)
        ]

        t = time.monotonic()
        # batches: about two per actor and chunk, at least 64 pairs (kimera run's
        # sub-chunks); the scars never depend on it
        per_batch = max(64, math.ceil(min(chunk, max(1, len(pairs))) / (2 * n_actors)))
        window: Deque[List[Any]] = deque()
        turn = 0
        for c0 in range(0, len(pairs), chunk):
            c = pairs[c0 : c0 + chunk]
            refs = []
            for b0 in range(0, len(c), per_batch):
                payload = snap.payload(np.ascontiguousarray(c[b0 : b0 + per_batch]))
                refs.append(pool[turn % n_actors].detect.remote(payload))
                turn += 1
            window.append(refs)
            while len(window) > 2:
                _write(ray, snap, window.popleft())
        while window:
            _write(ray, snap, window.popleft())
        det_ms = int((time.monotonic() - t) * 1000)
    except BaseException as e:
        snap.finish(pairs_checked, cand_ms, det_ms, int((time.monotonic() - t_start) * 1000), str(e) or repr(e))
        raise
    finally:
        for a in pool:
            ray.kill(a)
    stats: Dict[str, Any] = snap.finish(
        pairs_checked, cand_ms, det_ms, int((time.monotonic() - t_start) * 1000)
    )
    return stats


def _write(ray: Any, snap: _kimera.Snapshot, refs: List[Any]) -> None:
    """One chunk: every batch back, in order, then one transaction."""
    scars: List[Tuple[str, str, float, str, str]] = []
    for r in refs:
        scars.extend(ray.get(r))
    snap.write_chunk(scars)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m kimera.ray``: ``kimera run`` on a Ray cluster (``kimera run
    --engine ray`` calls it)."""
    p = argparse.ArgumentParser(prog="python -m kimera.ray", description=(run.__doc__ or "").split("\n")[0])
    p.add_argument("--db", required=True, help="the store (kimera --db)")
    p.add_argument("--address", default="auto", help="Ray cluster address ('auto', 'local', ray://host:10001)")
    p.add_argument("--detectors", default="model")
    p.add_argument("--pairing", default="ann")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--min-sim", type=float, default=0.4)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--chunk", type=int, default=10_000)
    p.add_argument("--exact-max", type=int, default=5_000)
    p.add_argument("--nprobe", type=int, default=8)
    p.add_argument("--lexical-k", type=int, default=20, help="lexical neighbours per statement (0: vectors only)")
    p.add_argument("--model-id", default=None)
    p.add_argument("--actors", type=int, default=None, help="detector actors (default: one per cluster CPU)")
    p.add_argument("--cpus-per-actor", type=int, default=1)
    p.add_argument("--as-of", type=int, default=None, help="epoch seconds: read the store as it was then")
    p.add_argument("--json", action="store_true", help="print the stats as JSON")
    a = p.parse_args(argv)
    try:
        stats = run(
            a.db,
            address=a.address,
            detectors=a.detectors,
            pairing=a.pairing,
            k=a.k,
            min_sim=a.min_sim,
            seed=a.seed,
            chunk=a.chunk,
            exact_max=a.exact_max,
            nprobe=a.nprobe,
            lexical_k=a.lexical_k,
            model_id=a.model_id,
            actors=a.actors,
            cpus_per_actor=a.cpus_per_actor,
            as_of=a.as_of,
        )
    except _kimera.KimeraError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if a.json:
        print(json.dumps(stats, indent=2))
    else:
        for key in ("run_id", "mode", "workers", "pairing", "index", "detectors", "model_id", "geoids",
                    "pairs_checked", "scars_found", "new_scars", "chunks", "latency_ms", "mem_mb"):
            print(f"{key:14} {stats.get(key)}")
    return 0


if __name__ == "__main__":
    # run the installed module's main, so Ray pickles its actors and tasks by reference
    from kimera.ray import main as _main

    sys.exit(_main())
