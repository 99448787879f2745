"""The interpretation report's files: tables as CSV, plots and contact sheets as PNG, and its ``index.html``."""

from __future__ import annotations

import html
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..fileio import atomic_write_bytes, atomic_write_text, check_output, write_csv
from .evaluation import Evaluation, _aupr, confusion_matrix, most_confused, per_class_metrics, precision_at_k, summary_row, top_losses

__all__ = [
    "write_interpretation",
]


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def _confusion_png(cm: np.ndarray, classes: Sequence[str]) -> bytes:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1.2 + 0.9 * len(classes), 1.0 + 0.9 * len(classes)))
    ax = fig.add_subplot()
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(classes)), [str(c) for c in classes], rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), [str(c) for c in classes])
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", color="white" if cm[i, j] > (cm.max() + cm.min()) / 2 else "black")
    ax.set_title("confusion matrix")
    return _png(fig)


def _pr_png(curves: Sequence[tuple[str, np.ndarray, np.ndarray]], positive: str) -> bytes:
    from matplotlib.figure import Figure
    from sklearn.metrics import precision_recall_curve

    fig = Figure(figsize=(5, 4))
    ax = fig.add_subplot()
    for name, y, s in curves:
        if y.any() and not y.all():
            p, r, _ = precision_recall_curve(y, s)
            ax.step(r, p, where="post", label=f"{name[:40]} (AUPR {_aupr(y, s):.2f})")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(f"precision-recall, class {positive!r}")
    ax.legend(loc="lower left", fontsize=7)
    return _png(fig)


def _contact_png(images: Sequence[np.ndarray | None], titles: Sequence[str], title: str) -> bytes:
    from matplotlib.figure import Figure

    n = max(len(images), 1)
    cols = min(n, 4)
    rows = (n + cols - 1) // cols
    fig = Figure(figsize=(2.6 * cols, 2.8 * rows))
    fig.suptitle(title)
    for i, (img, t) in enumerate(zip(images, titles)):
        ax = fig.add_subplot(rows, cols, i + 1)
        if img is not None:
            ax.imshow(img)
        ax.set_title(t, fontsize=7)
        ax.axis("off")
    return _png(fig)


def _load_image(path: object) -> np.ndarray | None:
    from PIL import Image

    try:
        with Image.open(str(path)) as im:
            im.thumbnail((192, 192))
            return np.asarray(im.convert("RGB"))
    except (OSError, ValueError):
        return None


# ------------------------------------------------------------------------------- the report


def _table_html(frame: pd.DataFrame, floatfmt: str = "{:.3f}") -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        for v in row:
            missing = v is None or (isinstance(v, float) and np.isnan(v))
            text = floatfmt.format(v) if isinstance(v, (float, np.floating)) and np.isfinite(v) else ("" if missing else str(v))
            cells.append(f"<td>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


@dataclass(frozen=True)
class _Tables:
    """The report's tables: written to CSV and shown on the page."""

    baselines: pd.DataFrame
    confusion: pd.DataFrame
    per_class: pd.DataFrame
    precision_at_k: pd.DataFrame
    confused: pd.DataFrame
    losses: pd.DataFrame


def write_interpretation(
    out_dir: str | Path,
    ev: Evaluation,
    *,
    baselines: pd.DataFrame | None = None,
    baseline_curves: Sequence[tuple[str, np.ndarray, np.ndarray]] = (),
    image_loader: Callable[[object], np.ndarray | None] = _load_image,
    k_losses: int = 16,
    k_likely: int = 12,
    overwrite: bool = False,
    warnings: Sequence[str] = (),
    sections: Sequence[str] = (),
    baseline_note: str = "",
) -> Path:
    """Write the interpretation report for predictions in hand; returns ``index.html``.

    *warnings* (plain text) are listed at the top, as the console gave them; *sections* are
    ready HTML fragments (escaped by their maker) placed after the baselines; *baseline_note*
    says why a baseline is missing.
    """
    out = Path(out_dir)
    check_output(out / "index.html", overwrite=overwrite)
    out.mkdir(parents=True, exist_ok=True)
    cm = confusion_matrix(ev.labels, ev.preds, len(ev.classes))
    p_at = precision_at_k(ev.labels == ev.positive, ev.probs[:, ev.positive])
    tables = _report_tables(ev, cm, p_at, baselines, k_losses)
    _write_tables(out, tables)
    _write_plots(out, ev, cm, tables.losses, baseline_curves, image_loader)
    likely_html = _write_likeliest(out, ev, k_likely, image_loader)
    metrics = _report_metrics(ev, p_at, warnings)
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2, default=float) + "\n")
    page = _report_page(ev, metrics, tables, likely_html, warnings, sections, baseline_note)
    return atomic_write_text(out / "index.html", page)


def _report_tables(ev: Evaluation, cm: np.ndarray, p_at: dict[int, float], baselines: pd.DataFrame | None,
                   k_losses: int) -> _Tables:
    """The tables of *ev*: the CNN alone stands for the baselines when none are given."""
    classes, pos = list(ev.classes), ev.positive
    y = ev.labels == pos
    if baselines is None:
        baselines = pd.DataFrame([summary_row(ev.name, y, ev.probs[:, pos], ev.preds == pos, features="images")])
    return _Tables(
        baselines=baselines,
        confusion=pd.DataFrame(cm, index=pd.Index(classes, name="actual"), columns=classes),
        per_class=per_class_metrics(ev.labels, ev.preds, classes),
        precision_at_k=pd.DataFrame({"k": list(p_at), "precision": list(p_at.values())}),
        confused=most_confused(cm, classes),
        losses=top_losses(ev, k_losses),
    )


def _write_tables(out: Path, tables: _Tables) -> None:
    """The tables as CSV files in *out*."""
    write_csv(out / "confusion_matrix.csv", tables.confusion)
    write_csv(out / "per_class.csv", tables.per_class, index=False)
    write_csv(out / "precision_at_k.csv", tables.precision_at_k, index=False)
    write_csv(out / "baselines.csv", tables.baselines, index=False)
    write_csv(out / "top_losses.csv", tables.losses, index=False)
    write_csv(out / "most_confused.csv", tables.confused, index=False)


def _write_plots(out: Path, ev: Evaluation, cm: np.ndarray, losses: pd.DataFrame,
                 baseline_curves: Sequence[tuple[str, np.ndarray, np.ndarray]],
                 image_loader: Callable[[object], np.ndarray | None]) -> None:
    """The confusion matrix, the precision-recall curves and the top losses as PNG files in *out*."""
    classes, pos = list(ev.classes), ev.positive
    atomic_write_bytes(out / "confusion_matrix.png", _confusion_png(cm, classes))
    curves = [(ev.name, ev.labels == pos, ev.probs[:, pos]), *baseline_curves]
    atomic_write_bytes(out / "pr_curve.png", _pr_png(curves, classes[pos]))
    atomic_write_bytes(out / "top_losses.png", _contact_png(
        [image_loader(p) for p in losses["image"]],
        [f"{Path(str(r.image)).name[:28]}\n{r.actual} -> {r.predicted} ({r.p_predicted:.2f})" for r in losses.itertuples()],
        "top losses (actual -> predicted, p)"))


def _write_likeliest(out: Path, ev: Evaluation, k_likely: int, image_loader: Callable[[object], np.ndarray | None]) -> str:
    """A contact sheet of the *k_likely* likeliest items of each class; the page's HTML for them."""
    classes = list(ev.classes)
    likely_html = []
    for k, c in enumerate(classes):
        order = np.argsort(-ev.probs[:, k], kind="stable")[:k_likely]
        name = f"likeliest_{k:02d}.png"
        atomic_write_bytes(out / name, _contact_png(
            [image_loader(ev.items["image"].iloc[i]) for i in order],
            [f"{Path(str(ev.items['image'].iloc[i])).name[:28]}\np={ev.probs[i, k]:.2f} actual {classes[ev.labels[i]]}" for i in order],
            f"likeliest {c!r}"))
        likely_html.append(f"<h3>{html.escape(c)}</h3><img src=\"{name}\" alt=\"likeliest {html.escape(c)}\">")
    return "".join(likely_html)


def _report_metrics(ev: Evaluation, p_at: dict[int, float], warnings: Sequence[str]) -> dict[str, Any]:
    """What ``metrics.json`` records: accuracy, AUPR and precision at k of the positive class."""
    classes, pos = list(ev.classes), ev.positive
    return {
        "classes": classes, "positive": classes[pos], "n": int(len(ev.labels)),
        "accuracy": float((ev.preds == ev.labels).mean()) if len(ev.labels) else float("nan"),
        "aupr": _aupr(ev.labels == pos, ev.probs[:, pos]), "precision_at_k": p_at, "notes": list(ev.notes),
        "warnings": list(warnings),
    }


def _report_page(ev: Evaluation, metrics: dict[str, Any], tables: _Tables, likely_html: str, warnings: Sequence[str],
                 sections: Sequence[str], baseline_note: str) -> str:
    """The report's ``index.html``."""
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in ev.notes)
    missing_html = f"<p><b>Why baselines are missing:</b> {html.escape(baseline_note)}</p>" if baseline_note else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Interpretation: {html.escape(ev.name)}</title>
<style>body{{font:14px system-ui,sans-serif;margin:1.5em;max-width:70em}}table{{border-collapse:collapse;margin:.5em 0}}
td,th{{border:1px solid #ccc;padding:.25em .5em;text-align:left}}img{{max-width:100%}}</style></head><body>
<h1>How good is {html.escape(ev.name)}, and where is it wrong?</h1>
<p>{metrics['n']} validation items; accuracy {metrics['accuracy']:.3f}; positive class
<b>{html.escape(metrics['positive'])}</b>, AUPR {metrics['aupr']:.3f}.</p><ul>{notes}</ul>{_warnings_html(warnings)}
<h2>Beside simple baselines (same items)</h2>{_table_html(tables.baselines)}{missing_html}
<p>If a rule on two numbers does as well as the CNN, trust the rule: it is easier to explain.</p>{''.join(sections)}
<h2>Confusion matrix</h2><img src="confusion_matrix.png" alt="confusion matrix">{_table_html(tables.confusion.reset_index())}
<h2>Per class</h2>{_table_html(tables.per_class)}
<h2>Precision-recall</h2><img src="pr_curve.png" alt="precision-recall curve">
<h3>Precision at k</h3>{_table_html(tables.precision_at_k)}
<h2>Most confused pairs</h2>{_table_html(tables.confused)}
<h2>Top losses: what the model was most confidently wrong about</h2><img src="top_losses.png" alt="top losses">
{_table_html(tables.losses)}
<h2>Likeliest examples per class</h2>{likely_html}
</body></html>
"""


def _warnings_html(warnings: Sequence[str]) -> str:
    """The warnings in a box at the top of the page (nothing when there are none)."""
    warned = "".join(f"<li>{html.escape(w)}</li>" for w in warnings)
    return (f'<div style="border:2px solid #c60;padding:.3em 1em;margin:1em 0"><h2>Warnings</h2><ul>{warned}</ul></div>'
            if warned else "")
