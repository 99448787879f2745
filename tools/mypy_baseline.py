"""Run mypy and hold its error count per file to a checked-in baseline that only shrinks.

    python tools/mypy_baseline.py            # run mypy (settings in pyproject.toml), compare
    python tools/mypy_baseline.py --update   # write the current counts as the new baseline

Fails (exit 1) when a file has more errors than its baseline count (fix them: the message
lists them) or fewer (good: run with ``--update`` and commit the lower baseline, so the gain
cannot be lost). ``rasterize/`` is checked with ``--strict`` and has no baseline: any error
there fails.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

BASELINE = Path(__file__).with_name("mypy_baseline.txt")
_ERROR = re.compile(r"^(?P<path>[^:\s]+\.py):\d+: error: ")


def run_mypy(extra: list[str]) -> tuple[list[str], int]:
    """mypy's error lines and its exit status."""
    proc = subprocess.run([sys.executable, "-m", "mypy", *extra], capture_output=True, text=True)
    if proc.returncode not in (0, 1):  # 2: mypy itself failed (bad config, crash)
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"mypy failed to run (exit {proc.returncode})")
    return [line for line in proc.stdout.splitlines() if _ERROR.match(line)], proc.returncode


def read_baseline(path: Path = BASELINE) -> Counter[str]:
    """``count path`` lines (``#`` comments and blank lines skipped)."""
    counts: Counter[str] = Counter()
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                n, name = line.split(None, 1)
                counts[name] = int(n)
    return counts


def write_baseline(counts: Counter[str], path: Path = BASELINE) -> None:
    lines = ["# mypy errors per file (tools/mypy_baseline.py): counts may only go down.",
             f"# total {sum(counts.values())}"]
    lines += [f"{n} {name}" for name, n in sorted(counts.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def compare(current: Counter[str], baseline: Counter[str], errors: list[str]) -> list[str]:
    """Problems: files over their baseline (with their errors) or under it."""
    problems = []
    for name in sorted(set(current) | set(baseline)):
        now, before = current.get(name, 0), baseline.get(name, 0)
        if name.startswith("rasterize/") and now:
            problems.append(f"{name}: {now} error(s); rasterize/ is checked strictly and must have none")
        elif now > before:
            problems.append(f"{name}: {now} error(s), baseline {before}: fix the new ones")
        elif now < before:
            problems.append(f"{name}: {now} error(s), baseline {before}: well done, lower the baseline "
                            "(python tools/mypy_baseline.py --update) and commit it")
        if now > before or (name.startswith("rasterize/") and now):
            problems += [f"    {line}" for line in errors if line.startswith(name + ":")]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="write the current counts as the baseline")
    args, extra = parser.parse_known_args(argv)
    errors, _status = run_mypy(extra)
    current = Counter(m.group("path") for m in map(_ERROR.match, errors) if m)
    if args.update:
        write_baseline(current)
        print(f"mypy baseline written: {sum(current.values())} error(s) in {len(current)} file(s)")
        return 0
    problems = compare(current, read_baseline(), errors)
    print("\n".join(problems) if problems else
          f"mypy: {sum(current.values())} error(s), none over the baseline ({BASELINE.name})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
