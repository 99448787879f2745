"""Train: fine-tune a pretrained CNN on labelled track images, offline, on CPU or GPU.

The pieces, each usable on its own:

- :mod:`.backbones`: pretrained bodies by name (default ``efficientnet_lite0``, offline);
- :mod:`.data`: class folders, groups, duplicates, figures and the grouped split;
- :mod:`.model`: the classifier and its CNN / hybrid / figures-only head;
- :mod:`.engine`: fast.ai's two-phase recipe (:func:`train`) with cached features;
- :mod:`.bundle` and :mod:`.predict`: the safetensors + JSON model folder (:func:`load_bundle`);
- :mod:`.lr_find`: the learning-rate range test.

Importing this package does not import torch; import the submodules you need, e.g.
``from flightpaths.train.predict import load_bundle``.
"""

from __future__ import annotations

__all__: list[str] = []
