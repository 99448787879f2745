"""Scoring on a dask cluster: the client and a local cluster that keeps its routine logs quiet."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

from ..errors import FlightpathsError

__all__ = ["dask_client"]

_DASK_LOGGERS = ("distributed", "dask", "tornado", "bokeh")


@contextlib.contextmanager
def _quiet_dask() -> Iterator[None]:
    """A local cluster's scheduler, nannies and workers keep their routine lines ("Start Nanny
    at", "Register worker", workers killed at close) to themselves: errors still show."""
    env = {f"DASK_LOGGING__{name.upper()}": "error" for name in _DASK_LOGGERS}  # read by the worker processes
    saved_env = {k: os.environ.get(k) for k in env}
    loggers = [logging.getLogger(name) for name in _DASK_LOGGERS]
    saved = [lg.level for lg in loggers]
    os.environ.update(env)
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, saved):
            lg.setLevel(level)
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def dask_client(address: str, client: Any | None) -> Iterator[Any]:
    """*client* when given, else a client of the cluster at *address* (``local``: a quiet local
    cluster of one single-threaded worker per CPU, bound to 127.0.0.1)."""
    if client is not None:
        yield client
        return
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - dask is a dependency
        raise FlightpathsError("--dask needs dask.distributed: pip install 'dask[distributed]'") from exc
    if address == "local":
        with _quiet_dask(), LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1, host="127.0.0.1",
                                         dashboard_address=None, silence_logs=logging.ERROR) as cluster, Client(cluster) as c:
            yield c
    else:
        with Client(address) as c:
            yield c
