"""``-vv`` turns on flightpaths' debug log only: third-party debug output (numba's compiler
logs megabytes while it compiles the readers) stays off."""

from __future__ import annotations

import logging

from click.testing import CliRunner

from flightpaths.cli import cli


def test_debug_is_flightpaths_only() -> None:
    result = CliRunner().invoke(cli, ["-vv", "ingest", "--help"])
    assert result.exit_code == 0, result.output
    assert logging.getLogger("flightpaths.score.pipeline").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("numba.core.ssa").isEnabledFor(logging.DEBUG)
    assert logging.getLogger("numba.core.ssa").isEnabledFor(logging.INFO)  # -v's level for the rest
    CliRunner().invoke(cli, ["ingest", "--help"])
    assert not logging.getLogger("flightpaths.score.pipeline").isEnabledFor(logging.DEBUG)
