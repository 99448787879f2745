"""The development tools: the mypy baseline ratchet and the code-size measure."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]


def _tool(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, REPO / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_mypy_baseline_fails_when_a_count_grows_or_shrinks(tmp_path: Path) -> None:
    tool = _tool("mypy_baseline")
    base = Counter({"flightpaths/a.py": 2, "flightpaths/b.py": 1})
    errors = ["flightpaths/a.py:3: error: x  [arg-type]", "flightpaths/a.py:9: error: y  [arg-type]",
              "flightpaths/a.py:12: error: z  [arg-type]"]
    assert tool.compare(Counter({"flightpaths/a.py": 2, "flightpaths/b.py": 1}), base, errors[:2]) == []
    grown = tool.compare(Counter({"flightpaths/a.py": 3, "flightpaths/b.py": 1}), base, errors)
    assert grown[0].startswith("flightpaths/a.py: 3 error(s), baseline 2") and len(grown) == 4  # lists the errors
    shrunk = tool.compare(Counter({"flightpaths/a.py": 2}), base, errors[:2])
    assert shrunk == ["flightpaths/b.py: 0 error(s), baseline 1: well done, lower the baseline "
                      "(python tools/mypy_baseline.py --update) and commit it"]
    strict = tool.compare(Counter({"rasterize/raster.py": 1}), Counter({"rasterize/raster.py": 1}),
                          ["rasterize/raster.py:5: error: w  [no-any-return]"])
    assert "must have none" in strict[0]
    path = tmp_path / "baseline.txt"
    tool.write_baseline(base, path)
    assert tool.read_baseline(path) == base


def test_code_size_percentile_and_function_lengths(tmp_path: Path) -> None:
    tool = _tool("code_size")
    assert tool.percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90) == 9
    assert tool.percentile([5], 90) == 5
    src = tmp_path / "m.py"
    src.write_text("def a():\n    return 1\n\n\ndef b():\n    def c():\n        pass\n    return c\n")
    assert sorted(tool.functions(src)) == [(2, "a", 1), (2, "c", 6), (4, "b", 5)]
