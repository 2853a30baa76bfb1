"""How many cores the engine uses, and the gene-chunk loop that spreads work over them.

The engine's heavy steps (gene-wise and MAP dispersions, the NB GLM, Cook's distances) treat
every gene independently, so they run on blocks of genes ("chunks"): a chunk's work arrays stay
small (memory is bounded whatever the matrix size, and they stay in cache), and chunks run on a
pool of threads. NumPy and SciPy release the GIL inside their array loops, so threads give real
parallelism without copying data to other processes. Results do not depend on the number of
threads or on the chunk size: every gene is computed by the same operations either way.

The thread count is, in order: :func:`set_threads` / :func:`limit_threads`, the environment
variable ``DGEFLOW_THREADS``, then ``OMP_NUM_THREADS``, then the CPUs this process may use.
:func:`limit_threads` also caps the BLAS pool (through ``threadpoolctl``),
which is what a workflow job given ``threads: n`` should call::

    with dgeflow.threads.limit_threads(snakemake.threads):
        fit = dgeflow.fit(counts, samples, design)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

# elements (genes x samples) per chunk: temporaries of a few MB keep the elementwise
# chains in cache while Python's per-call overhead stays small against the array work
CHUNK_ELEMENTS = 1 << 17

_threads: int | None = None


def _cpus_available() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _int_env(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    return None


def get_threads() -> int:
    """Number of threads the engine uses for its gene-chunk loops."""
    if _threads is not None:
        return _threads
    n = _int_env("DGEFLOW_THREADS") or _int_env("OMP_NUM_THREADS") or _cpus_available()
    return max(1, min(n, _cpus_available()))


def set_threads(n: int | None) -> None:
    """Set the engine's thread count (``None``: back to the environment / CPU default)."""
    global _threads
    if n is not None and int(n) < 1:
        raise ValueError(f"threads must be at least 1, got {n}")
    _threads = None if n is None else int(n)


@contextlib.contextmanager
def limit_threads(n: int) -> Iterator[None]:
    """Use at most ``n`` threads inside the block: the engine's chunk pool and the BLAS pool.

    The BLAS pool is limited through ``threadpoolctl``.
    """
    global _threads
    previous = _threads
    set_threads(n)
    try:
        with threadpool_limits(limits=int(n)):
            yield
    finally:
        _threads = previous


def chunk_slices(n_rows: int, n_cols: int, elements: int = CHUNK_ELEMENTS) -> list[slice]:
    """Row blocks of about ``elements`` entries each (at least 16 rows, at most all)."""
    rows = max(16, elements // max(1, n_cols))
    return [slice(start, min(start + rows, n_rows)) for start in range(0, n_rows, rows)]


def map_chunks(
    func: Callable[[slice], Any], chunks: Sequence[slice], threads: int | None = None
) -> list[Any]:
    """``[func(chunk) for chunk in chunks]``, on a thread pool when more than one thread."""
    threads = get_threads() if threads is None else threads
    if threads <= 1 or len(chunks) <= 1:
        return [func(c) for c in chunks]
    # each worker's BLAS calls are small (p x p systems, samples x p products): a multi-threaded
    # BLAS under several workers only contends for the cores, so it is held to one thread here
    with _single_threaded_blas(), ThreadPoolExecutor(min(threads, len(chunks))) as pool:
        return list(pool.map(func, chunks))


def _single_threaded_blas() -> contextlib.AbstractContextManager:
    return threadpool_limits(limits=1, user_api="blas")


def concat_rows(parts: Sequence[np.ndarray]) -> np.ndarray:
    """Concatenate per-chunk results along genes."""
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)
