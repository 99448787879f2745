"""Find repeated images: byte-identical copies and near-identical pictures.

A folder a reporter brings often holds the same map twice under two names (the Quartz
helicopter folder: 183 files, 167 distinct), and overlapping time windows draw nearly the
same picture. A random split that puts one copy in training and the other in validation
reports a figure that is too good. :func:`find_duplicate_groups` gives every image a group
id so a split can keep each group on one side:

* byte-identical files (same sha256) always share a group;
* near-identical pictures share a group when their perceptual hashes (``imagehash.phash``,
  64 bits by default) differ in at most ``max_distance`` bits. The default of 2 keeps
  adjacent overlapping windows of one flight together without merging different flights
  drawn on the same basemap (those differ by 4 bits or more on the Quartz maps).

Groups are merged transitively (union-find), so A~B and B~C put A, B and C together.

>>> find_duplicate_groups([])
[]
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["DuplicateReport", "describe_duplicates", "find_duplicate_groups", "find_duplicates"]

log = logging.getLogger(__name__)


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def union(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


@dataclass(frozen=True)
class DuplicateReport:
    """Duplicate groups of a list of images.

    ``groups[i]`` is the group id of image *i* (0, 1, 2 ... in order of first appearance);
    ``exact_sets`` lists the index sets of byte-identical copies (2 or more images);
    ``near_sets`` the groups with 2 or more distinct contents; ``unreadable`` the indices of
    files that could not be decoded (each its own group, hashed by bytes only).
    """

    groups: tuple[int, ...]
    n_distinct_bytes: int
    exact_sets: tuple[tuple[int, ...], ...]
    near_sets: tuple[tuple[int, ...], ...]
    unreadable: tuple[int, ...] = ()
    max_distance: int = 2

    @property
    def n_groups(self) -> int:
        """How many groups (distinct pictures, up to near-identity)."""
        return len(set(self.groups))

    def summary(self) -> str:
        """One paragraph for the log: counts, and a warning when there are repeats.

        >>> DuplicateReport(groups=(0, 0, 1), n_distinct_bytes=2, exact_sets=(), near_sets=((0, 1),)).summary()
        '3 images, 2 distinct files, 2 distinct pictures. Warning: 1 set(s) of near-identical pictures (perceptual hash within 2 bits; 2 images): keep each set on one side of a train/validation split.'
        """
        n = len(self.groups)
        text = f"{n} images, {self.n_distinct_bytes} distinct files, {self.n_groups} distinct pictures."
        warnings = []
        if self.exact_sets:
            copies = sum(len(s) for s in self.exact_sets)
            warnings.append(f"{len(self.exact_sets)} set(s) of byte-identical copies ({copies} images)")
        if self.near_sets:
            members = sum(len(s) for s in self.near_sets)
            warnings.append(
                f"{len(self.near_sets)} set(s) of near-identical pictures "
                f"(perceptual hash within {self.max_distance} bits; {members} images)"
            )
        if warnings:
            text += " Warning: " + "; ".join(warnings) + ": keep each set on one side of a train/validation split."
        if self.unreadable:
            text += f" {len(self.unreadable)} file(s) could not be decoded and were compared by bytes only."
        return text


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _phash_bits(path: Path, hash_size: int) -> np.ndarray | None:
    import imagehash
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return np.asarray(imagehash.phash(img.convert("RGB"), hash_size=hash_size).hash, bool).ravel()
    except (OSError, UnidentifiedImageError, ValueError):
        return None


def _near_pairs(bits: np.ndarray, max_distance: int, block: int = 2048) -> list[tuple[int, int]]:
    """Index pairs (i < j) whose bit vectors differ in at most *max_distance* places."""
    x = bits.astype(np.float32)
    ones = x.sum(1)
    pairs: list[tuple[int, int]] = []
    for start in range(0, len(x), block):
        a = x[start : start + block]
        # Hamming distance = |a| + |b| - 2 a.b for 0/1 vectors.
        dist = ones[start : start + block, None] + ones[None, :] - 2.0 * (a @ x.T)
        ii, jj = np.nonzero(dist <= max_distance + 0.5)
        for i, j in zip(ii + start, jj):
            if i < j:
                pairs.append((int(i), int(j)))
    return pairs


def find_duplicates(
    paths: Sequence[str | Path],
    *,
    max_distance: int = 2,
    hash_size: int = 8,
    progress: Callable[[int], None] | None = None,
) -> DuplicateReport:
    """Group byte-identical and near-identical images (see the module docstring).

    ``max_distance < 0`` turns the perceptual comparison off (byte-identical only).
    *progress*, when given, is called with 1 after each file is hashed.
    """
    files = [Path(p) for p in paths]
    uf = _UnionFind(len(files))
    content = _join_identical(files, uf)
    distinct = sorted(set(content))  # the first file of each distinct content
    exact = _sets([uf.find(i) for i in range(len(files))])
    unreadable: list[int] = []
    if max_distance >= 0 and len(distinct) > 1:
        unreadable = _join_near(files, distinct, uf, max_distance, hash_size, progress)
    return _report(uf, content, exact, unreadable, max_distance)


def _report(uf: _UnionFind, content: list[int], exact: list[tuple[int, ...]], unreadable: list[int],
            max_distance: int) -> DuplicateReport:
    """The groups *uf* joined; the sets among them that are near-identical (not only byte-identical copies)."""
    roots = [uf.find(i) for i in range(len(content))]
    groups = _renumber(roots)
    near = [s for s in _sets(roots) if len({content[i] for i in s}) > 1]
    return DuplicateReport(
        groups=tuple(groups),
        n_distinct_bytes=len(set(content)),
        exact_sets=tuple(exact),
        near_sets=tuple(near),
        unreadable=tuple(unreadable),
        max_distance=max_distance,
    )


def _join_identical(files: Sequence[Path], uf: _UnionFind) -> list[int]:
    """Join byte-identical files in *uf*; per file, the index of the first file with the same bytes."""
    first_of: dict[str, int] = {}
    content: list[int] = []
    for i, path in enumerate(files):
        digest = _sha256(path)
        content.append(first_of.get(digest, i))
        if digest in first_of:
            uf.union(first_of[digest], i)
        else:
            first_of[digest] = i
    return content


def _join_near(files: Sequence[Path], distinct: Sequence[int], uf: _UnionFind, max_distance: int, hash_size: int,
               progress: Callable[[int], None] | None) -> list[int]:
    """Join the *distinct* files whose perceptual hashes are close in *uf*; the ones that could not be read."""
    vectors, owners, unreadable = [], [], []
    for i in distinct:
        bits = _phash_bits(files[i], hash_size)
        if progress is not None:
            progress(1)
        if bits is None:
            unreadable.append(i)
            continue
        vectors.append(bits)
        owners.append(i)
    if vectors:
        for a, b in _near_pairs(np.stack(vectors), max_distance):
            uf.union(owners[a], owners[b])
    return unreadable


def _sets(roots: Sequence[int]) -> list[tuple[int, ...]]:
    members: dict[int, list[int]] = {}
    for i, r in enumerate(roots):
        members.setdefault(r, []).append(i)
    return [tuple(m) for m in members.values() if len(m) > 1]


def _renumber(roots: Sequence[int]) -> list[int]:
    ids: dict[int, int] = {}
    return [ids.setdefault(r, len(ids)) for r in roots]


def find_duplicate_groups(paths: Sequence[str | Path], *, max_distance: int = 2) -> list[int]:
    """One group id per image: byte-identical and near-identical images share an id.

    Ids are 0, 1, 2 ... in order of first appearance; images with no duplicate get an id of
    their own. See :func:`find_duplicates` for the details and a summary.
    """
    return list(find_duplicates(paths, max_distance=max_distance).groups)


def describe_duplicates(report: DuplicateReport, names: Sequence[str], *, limit: int = 50) -> list[str]:
    """One line per set of repeated images: byte-identical copies, then near-identical pictures.

    >>> r = DuplicateReport(groups=(0, 0, 1, 1), n_distinct_bytes=3, exact_sets=((0, 1),), near_sets=((2, 3),))
    >>> describe_duplicates(r, ["a.png", "b.png", "c.png", "d.png"])
    ['set 1, byte-identical: a.png = b.png', 'set 2, near-identical: c.png ~ d.png']
    """
    exact = {frozenset(s) for s in report.exact_sets}
    lines = [f"byte-identical: {' = '.join(names[i] for i in s)}" for s in report.exact_sets]
    lines += [f"near-identical: {' ~ '.join(names[i] for i in s)}" for s in report.near_sets if frozenset(s) not in exact]
    out = [f"set {k + 1}, {line}" for k, line in enumerate(lines[:limit])]
    if len(lines) > limit:
        out.append(f"... and {len(lines) - limit} more set(s)")
    return out
