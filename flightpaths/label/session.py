"""One labelling run, as the ``flightpaths label`` command does it, in plain functions.

:func:`open_dataset` reads the images and opens (or creates) the dataset;
:func:`bulk_label` applies an import, the rule and model predictions, in that order, never
overwriting a person's decision; :func:`make_app` builds the web labeler for what remains.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..settings import write_settings
from .dataset import Dataset, DatasetSettings, ImageSet, load_images
from .duplicates import find_duplicates
from .io import fill_labels, import_labels, read_predictions
from .rules import RULE_COLUMNS, UNSURE, RuleSettings, apply_rules
from .server import LabelApp

__all__ = ["BulkResult", "DEFAULT_CLASSES", "bulk_label", "make_app", "open_dataset", "rule_frame"]

log = logging.getLogger(__name__)

#: Classes of a new dataset when none are given.
DEFAULT_CLASSES = ("circling", "straight")


def open_dataset(
    images_dir: str | Path,
    dataset_dir: str | Path,
    *,
    classes: Sequence[str] = (),
    settings: DatasetSettings = DatasetSettings(),
) -> tuple[ImageSet, Dataset]:
    """Load the images and open the dataset; a new dataset without *classes* gets DEFAULT_CLASSES."""
    images = load_images(images_dir)
    is_new = not (Path(dataset_dir) / Dataset.JOURNAL).is_file()
    wanted = tuple(classes) or (DEFAULT_CLASSES if is_new else ())
    return images, Dataset.open(dataset_dir, images, classes=wanted, settings=settings)


def rule_frame(images: ImageSet, settings: RuleSettings = RuleSettings()) -> pd.DataFrame | None:
    """The rule's label, score and reason per image key; None when the images carry no figures."""
    table = images.table
    if not images.has_manifest or not any(c in table.columns for c in RULE_COLUMNS):
        return None
    return apply_rules(table.set_index("key"), settings)


@dataclass
class BulkResult:
    """What :func:`bulk_label` did, and the frames the page orders by."""

    rules: pd.DataFrame | None = None
    predictions: pd.DataFrame | None = None
    messages: list[str] = field(default_factory=list)


def bulk_label(
    dataset: Dataset,
    images: ImageSet,
    *,
    import_from: str | Path | None = None,
    rule: bool = False,
    rule_settings: RuleSettings = RuleSettings(),
    predictions: pd.DataFrame | str | Path | None = None,
) -> BulkResult:
    """Apply an import (source=import), the rule (source=rule) and predictions (source=model).

    Imports may replace earlier rule, model and import labels; the rule replaces only its
    own earlier labels (new thresholds), predictions only earlier model labels (a newer
    model), and both fill undecided images. Human decisions and skips are never changed.
    """
    out = BulkResult(rules=rule_frame(images, rule_settings))
    if import_from is not None:
        _fill_import(dataset, images, import_from, out)
    if rule:
        _fill_rule(dataset, images, rule_settings, out)
    if predictions is not None:
        out.predictions = read_predictions(predictions, images)
        report = fill_labels(dataset, out.predictions["model_label"].to_dict(), source="model", replace_sources=("model",))
        out.messages.append(report.summary("model pre-labels"))
    return out


def _fill_import(dataset: Dataset, images: ImageSet, source: str | Path, out: BulkResult) -> None:
    """Label from a CSV or class-folder tree (replacing rule, model and earlier import labels)."""
    result = import_labels(source, images)
    out.messages.append(result.summary())
    out.messages.extend(result.problems)
    report = fill_labels(dataset, result.labels, source="import", replace_sources=("rule", "model", "import"))
    out.messages.append(report.summary("import"))


def _fill_rule(dataset: Dataset, images: ImageSet, rule_settings: RuleSettings, out: BulkResult) -> None:
    """Label by the rule where it is sure (replacing its own earlier labels); record its settings."""
    if out.rules is None:
        out.messages.append(f"--rule: {images.root} has no manifest with window figures; nothing labelled by rule")
        return
    write_settings(dataset.root / "rule_settings.json", rule=rule_settings)
    decided = out.rules[out.rules["rule_label"] != UNSURE]["rule_label"]
    report = fill_labels(dataset, decided.to_dict(), source="rule", replace_sources=("rule",))
    unsure = int((out.rules["rule_label"] == UNSURE).sum())
    out.messages.append(f"{report.summary('rule')}; {unsure} left for a person (rule unsure)")


def make_app(
    dataset: Dataset, images: ImageSet, bulk: BulkResult, *, duplicates: bool = True, max_perceptual: int = 3000
) -> LabelApp:
    """The web labeler's app, with duplicate groups found (and summarised in the log) when asked.

    Perceptual hashing costs a decode per image; above *max_perceptual* images only
    byte-identical copies are grouped, so the page opens quickly.
    """
    groups = None
    if duplicates:
        near = len(images) <= max_perceptual
        if not near:
            log.info("%d images: grouping byte-identical copies only (perceptual hashing skipped)", len(images))
        report = find_duplicates(images.table["path"].tolist(), max_distance=2 if near else -1)
        groups = list(report.groups)
        log.log(logging.WARNING if report.exact_sets or report.near_sets else logging.INFO, "%s", report.summary())
    return LabelApp(dataset, images, rules=bulk.rules, predictions=bulk.predictions, duplicate_groups=groups)
