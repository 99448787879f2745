"""flightpaths: movement logs to pictures, pictures to tips.

Stages, each importing only from stages to its left::

    ingest -> tracks -> render -> label -> train -> score -> report

The package root imports nothing heavy: import the stage modules you need, e.g.
``from flightpaths import ingest`` or ``import flightpaths.tracks``.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
