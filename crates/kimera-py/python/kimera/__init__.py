"""kimera from Python: keep a body of knowledge consistent.

The same engine as the ``kimera`` command (the Rust crates, bound with PyO3): a
:class:`Store` holds statements, their vectors, the contradictions found between them
("scars") and the learned concept graph; :class:`Encoder` turns texts into the CLI's
vectors; :class:`Detector` scores pairs of texts. ``kimera.ray`` runs the reactor on a
Ray cluster with the same result as ``kimera run``.

>>> import kimera
>>> store = kimera.Store("/tmp/kimera-doc.db")
>>> store.add(["Fire is hot.", "Fire is cold.", "The sky is blue."])["inserted"] in (0, 3)
True
>>> _ = store.embed()
>>> stats = store.run(detectors="lexical")
>>> [(s["text_a"], s["text_b"]) for s in store.scars()]  # doctest: +SKIP
[('Fire is cold.', 'Fire is hot.')]

Every call that takes long releases the GIL and can be interrupted with Ctrl-C
(``KeyboardInterrupt``; what was committed stays committed). Errors are
:class:`KimeraError` subclasses whose message is the one the CLI prints.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union, overload

import numpy as np
import numpy.typing as npt

from . import _kimera
from ._kimera import (
    ConfigError,
    IngestError,
    KimeraError,
    ModelError,
    NotFoundError,
    NoVectorsError,
    RunError,
    StoreError,
)

__all__ = [
    "Store",
    "Encoder",
    "Detector",
    "KimeraError",
    "StoreError",
    "ModelError",
    "IngestError",
    "RunError",
    "NoVectorsError",
    "ConfigError",
    "NotFoundError",
    "__version__",
]

__version__: str = _kimera.__version__

PathLike = Union[str, "os.PathLike[str]"]
Record = Mapping[str, Optional[str]]
Json = Dict[str, Any]


class Store:
    """A kimera store: one SQLite file (created if missing).

    The methods are the CLI's commands on that file and return what ``--json`` prints,
    as plain dicts and lists.

    >>> store = kimera.Store("kb.db")  # doctest: +SKIP
    >>> store.ingest("facts.csv")["rows"]  # doctest: +SKIP
    1000
    """

    def __init__(self, path: PathLike) -> None:
        self._inner = _kimera.Store(os.fspath(path))

    @property
    def path(self) -> str:
        """The store file."""
        return os.fspath(self._inner.path)

    def __repr__(self) -> str:
        return f"kimera.Store({self.path!r})"

    def counts(self) -> Json:
        """How many statements, vectors (per model), scars, pairs the store holds."""
        return self._inner.counts()  # type: ignore[no-any-return]

    def add(
        self,
        items: Union[str, Record, Iterable[Union[str, Record]]],
        lang: str = "und",
        source: Optional[str] = None,
    ) -> Json:
        """Adds statements: texts, or records ``{"text", "lang", "id", "label"}``.

        Duplicates (same id, or same normalised text and language) are counted, not
        added again. ``source`` names where they came from (shown as ``api:<source>``).

        >>> store.add(["Water boils at 100 °C.", {"text": "L'eau bout à 100 °C.", "lang": "fr"}])  # doctest: +SKIP
        {'inserted': 2, 'duplicates': 0}
        """
        return self._inner.add(items, lang, source)  # type: ignore[no-any-return]

    def ingest(
        self,
        paths: Union[PathLike, Sequence[PathLike]],
        format: Optional[str] = None,
        strict: bool = False,
        lang: str = "und",
        keep_all: bool = False,
    ) -> Json:
        """Loads files or directories, as ``kimera ingest`` does (same formats and
        options); returns its summary (rows, new geoids, bad rows per file...).

        >>> store.ingest(["data/facts.csv", "docs/"])["failed_files"]  # doctest: +SKIP
        0
        """
        if isinstance(paths, (str, os.PathLike)):
            ps: List[str] = [os.fspath(paths)]
        else:
            ps = [os.fspath(p) for p in paths]
        return self._inner.ingest(ps, format, strict, lang, keep_all)  # type: ignore[no-any-return]

    def embed(self, chunk: int = 4096) -> Json:
        """Gives every statement a vector (``kimera embed``; cached by text)."""
        return self._inner.embed(chunk)  # type: ignore[no-any-return]

    def run(
        self,
        detectors: str = "model",
        pairing: str = "ann",
        k: int = 10,
        min_sim: float = 0.4,
        seed: int = 42,
        chunk: int = 10_000,
        workers: int = 0,
        exact_max: int = 5_000,
        nprobe: int = 8,
        model_id: Optional[str] = None,
        lexical_k: int = 20,
    ) -> Json:
        """One reactor cycle (``kimera run``, same options): finds contradictions
        between stored statements and records them as scars. Returns the run's stats.

        >>> store.run(detectors="lexical,model")["new_scars"]  # doctest: +SKIP
        3
        """
        return self._inner.run(  # type: ignore[no-any-return]
            detectors, pairing, k, min_sim, seed, chunk, workers, exact_max, nprobe, model_id, lexical_k
        )

    @overload
    def check(  # type: ignore[overload-overlap]  # a str is also a Sequence[str]
        self, texts: str, k: int = ..., detectors: str = ..., lang: str = ...
    ) -> List[Json]: ...
    @overload
    def check(
        self, texts: Sequence[str], k: int = ..., detectors: str = ..., lang: str = ...
    ) -> List[List[Json]]: ...
    def check(
        self,
        texts: Union[str, Sequence[str]],
        k: int = 10,
        detectors: str = "model",
        lang: str = "und",
    ) -> Union[List[Json], List[List[Json]]]:
        """Which stored statements does a text contradict? (``kimera check``)

        For one text, its contradictions (strongest first): dicts with ``id``,
        ``text``, ``lang``, ``cosine``, ``detector``, ``score`` and ``evidence``. For a
        list of texts, one such list per text.

        >>> store.check("Fire is cold.", detectors="lexical")[0]["text"]  # doctest: +SKIP
        'Fire is hot.'
        """
        if isinstance(texts, str):
            return self._inner.check(texts, k, detectors, lang)  # type: ignore[no-any-return]
        return self._inner.check(list(texts), k, detectors, lang)  # type: ignore[no-any-return]

    def similar(self, text: str, k: int = 10) -> List[Json]:
        """The ``k`` stored statements nearest to ``text`` (``kimera similar``):
        ``id``, ``text``, ``lang``, ``score`` (cosine), best first."""
        return self._inner.similar(text, k)  # type: ignore[no-any-return]

    def scars(self, limit: int = 20, detector: Optional[str] = None) -> List[Json]:
        """The contradictions found, strongest first (``kimera scars``; 0 = all):
        ``a``, ``b``, ``text_a``, ``text_b``, ``score``, ``detector``, ``evidence``,
        ``run_id``..."""
        return self._inner.scars(limit, detector)  # type: ignore[no-any-return]

    def scars_in_order(self) -> List[Json]:
        """Every scar in the order it was written (what a run wrote, in order)."""
        return self._inner.scars_in_order()  # type: ignore[no-any-return]

    def conflicts(
        self, status: str = "open", kind: Optional[str] = None, limit: int = 0
    ) -> List[Json]:
        """Conflicts, one per pair of statements, strongest first (``kimera conflicts
        --json``): both texts and sources, the type, every detector's verdict, the status
        and, once settled, the resolution with who decided, when and why.

        ``status`` is ``"open"``, ``"resolved"`` or ``"all"``; ``kind`` one type
        (``"negation"``, ``"number"``, ...); ``limit`` 0 means all. Settle them with
        ``kimera resolve`` (CLI) or the server's API.

        >>> [c["kind"] for c in store.conflicts(limit=2)]  # doctest: +SKIP
        ['negation', 'number']
        """
        return self._inner.conflicts(status, kind, limit)  # type: ignore[no-any-return]

    def learn(self, rebuild: bool = False, workers: int = 0) -> Json:
        """Learns the concept graph from the statements not learned yet (``kimera
        learn``); ``rebuild`` forgets the stored graph first."""
        return self._inner.learn(rebuild, workers)  # type: ignore[no-any-return]

    def concept(self, term: str, per_kind: int = 8, examples: int = 1) -> Json:
        """A concept's associations, out and in, with example statements (``kimera
        concept TERM --json``). Raises :class:`NotFoundError` for an unknown term.

        >>> store.concept("fire")["out"][0]["other"]  # doctest: +SKIP
        'hot'
        """
        return self._inner.concept(term, per_kind, examples)  # type: ignore[no-any-return]


class Encoder:
    """The sentence encoder of the CLI (all-MiniLM-L6-v2 from ``~/.cache/kimera``).

    >>> enc = kimera.Encoder()  # doctest: +SKIP
    >>> enc.encode(["Fire is hot.", "Ice is cold."]).shape  # doctest: +SKIP
    (2, 384)
    """

    def __init__(self, precision: str = "f32", batch_size: int = 64, threads: int = 0) -> None:
        self._inner = _kimera.Encoder(precision, batch_size, threads)

    @property
    def model_id(self) -> str:
        """The id vectors are stored under (model, revision and precision)."""
        return self._inner.model_id

    @property
    def dim(self) -> int:
        """Length of every vector."""
        return self._inner.dim

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """``len(texts) × dim`` float32 unit vectors, equal to what ``kimera embed``
        stores for the same texts."""
        if isinstance(texts, str):
            raise TypeError("encode takes a list of texts, not one str")
        return self._inner.encode(list(texts))

    def __repr__(self) -> str:
        return f"kimera.Encoder({self.model_id!r})"


class Detector:
    """One contradiction detector by name: ``model`` (the learned one, default),
    ``lexical``, ``baseline``, ``model-head``, ``model-cross``...

    >>> kimera.Detector("lexical").score([("Fire is hot.", "Fire is cold.")])[0]["contradiction"]  # doctest: +SKIP
    True
    """

    def __init__(self, name: str = "model") -> None:
        self._inner = _kimera.Detector(name)

    @property
    def name(self) -> str:
        return self._inner.name

    def score(self, pairs: Sequence[Tuple[str, str]]) -> List[Json]:
        """One verdict per ``(a, b)`` pair: ``contradiction`` (bool), ``score`` (0..1)
        and ``evidence`` (why)."""
        return self._inner.score([(a, b) for a, b in pairs])  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"kimera.Detector({self.name!r})"
