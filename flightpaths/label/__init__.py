"""Labelling: sort images into class folders by rule, import, model pre-labels or in the browser.

Modules:

* :mod:`flightpaths.label.images` - the images to label (render output or any folder of PNGs).
* :mod:`flightpaths.label.dataset` - the dataset folder (class folders, labels.csv, journal).
* :mod:`flightpaths.label.rules` - weak labels from the window figures.
* :mod:`flightpaths.label.io` - import from CSV or a folder tree, export to CSV, predictions.
* :mod:`flightpaths.label.duplicates` - byte-identical and near-identical image groups.
* :mod:`flightpaths.label.server` - the local web labeler (page in ``web/``).
* :mod:`flightpaths.label.session` - one labelling run as the CLI does it.

This stage sits between render and train: it never imports :mod:`flightpaths.train`.
"""

from __future__ import annotations

__all__: list[str] = []
