"""The shape of the project: import direction, errors, settings, safe files, CLI basics."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from flightpaths.cli import cli
from flightpaths.errors import FlightpathsError, InputError, SchemaError, SettingsError
from flightpaths.fileio import OutputExistsError, atomic_write_text, check_output, safe_name
from flightpaths.schema import POINT_COLUMNS, empty_points, validate_points
from flightpaths.settings import resolve

REPO = Path(__file__).resolve().parents[1]
STAGES = ["ingest", "tracks", "simulate", "render", "label", "train", "context", "score", "report", "evaluate", "watch", "demo"]


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


#: Modules every stage may use; they import only each other (never a stage or the CLI).
SHARED = {"errors", "fileio", "geometry", "kernels", "localserver", "metrics", "registration", "runtime", "schema", "settings"}
#: Modules named apart from their stage.
STAGE_ALIASES = {"simulate_mouse": "simulate"}


def _top(module: str) -> str | None:
    """The flightpaths module or package *module* belongs to (``flightpaths.tracks.clean`` -> ``tracks``)."""
    parts = module.split(".")
    return parts[1] if parts[0] == "flightpaths" and len(parts) > 1 else None


def test_shared_modules_import_only_shared_modules() -> None:
    for name in sorted(SHARED):
        path = REPO / "flightpaths" / f"{name}.py"
        assert path.exists(), f"shared module {name} is gone: update SHARED"
        others = {_top(m) for m in _imports(path)} - {None}
        assert others <= SHARED, f"flightpaths/{name}.py imports {sorted(others - SHARED)} (not a shared module)"


def test_every_module_is_a_stage_the_cli_or_shared() -> None:
    for path in (REPO / "flightpaths").iterdir():
        name = path.stem if path.suffix == ".py" else path.name
        if name.startswith("__") or not (path.suffix == ".py" or (path / "__init__.py").exists()):
            continue
        assert name in SHARED or name == "cli" or STAGE_ALIASES.get(name, name) in STAGES, \
            f"flightpaths/{path.name} is neither a stage, the CLI nor a shared module: add it to one list"


#: Private imports across packages still in the code (each to be removed; never add one).
KNOWN_PRIVATE_IMPORTS: set[tuple[str, str]] = set()


def _private_imports(path: Path) -> list[str]:
    """Private modules and names *path* imports from another package of flightpaths/rasterize."""
    rel = path.relative_to(REPO).with_suffix("").parts
    home = ".".join(rel[:2]) if rel[0] == "flightpaths" else rel[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            pairs = [(alias.name, "") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                module = ".".join([*rel[: -node.level], *([module] if module else [])])
            pairs = [(module, alias.name) for alias in node.names]
        else:
            continue
        for module, name in pairs:
            parts = module.split(".")
            if parts[0] not in ("flightpaths", "rasterize"):
                continue
            package = ".".join(parts[:2]) if parts[0] == "flightpaths" else parts[0]
            private = [p for p in [*parts, name] if p.startswith("_") and not p.startswith("__")]
            if private and package != home:
                found.append(f"{module}.{name}" if name.startswith("_") else module)
    return found


def test_no_private_imports_across_packages() -> None:
    seen = set()
    for folder in ("flightpaths", "rasterize", "benchmarks", "notebooks"):
        for path in sorted((REPO / folder).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            for what in _private_imports(path):
                seen.add((rel, what))
                assert (rel, what) in KNOWN_PRIVATE_IMPORTS, f"{rel} imports the private {what} of another package"
    gone = KNOWN_PRIVATE_IMPORTS - seen
    assert not gone, f"fixed, remove from KNOWN_PRIVATE_IMPORTS: {sorted(gone)}"


@pytest.mark.parametrize(("module", "cls", "bad"), [
    ("flightpaths.tracks", "TrackSettings", {"gap_s": -1}),
    ("flightpaths.tracks", "WindowSettings", {"window_s": 0}),
    ("flightpaths.simulate", "SimSettings", {"hours": -1}),
    ("flightpaths.label.rules", "RuleSettings", {"min_revolutions": 0}),
    ("flightpaths.score.settings", "ScoreSettings", {"threshold": 2.0}),
])
def test_settings_checks_raise_settings_error(module: str, cls: str, bad: dict[str, object]) -> None:
    import importlib

    settings_type = getattr(importlib.import_module(module), cls)
    with pytest.raises(SettingsError, match=next(iter(bad))):
        settings_type(**bad)


def test_average_precision_is_written_once() -> None:
    """One metrics module (flightpaths/metrics.py): no second average precision drifts apart."""
    found = []
    for path in sorted((REPO / "flightpaths").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        rel = path.relative_to(REPO).as_posix()
        found += [rel for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name == "average_precision"]
        assert "average_precision_score" not in _imports_names(tree), f"{rel} uses scikit-learn's average precision"
    assert found == ["flightpaths/metrics.py"]


# the CSV writers that neutralise spreadsheet formulas themselves (a `csv_cell`/`csv_safe_frame` on the line)
_CSV_SAFE = ("csv_safe_frame(", "csv_cell(", "map(csv_cell,")


def test_every_csv_cell_is_neutralised_where_it_is_written() -> None:
    """Every CSV the project writes neutralises formulas: DataFrame.to_csv only inside fileio
    (write_csv/csv_text) or on a csv_safe_frame; csv writers' rows go through csv_cell."""
    found = []
    for path in sorted((REPO / "flightpaths").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        if rel == "flightpaths/fileio.py":
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            raw = ".to_csv(" in line or ".writerow(" in line or ".writerows(" in line
            if raw and not any(s in line for s in _CSV_SAFE) and "writeheader" not in line:
                found.append(f"{rel}:{n}: {line.strip()}")
    assert found == [], "CSV written without fileio.write_csv/csv_text/csv_cell:\n" + "\n".join(found)


def _imports_names(tree: ast.AST) -> set[str]:
    return {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names}


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


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["fly-to-the-moon"])
    assert result.exit_code == 2


def test_commands_that_read_logs_share_one_set_of_log_options() -> None:
    """``ingest`` and ``score`` read logs the same way: the same --format, --tz and --columns."""
    def log_options(name: str) -> dict[str, tuple[list[str], str | None]]:
        command = cli.get_command(click.Context(cli), name)
        assert command is not None
        params = {p.name: p for p in command.params}
        return {key: (params[key].opts, getattr(params[key], "help", None)) for key in ("fmt", "tz", "columns")}

    assert log_options("ingest") == log_options("score")
    assert log_options("ingest")["fmt"][0] == ["--format"]
