"""Seeded fuzzing (issue #23): every reader and the checkpoint loader over mutated inputs.

Each case starts from a known-good log of the hostile corpus (tests/data/hostile/make_corpus.py)
and applies a few random damages: bytes flipped, lines cut, lines of junk, NUL runs, stray CRs,
byte-order marks, truncation. Reading must never raise anything but InputError (no traceback),
and damages that leave the good lines alone (junk lines inserted between them) must keep every
good point. Seeded, so a failure is reproducible; about 20 s on a 2-core machine.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import random
from pathlib import Path

import pytest

from flightpaths.errors import BundleError, InputError
from flightpaths.ingest import IngestSettings, read_logs

HOSTILE = Path(__file__).parent / "data" / "hostile"
_spec = importlib.util.spec_from_file_location("make_corpus", HOSTILE / "make_corpus.py")
corpus = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(corpus)  # type: ignore[union-attr]

JUNK = [b"", b"\x00" * 300, b"\r", b"\xff\xfe", b"\xef\xbb\xbf", b"MSG,3,,,,", b",,,,,,,,,,", b"\x1b[2J", b"\xed\xa0\x80",
        b'{"a":' * 50, b"9" * 400, b"nan,inf,-inf", b"\"unclosed", "é€😀".encode()]


def _damage(data: bytes, rng: random.Random) -> bytes:
    """A few random damages anywhere in *data*."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(5)
        at = rng.randrange(len(buf) + 1)
        if op == 0 and buf:
            buf[min(at, len(buf) - 1)] = rng.randrange(256)
        elif op == 1:
            buf[at:at] = rng.choice(JUNK)
        elif op == 2:
            del buf[at:at + rng.randint(1, 40)]
        elif op == 3:
            buf = buf[:at]
        else:
            buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 30)))
    return bytes(buf)


def _junk_lines(text: str, rng: random.Random) -> bytes:
    """Junk lines between the good lines (after the header): the good lines stay whole."""
    lines = text.encode().splitlines(keepends=True)
    out = lines[:1]
    for line in lines[1:]:
        if rng.random() < 0.6:  # not an open quote: by CSV's rules it joins the lines that follow
            out.append(rng.choice([j for j in JUNK if not j.startswith(b'"')]) + b"\n")
        out.append(line)
    return b"".join(out)


def _read(path: Path) -> int:
    try:
        return len(read_logs([path], settings=IngestSettings()).points)
    except InputError:
        return -1


@pytest.mark.parametrize("base", sorted(corpus.BASES))
def test_readers_survive_random_damage(tmp_path: Path, base: str) -> None:
    text, n, _ = corpus.BASES[base]
    rng = random.Random(f"fuzz-{base}")
    suffix = corpus.SUFFIX[base]
    for case in range(40):
        data = _damage(text.encode(), rng)
        if case % 4 == 3:
            data = gzip.compress(data, mtime=0)[: rng.randint(10, 400)] if case % 8 == 7 else gzip.compress(data, mtime=0)
        path = tmp_path / f"{base}_{case}{suffix}"
        path.write_bytes(data)
        kept = _read(path)  # anything but InputError fails the test, with the case in the traceback
        assert kept <= n + 2, (path.name, data[:200])


@pytest.mark.parametrize("base", ["sbs", "csv", "opensky", "fr24"])
def test_junk_lines_never_cost_a_good_line(tmp_path: Path, base: str) -> None:
    text, n, _ = corpus.BASES[base]
    rng = random.Random(f"junk-{base}")
    for case in range(25):
        path = tmp_path / f"{base}_{case}{corpus.SUFFIX[base]}"
        path.write_bytes(_junk_lines(text, rng))
        assert _read(path) == n, (path.name, path.read_bytes()[:300])


def test_checkpoint_loader_survives_damaged_state(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from safetensors.torch import save

    from flightpaths.train.bundle import CHECKPOINT_DIR, load_checkpoint

    blob = save({"model.w": torch.zeros(2), "opt.0.step": torch.tensor(1.0)})
    good = {"format": "flightpaths-checkpoint", "settings": {}, "phase": 1, "history": [], "best": 0.5,
            "best_epoch": 1, "done": {"1": 1}, "stale": 0, "param_groups": [], "sha256": hashlib.sha256(blob).hexdigest()}
    folder = tmp_path / CHECKPOINT_DIR
    folder.mkdir()
    rng = random.Random("checkpoint")
    deep = "[" * 5000 + "]" * 5000
    values = [None, "x", -1, 1e308, [], {}, {"a": 1}, "nan", float("inf")]
    for case in range(60):
        meta = dict(good)
        for _ in range(rng.randint(1, 3)):
            key = rng.choice(list(meta))
            if rng.random() < 0.3:
                meta.pop(key)
            else:
                meta[key] = rng.choice(values)
        text = json.dumps(meta) if case % 10 else json.dumps({**good, "history": "X"}).replace('"X"', deep)
        if case % 7 == 0:
            text = text[: rng.randrange(len(text))]
        (folder / "state.json").write_text(text)
        (folder / "state.safetensors").write_bytes(blob if case % 5 else _damage(blob, rng))
        try:
            load_checkpoint(tmp_path)
        except BundleError:
            pass
