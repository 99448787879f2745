"""Writing an evaluation: metrics tables, the contact sheet, reviewed labels."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ..fileio import atomic_write_bytes, atomic_write_text, write_csv
from ..score.aggregate import local_xy
from .behaviour import BehaviourEvaluation, behaviour_markdown
from .metrics import false_alarm_ranks
from .sets import EvalSet

__all__ = ["EvaluationResult", "apply_labels", "ground_summary", "metrics_markdown", "write_contact_sheet", "write_evaluation"]


@dataclass(frozen=True)
class EvaluationResult:
    """What one evaluation run produced."""

    metrics: pd.DataFrame
    scores: pd.DataFrame
    segments: pd.DataFrame
    notes: tuple[str, ...] = ()
    behaviour: BehaviourEvaluation | None = None


def _fmt(row: pd.Series) -> str:
    if not np.isfinite(row["value"]):
        return "n/a"
    if np.isfinite(row["lo"]):
        return f"{row['value']:.3f} [{row['lo']:.3f}, {row['hi']:.3f}]"
    return f"{row['value']:.3f}"


def metrics_markdown(metrics: pd.DataFrame, *, ground: pd.DataFrame | None = None,
                     notes: Sequence[str] = ()) -> str:
    """A markdown report: one table per subset (scorers x metrics, value [95% interval])."""
    lines = ["# Evaluation per flight segment", "",
             "Value [95% bootstrap interval over aircraft]. AP = average precision; P@k = precision "
             "in the k highest-scored segments; R@f% = recall at a false-alarm rate of f% (R@0%, R@0.1% "
             "and R@0.5%: at 0, 1 and 5 false alarms per 1,000 negative segments; with fewer than 1,000 "
             "negatives R@0.1% allows none); rule = the 5-minute turn rule, multiscale-rule = the largest "
             "net turn over windows of 5 to 40 minutes (degrees); AP-minus-X = the difference in AP with "
             "scorer X on the same bootstrap replicates.", ""]
    lines += [f"- {n}" for n in notes]
    for subset, block in metrics.groupby("subset", sort=False):
        lines += _subset_table(str(subset), block)
    if ground is not None and len(ground):
        lines += ["", "## Parked / taxiing segments among false alarms", "",
                  "| scorer | ground segments | best rank among negatives | in top 100 |", "|---|---|---|---|"]
        for _, r in ground.iterrows():
            lines.append(f"| {r['scorer']} | {r['n_ground']} | {r['best_rank']:g} | {r['in_top_100']} |")
    return "\n".join(lines) + "\n"


def _subset_table(subset: str, block: pd.DataFrame) -> list[str]:
    """The markdown lines of one subset: a heading with its counts, then scorers x metrics."""
    first = block.iloc[0]
    lines = ["", f"## {subset} ({first['n_pos']} positive, {first['n_neg']} negative segments, "
                 f"{first['n_aircraft']} aircraft)", ""]
    names = list(dict.fromkeys(block["metric"]))
    lines.append("| scorer | " + " | ".join(names) + " |")
    lines.append("|---|" + "---|" * len(names))
    for scorer, rows in block.groupby("scorer", sort=False):
        cells = {r["metric"]: _fmt(r) for _, r in rows.iterrows()}
        lines.append(f"| {scorer} | " + " | ".join(cells.get(n, "") for n in names) + " |")
    return lines


def ground_summary(scores: pd.DataFrame, segments: pd.DataFrame) -> pd.DataFrame:
    """Per scorer: how many on-ground segments rank among its false alarms, and how high."""
    rows = []
    for scorer in scores.columns:
        ranks = false_alarm_ranks(scores[scorer], segments)
        g = ranks[ranks["ground"].astype(bool)]
        rows.append({"scorer": scorer, "n_ground": len(g),
                     "best_rank": float(g["rank"].min()) if len(g) else float("nan"),
                     "in_top_100": int((g["rank"] <= 100).sum())})
    return pd.DataFrame(rows)


def write_contact_sheet(path: str | Path, data: EvalSet, scores: pd.Series, *, n: int = 12,
                        title: str = "") -> Path:
    """A PNG of the *n* worst misses (lowest-scored positives) and *n* worst false alarms."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seg = data.segments
    s = scores.reindex(seg.index)
    misses = s[seg["label"].astype(bool)].sort_values(kind="mergesort").head(n)
    alarms = s[~seg["label"].astype(bool)].sort_values(ascending=False, kind="mergesort").head(n)
    cols = 6
    blocks = [("worst misses (positives, lowest scores)", misses), ("worst false alarms (negatives, highest scores)", alarms)]
    nrows = sum(max(1, math.ceil(len(b) / cols)) for _, b in blocks)
    fig, axes = plt.subplots(nrows, cols, figsize=(cols * 2.6, nrows * 2.9), squeeze=False)
    _draw_blocks(axes, blocks, dict(tuple(data.points.groupby("segment_id", sort=False))), seg, cols)
    fig.suptitle(title or f"{scores.name}: worst misses (top) and false alarms (bottom)", fontsize=9)
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def _draw_blocks(axes: Any, blocks: list[tuple[str, pd.Series]], by_seg: dict[Any, pd.DataFrame], seg: pd.DataFrame,
                 cols: int) -> None:
    """Each block's segments (scores by id) in rows of *cols* panels, the block's heading on its first row."""
    row = 0
    for heading, block in blocks:
        rows_here = max(1, math.ceil(len(block) / cols))
        for i in range(rows_here * cols):
            ax = axes[row + i // cols][i % cols]
            ax.set_xticks([])
            ax.set_yticks([])
            if i >= len(block):
                ax.axis("off")
                continue
            sid = block.index[i]
            _draw_segment(ax, by_seg[sid], sid, seg.loc[sid], block.iloc[i])
        axes[row][0].set_ylabel(heading, fontsize=7)
        row += rows_here


def _draw_segment(ax: Any, g: pd.DataFrame, sid: str, info: pd.Series, score: float) -> None:
    """One segment's track (its start marked) in *ax*, titled with its id, category, sampling, extent and score."""
    x, y = local_xy(g["lat"].to_numpy(), g["lon"].to_numpy())
    ax.plot(x, y, lw=0.7, color="tab:blue")
    ax.plot(x[:1], y[:1], "o", ms=3, color="tab:green")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title(f"{sid[:34]}\n{info['category']} {info['sampling']} {info['extent_m'] / 1000:.1f} km\n"
                 f"score {score:.3g}", fontsize=6)


def write_evaluation(out_dir: str | Path, data: EvalSet, result: EvaluationResult, *,
                     primary: str | None = None, contact_n: int = 12,
                     holdout: pd.DataFrame | None = None) -> list[Path]:
    """Write metrics.csv, metrics.md, segments.csv (every score), contact_sheet.png, the
    behaviour tables when judged (behaviour.csv, behaviour_confusion.csv, behaviour_segments.csv,
    and a section of metrics.md) and, when given, holdout.csv (the aircraft to keep out of training)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ground = ground_summary(result.scores, result.segments)
    text = metrics_markdown(result.metrics, ground=ground, notes=result.notes)
    written = [write_csv(out / "metrics.csv", result.metrics, index=False, float_format="%.4f")]
    if result.behaviour is not None:
        text += behaviour_markdown(result.behaviour)
        written += [write_csv(out / "behaviour.csv", result.behaviour.table, index_label="behaviour", float_format="%.4f"),
                    write_csv(out / "behaviour_confusion.csv", result.behaviour.confusion),
                    write_csv(out / "behaviour_segments.csv", result.behaviour.segments, index_label="segment_id",
                              float_format="%.4f")]
    written.insert(1, atomic_write_text(out / "metrics.md", text))
    table = result.segments.join(result.scores)
    written.append(write_csv(out / "segments.csv", table, float_format="%.4f"))
    primary = primary or [c for c in result.scores.columns if not c.endswith("_calibrated") and "+" not in c][-1]
    written.append(write_contact_sheet(out / "contact_sheet.png", data, result.scores[primary], n=contact_n,
                                       title=f"{primary}: worst misses (top rows) and false alarms (bottom rows)"))
    if holdout is not None:
        written.append(write_csv(out / "holdout.csv", holdout, index=False))
    return written


def apply_labels(data: EvalSet, path: str | Path) -> EvalSet:
    """Apply a reviewer's segment labels: a CSV with ``segment_id,label`` where label is
    ``1``/``true``/``circling``, ``0``/``false``/``not_circling``, or ``exclude`` (left out).

    Unknown segment ids raise (a typo must not pass silently); segments not listed keep
    their category's label.
    """
    p = Path(path)
    table = _read_reviewed(p)
    values = {"1": True, "true": True, "circling": True, "0": False, "false": False, "not_circling": False}
    segments = data.segments.copy()
    drop = []
    for i, row in enumerate(table.itertuples(index=False), start=2):
        sid, lab = row.segment_id.strip(), row.label.strip().lower()
        if sid not in segments.index:
            raise InputError(f"{sid!r} is not a segment of this evaluation set", path=p, line=i, column="segment_id")
        if lab == "exclude":
            drop.append(sid)
        elif lab in values:
            segments.loc[sid, "label"] = values[lab]
        else:
            raise InputError(f"{row.label!r} is not a label; expected 1, 0 or exclude", path=p, line=i, column="label")
    keep = segments.index.difference(drop)
    return EvalSet(data.points[data.points["segment_id"].isin(keep)], segments.loc[keep])


def _read_reviewed(p: Path) -> pd.DataFrame:
    """The reviewer's CSV as text, once it has ``segment_id`` and ``label`` columns."""
    table = pd.read_csv(p, dtype=str, keep_default_na=False)
    for col in ("segment_id", "label"):
        if col not in table.columns:
            raise InputError(f"missing column {col!r} (found {', '.join(table.columns)})", path=p)
    return table
