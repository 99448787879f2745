"""``flightpaths label``: sort images into class folders by rule, import, model, or in the browser."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from ..errors import FlightpathsError
from ..fileio import check_output
from .options import overwrite_option

__all__ = ["command"]

log = logging.getLogger(__name__)


def _classes(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    from ..label.dataset import check_class_names

    try:
        return check_class_names(v.strip() for v in value.split(",") if v.strip())
    except FlightpathsError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from exc


def _model_predictions(model_dir: Path, images: Any) -> Any:
    """Predictions of a trained bundle (imported here: torch loads only when --model is given)."""
    from ..label.io import predict_with
    from ..train.predict import load_bundle

    return predict_with(load_bundle(model_dir), images)


def _stop_on_sigterm() -> None:
    """Let SIGTERM end the server like Ctrl+C, so the dataset is closed cleanly."""
    import signal
    import threading

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)


def _serve(app: Any, *, port: int, browser: bool) -> None:
    """Serve the labeling page until Ctrl+C or SIGTERM."""
    from ..label.server import LabelServer, ServerSettings

    try:
        server = LabelServer(app, ServerSettings(port=port))
    except OSError as exc:
        raise click.ClickException(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from exc
    click.echo(f"Labeling page (Ctrl+C to stop): {server.url}")
    sys.stdout.flush()
    _stop_on_sigterm()
    if browser and not server.open_browser():
        log.warning("could not open a browser; open the address above")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()


@click.command("label")
@click.argument("images", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--output", "dataset", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Dataset folder: class folders + labels.csv (created when missing, resumed when it exists).")
@click.option("--classes", callback=_classes, help="Comma-separated classes, e.g. circling,straight "
              "(default: the dataset's; a new dataset gets circling,straight).")
@click.option("--rule", is_flag=True, help="Label from the window figures (source=rule); no page is opened.")
@click.option("--import", "import_from", type=click.Path(exists=True, path_type=Path),
              help="Import labels from a CSV (window_id or image, label) or a class-folder tree (default: none).")
@click.option("--export", "export_to", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the labels to this CSV (default: none).")
@click.option("--model", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Pre-label with a trained model bundle (source=model) and review the least sure first.")
@click.option("--predictions", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Pre-label from a CSV/parquet of p_<class> columns per image or window_id (default: none).")
@click.option("--serve/--no-serve", default=None,
              help="Open the labeling page (default: only when no --rule, --import or --export is given).")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="Port; 0 picks a free one.")
@click.option("--no-browser", is_flag=True, help="Print the page's address instead of opening a browser.")
@click.option("--link", is_flag=True, help="Hard-link images into class folders instead of copying (default: copy).")
@overwrite_option
def command(images: Path, dataset: Path, classes: tuple[str, ...], rule: bool, import_from: Path | None,
            export_to: Path | None, model: Path | None, predictions: Path | None, serve: bool | None, port: int,
            no_browser: bool, link: bool, overwrite: bool) -> None:  # fmt: skip
    """Label the images in IMAGES (a render output folder or any folder of PNGs) into DATASET.

    Originals are never moved; every decision is journaled at once, so a run can be stopped
    and resumed at any time. Examples:

    \b
      flightpaths label renders/ -o dataset/ --rule            # weak labels, no page
      flightpaths label renders/ -o dataset/ --classes circling,straight
      flightpaths label renders/ -o dataset/ --model model/   # review model pre-labels
      flightpaths label renders/ -o dataset/ --export labels.csv
    """
    from ..label import dataset as ds_mod
    from ..label import io, rules, session

    if rule and classes and not set(rules.rule_labels()) <= set(classes):
        raise click.BadParameter(f"--rule writes {', '.join(rules.rule_labels())}; --classes lacks some of them",
                                 param_hint="--classes")  # fmt: skip
    if export_to is not None:
        check_output(export_to, overwrite=overwrite)  # before anything is labelled
    image_set, ds = session.open_dataset(images, dataset, classes=classes, settings=ds_mod.DatasetSettings(link=link))
    with ds:
        preds = _model_predictions(model, image_set) if model is not None else predictions
        bulk = session.bulk_label(ds, image_set, import_from=import_from, rule=rule, predictions=preds)
        for message in bulk.messages:
            log.info("%s", message)
        if export_to is not None:
            click.echo(f"wrote {io.export_csv(ds, export_to, overwrite=overwrite)}")
        if serve if serve is not None else not (rule or import_from or export_to):
            _serve(session.make_app(ds, image_set, bulk), port=port, browser=not no_browser)
        counts = ds.counts()
        click.echo(f"{dataset}: {counts['labelled']} labelled, {counts['skipped']} skipped, of {len(image_set)} images")
