"""Measure the shape of the code: file lengths and function lengths.

    python tools/code_size.py [--check] [PATH ...]   (default: flightpaths rasterize)

Prints the longest files, the function-length percentiles (p50, p90, max; lines from ``def``
to the function's last line, nested functions counted on their own) and the longest
functions. With ``--check`` it exits 1 when a file other than the allowed ones is over
``MAX_FILE_LINES`` or the function-length p90 is over ``MAX_P90``.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

MAX_FILE_LINES = 800
MAX_P90 = 25
#: Files allowed over MAX_FILE_LINES: the compiled SBS scanner (one long job), and files other
#: work is still splitting (each entry says why; lower this list, never raise it).
ALLOWED_LONG = {
    "flightpaths/ingest/_sbs_scan.py",  # the compiled SBS scanner
}


def functions(path: Path) -> list[tuple[int, str, int]]:
    """(length, name, first line) of every function in *path*."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.append((node.end_lineno - node.lineno + 1, node.name, node.lineno))
    return out


def percentile(values: list[int], q: float) -> int:
    """The nearest-rank percentile *q* (0-100) of *values*."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", default=["flightpaths", "rasterize"])
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args(argv)
    root = Path.cwd()
    files = sorted(p for d in args.paths for p in Path(d).rglob("*.py"))
    sizes, funcs = [], []
    for path in files:
        rel = path.resolve().relative_to(root.resolve()).as_posix()
        sizes.append((len(path.read_text(encoding="utf-8").splitlines()), rel))
        funcs += [(n, f"{rel}:{line} {name}") for n, name, line in functions(path)]
    lengths = [n for n, _ in funcs]
    p50, p90 = percentile(lengths, 50), percentile(lengths, 90)
    print(f"{len(files)} files, {sum(s for s, _ in sizes)} lines; {len(funcs)} functions: "
          f"p50 {p50}, p90 {p90}, max {max(lengths)} lines")
    print("longest files:", ", ".join(f"{rel} {n}" for n, rel in sorted(sizes, reverse=True)[: args.top]))
    print("longest functions:", ", ".join(f"{where} {n}" for n, where in sorted(funcs, reverse=True)[: args.top]))
    long_files = [(n, rel) for n, rel in sizes if n > MAX_FILE_LINES and rel not in ALLOWED_LONG]
    failed = False
    if args.check and long_files:
        print(f"files over {MAX_FILE_LINES} lines: " + ", ".join(f"{rel} ({n})" for n, rel in long_files))
        failed = True
    if args.check and p90 > MAX_P90:
        print(f"function-length p90 is {p90} lines, over {MAX_P90}")
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
