"""The shape of the project: import direction, errors, settings, safe files, CLI basics."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner

from flightpaths.cli import COMMANDS, cli
from flightpaths.errors import FlightpathsError, InputError, SchemaError
from flightpaths.fileio import OutputExistsError, atomic_write_text, check_output, safe_name
from flightpaths.schema import POINT_COLUMNS, empty_points, validate_points
from flightpaths.settings import resolve

REPO = Path(__file__).resolve().parents[1]
STAGES = ["ingest", "tracks", "simulate", "render", "label", "train", "score", "report", "evaluate", "watch", "demo"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import inside flightpaths
                parts = path.relative_to(REPO).with_suffix("").parts[: -node.level]
                base = ".".join(parts)
                names.add(f"{base}.{node.module}" if node.module else base)
            elif node.module:
                names.add(node.module)
    return names


def test_rasterize_imports_nothing_from_flightpaths_torch_or_click() -> None:
    for path in (REPO / "rasterize").rglob("*.py"):
        bad = {n for n in _imports(path) if n.split(".")[0] in {"flightpaths", "torch", "click", "matplotlib"}}
        if path.name == "reference.py":  # the matplotlib reference drawing may use matplotlib
            bad = {n for n in bad if not n.startswith("matplotlib")}
        assert not bad, f"{path.relative_to(REPO)} imports {sorted(bad)}"


def test_only_the_cli_imports_click() -> None:
    for path in (REPO / "flightpaths").rglob("*.py"):
        if "cli" in path.relative_to(REPO).parts:
            continue
        assert "click" not in {n.split(".")[0] for n in _imports(path)}, path


def _stage_of(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "flightpaths" or len(parts) < 2:
        return None
    return STAGES.index(parts[1]) if parts[1] in STAGES else None


def test_stages_import_only_from_the_left() -> None:
    for path in (REPO / "flightpaths").rglob("*.py"):
        rel = path.relative_to(REPO).with_suffix("").parts
        if "cli" in rel:
            continue
        me = _stage_of(".".join(rel))
        if me is None:
            continue
        for name in _imports(path):
            other = _stage_of(name)
            assert other is None or other <= me, f"{'/'.join(rel)} imports {name} (a later stage)"


def test_input_error_names_file_line_and_column() -> None:
    err = InputError("'abc' is not a number", path="flights.csv", line=1284, column="lat")
    assert str(err) == "flights.csv, line 1284, column 'lat': 'abc' is not a number"
    assert isinstance(err, ValueError) and isinstance(err, FlightpathsError)
    assert (err.path, err.line, err.column) == ("flights.csv", 1284, "lat")


def test_validate_points_names_missing_columns() -> None:
    with pytest.raises(SchemaError, match="missing required column.*object_id"):
        validate_points(empty_points().drop(columns=["object_id"]))
    assert list(validate_points(empty_points()).columns) == list(POINT_COLUMNS)


def test_resolve_keeps_defaults_for_none() -> None:
    @dataclasses.dataclass(frozen=True)
    class S:
        a: int = 1
        b: str = "x"

    assert resolve(S, a=None, b="y") == S(1, "y")


def test_outputs_are_never_silently_overwritten(tmp_path: Path) -> None:
    target = atomic_write_text(tmp_path / "a.txt", "mine")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        check_output(target)
    assert check_output(target, overwrite=True) == target
    assert target.read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]  # no temporary files left


@pytest.mark.parametrize("hostile", ["../../etc/passwd", "/abs/path", "a/../../b", "<script>"])
def test_safe_name_never_escapes_its_folder(hostile: str, tmp_path: Path) -> None:
    name = safe_name(hostile)
    assert "/" not in name and ".." not in name
    assert (tmp_path / name).resolve().parent == tmp_path.resolve()


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["fly-to-the-moon"])
    assert result.exit_code == 2
