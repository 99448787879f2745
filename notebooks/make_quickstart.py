"""Write notebooks/quickstart.ipynb from the cells below (run after editing them).

    .venv/bin/python notebooks/make_quickstart.py

The notebook is executed by the test suite (tests/test_notebook.py), so it never rots.
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS = [
    ("md", """# flightpaths quickstart

From raw logs to a ranked tip sheet with the Python API, on the small simulated log shipped in
`data/sim/score/` (15 aircraft, 3 hours). Every step writes plain files into a scratch folder, so
you can open them as you go. Run the cells in order; the whole notebook takes a couple of minutes
on a laptop CPU."""),
    ("code", """import tempfile
from dataclasses import replace
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from flightpaths.ingest import read_logs
from flightpaths.tracks import TrackSettings, WindowSettings, make_windows, split_tracks, tracks_to_geodataframe
from flightpaths.render import images_from_windows, render_windows
from rasterize import RenderConfig

REPO = Path.cwd() if (Path.cwd() / "data" / "sim").is_dir() else Path.cwd().parent
WORK = Path(tempfile.mkdtemp(prefix="flightpaths-quickstart-"))
print("scratch folder:", WORK)"""),
    ("md", """## 1. Read a log

`read_logs` detects the format from the content (here a gzipped SBS-1 log from the simulator),
merges position and velocity messages, and returns one table of points plus a report of what it
kept and dropped."""),
    ("code", """result = read_logs([REPO / "data" / "sim" / "score" / "sim.sbs.gz"])
print(result.report.summary())
points = result.points
points.head()"""),
    ("md", """## 2. Tracks on a map

Split each aircraft's points into tracks at time gaps, then draw them with geopandas."""),
    ("code", """tracked, clean = split_tracks(points, TrackSettings())
lines = tracks_to_geodataframe(tracked)
ax = lines.plot(column="object_id", figsize=(7, 7), linewidth=0.8)
ax.set_title(f"{len(lines)} tracks of {points['object_id'].nunique()} aircraft")
ax.set_xlabel("longitude"); ax.set_ylabel("latitude")
plt.show()"""),
    ("md", """## 3. Windows and their figures

Cut tracks into overlapping 5-minute windows. Each window carries figures (net turn in
revolutions, straightness, fitted radius, sampling interval, ...) and its points in local metres."""),
    ("code", """windows = make_windows(tracked, WindowSettings(window_s=300, step_s=150))
windows[["window_id", "object_id", "start", "n_points", "net_turn_rev", "straightness", "radius_m"]].head()"""),
    ("md", """## 4. Draw windows as images

The renderer is pure numpy and fast; colour encodes time in the window, so an orbit that comes
back on itself looks different from a line."""),
    ("code", """config = replace(RenderConfig(), size=96)
images, status = images_from_windows(windows, config)
order = np.argsort(-windows["net_turn_rev"].abs().to_numpy())
pick = np.concatenate([order[:8], order[-8:]])
fig, axes = plt.subplots(2, 8, figsize=(16, 4.4))
for ax, i in zip(axes.ravel(), pick):
    ax.imshow(images[i]); ax.set_axis_off()
    ax.set_title(f"{windows['object_id'].iloc[i]} {windows['net_turn_rev'].iloc[i]:+.1f} rev", fontsize=8)
plt.show()"""),
    ("md", """## 5. Label

Write the images with a manifest, then label them. Here the built-in rule gives weak labels
(`source=rule`); in real work you would review them in the browser with
`flightpaths label IMAGES/ -o DATASET/`."""),
    ("code", """from flightpaths.label import session

manifest = render_windows(windows, WORK / "render", config)
image_set, dataset = session.open_dataset(WORK / "render", WORK / "dataset", classes=("circling", "straight"))
with dataset:
    bulk = session.bulk_label(dataset, image_set, rule=True)
    print("\\n".join(bulk.messages))
    print(dataset.counts())"""),
    ("md", """## 6. Train

Fine-tune the offline ImageNet backbone (EfficientNet-Lite0). Phase 1 trains a new head on
features computed once; this tiny run skips phase 2 to stay quick. The split is grouped by
aircraft, so no aircraft is on both sides."""),
    ("code", """from flightpaths.train.engine import TrainSettings, train

trained = train(WORK / "dataset", WORK / "model", TrainSettings(size=64, freeze_epochs=2, epochs=0, batch_size=32))
{k: round(float(v), 3) for k, v in trained.metrics.items() if isinstance(v, (int, float))}"""),
    ("md", """## 7. Interpretation report

Confusion matrix, precision-recall curve, top losses, and the two baselines (a rule and a
gradient-boosted model on window features) on the same validation split."""),
    ("code", """from flightpaths.report import interpretation_report

report = interpretation_report(WORK / "model", WORK / "dataset", WORK / "report")
print(report)"""),
    ("md", """## 8. Score a log and read the tip sheet

Scoring redraws windows with the render config stored in the model, merges positive windows
into episodes, and writes `episodes.csv`, GeoJSON, KML and a self-contained `tipsheet.html`."""),
    ("code", """from flightpaths.score import ScoreSettings, score_logs
from flightpaths.train.predict import load_bundle

bundle = load_bundle(WORK / "model")
scored = score_logs([REPO / "data" / "sim" / "score" / "sim.sbs.gz"], WORK / "score", bundle,
                    ScoreSettings(progress=False, workers=1))
episodes = pd.read_csv(WORK / "score" / "episodes.csv")
print(len(episodes), "episodes; tip sheet:", WORK / "score" / "tipsheet.html")
episodes.head()"""),
    ("md", """## 9. The built-in model on real flights

The package ships a model trained on simulated flights (`flightpaths.score.BUILTIN_MODEL`; the
`score` command uses it when no `--model` is given) and a few real public ADS-B tracks in
`data/samples/` (see `data/samples/ATTRIBUTION.md`): two navaid-calibration orbits, an in-flight
refuelling racetrack, a survey flight and five ordinary airliner flights. Each lead carries who
(callsign, registration where the source has it, country of the address), where (nearest place,
nearest airport) and when in local time. A lead is a *possible* orbit for a person to check, never
a confirmed one."""),
    ("code", """from flightpaths.score import BUILTIN_MODEL

builtin = load_bundle(BUILTIN_MODEL)
real_logs = sorted((REPO / "data" / "samples").glob("*/*.json.gz"))
score_logs(real_logs, WORK / "score-real", builtin, ScoreSettings(progress=False, workers=1))
leads = pd.read_csv(WORK / "score-real" / "episodes.csv")
leads["file"] = leads["source_file"].map(lambda f: "/".join(Path(f).parts[-2:]))
print(len(leads), "possible episodes from", len(real_logs), "real files; tip sheet:", WORK / "score-real" / "tipsheet.html")
leads[["rank", "callsign", "country", "place", "airport_name", "local_start", "duration_s", "p_segment", "file"]].head(8)"""),
    ("md", """## 10. Your own folder of maps

A folder sorted by hand (here the 183 NYPD helicopter maps of the original fast.ai experiment,
when `../shared/data` is beside the checkout) is grouped by flight session from the file names,
cross-validated in grouped folds, and its repeated images are listed. `red-track-loops` keeps
the red track, whitens the basemap and fills the loops. Training is one command:
`flightpaths train FOLDER -o MODEL/ --transform red-track-loops` (5-fold cross-validation by
default for folders under 400 images; a few minutes per fold on a laptop CPU). On these maps
four figures measured on the red track (loops closed, their area, the track's extent, solid red
left after erosion) beat the CNN: `--figures-only` trains on them alone (README, "A reporter's
own folder of maps", has the grouped cross-validation beside fastai's `fine_tune(4)`)."""),
    ("code", """from flightpaths.train.data import describe_duplicate_sets, grouped_folds, read_array, read_image, scan_dataset

folder = REPO.parent / "shared" / "data" / "images" / "quartz-choppers"
if folder.is_dir():
    maps = scan_dataset(folder, group_by="session")
    folds = grouped_folds(maps, 5)
    print(len(maps), "maps in", len(set(maps.groups)), "flight sessions;", [len(f.valid) for f in folds], "judged per fold")
    print("\\n".join(describe_duplicate_sets(maps)[:4]))
    fig, axes = plt.subplots(1, 2, figsize=(8, 4))
    axes[0].imshow(read_image(maps.paths[0], 256)); axes[1].imshow(read_image(maps.paths[0], 256, "red-track-loops"))
    for ax in axes: ax.set_axis_off()
    plt.show()
    from flightpaths.train.mapfigures import map_figure_table
    pick = [0, len(maps) - 1]
    figures = map_figure_table([read_array(maps.paths[i]) for i in pick])  # full resolution
    figures.insert(0, "class", [maps.classes[maps.labels[i]] for i in pick])
    display(figures)
else:
    print("the Quartz maps are not beside this checkout; see README, 'A reporter's own folder of maps'")"""),
]


def build() -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


if __name__ == "__main__":
    path = Path(__file__).with_name("quickstart.ipynb")
    nbformat.write(build(), path)
    print("wrote", path)
