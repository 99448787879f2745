"""Export a model bundle to ONNX, for runtimes other than PyTorch (optional: ``pip install 'flightpaths[onnx]'``).

The exported graph takes what the bundle's model takes after preprocessing and returns class
probabilities:

- ``image``: float32 ``N x 3 x S x S``, RGB scaled to 0..1 then normalised with the bundle's
  ``mean``/``std`` (absent for a figures-only model);
- ``figures``: float32 ``N x F``, the window figures after the bundle's figure normalisation
  (absent for a CNN-only model);
- ``probabilities``: float32 ``N x C`` in the order of ``classes``.

Everything needed to prepare the inputs (classes, image size, mean, std, figure columns and
normalisation, render config) is stored in the ONNX file's metadata as JSON under the key
``flightpaths``, and the bundle's model.json stays the reference. When ``onnxruntime`` is
installed the export is checked against PyTorch on a random batch.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import FlightpathsError
from ..fileio import atomic_write_bytes, check_output

__all__ = ["export_onnx"]

_META_KEYS = ("classes", "image_size", "mean", "std", "figure_columns", "figure_normalisation", "render_config",
              "track_settings", "window_settings", "positive_class", "backbone", "head", "segment_aggregator")


class _Probabilities(torch.nn.Module):
    def __init__(self, model: torch.nn.Module, head: str) -> None:
        super().__init__()
        self.model, self.head = model, head

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        if self.head == "figures":
            return torch.softmax(self.model(None, inputs[0]), 1)
        figures = inputs[1] if len(inputs) > 1 else None
        return torch.softmax(self.model(inputs[0], figures), 1)


def export_onnx(model_dir: str | Path, out: str | Path, *, opset: int = 17, overwrite: bool = False,
                check: bool = True) -> Path:
    """Write the bundle in *model_dir* as an ONNX file at *out*; returns the path written."""
    try:
        import onnx
    except ImportError as exc:
        raise FlightpathsError("ONNX export needs the onnx package: pip install 'flightpaths[onnx]'") from exc
    from .predict import load_bundle

    target = check_output(out, overwrite=overwrite)
    bundle = load_bundle(model_dir)
    wrapped = _Probabilities(bundle._cpu_model(), bundle.head).eval()
    example, names = _example_inputs(bundle.head, bundle.image_size, len(bundle.figure_columns))
    proto = _exported(wrapped, example, names, target.with_name(target.name + ".partial"), opset, model_dir)
    meta = {k: bundle.meta.get(k) for k in _META_KEYS if k in bundle.meta}
    entry = proto.metadata_props.add()
    entry.key, entry.value = "flightpaths", json.dumps(meta, sort_keys=True, default=str)
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    if check:
        _check_against_torch(data, wrapped, names, example)
    return atomic_write_bytes(target, data)


def _example_inputs(head: str, size: int, n_fig: int) -> tuple[list[torch.Tensor], list[str]]:
    """A random batch of two for the graph's inputs (images unless the head is figures-only; figures when used)."""
    gen = torch.Generator().manual_seed(0)
    example: list[torch.Tensor] = []
    names: list[str] = []
    if head != "figures":
        example.append(torch.randn(2, 3, size, size, generator=gen))
        names.append("image")
    if n_fig:
        example.append(torch.randn(2, n_fig, generator=gen))
        names.append("figures")
    return example, names


def _exported(wrapped: torch.nn.Module, example: list[torch.Tensor], names: list[str], tmp: Path, opset: int,
              model_dir: str | Path) -> Any:
    """The ONNX graph of *wrapped* (written to *tmp* on the way, then removed)."""
    import onnx

    try:
        with torch.inference_mode(), warnings.catch_warnings():
            # the TorchScript-based exporter: deprecated in favour of torch.export, but it handles
            # these plain CNNs in seconds with no extra dependencies
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(wrapped, tuple(example), str(tmp), input_names=names, output_names=["probabilities"],
                              dynamic_axes={**{n: {0: "batch"} for n in names}, "probabilities": {0: "batch"}},
                              opset_version=opset, dynamo=False)
        return onnx.load(str(tmp))
    except Exception as exc:  # the exporter raises many kinds of errors
        raise FlightpathsError(f"ONNX export of {model_dir} failed: {type(exc).__name__}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)


def _check_against_torch(data: bytes, wrapped: torch.nn.Module, names: list[str], example: list[torch.Tensor]) -> None:
    """Compare ONNX Runtime's probabilities with PyTorch's (skipped when onnxruntime is absent)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    feed: dict[str, Any] = {n: t.numpy() for n, t in zip(names, example)}
    got = session.run(None, feed)[0]
    with torch.inference_mode():
        want = wrapped(*example).numpy()
    if not np.allclose(got, want, atol=1e-4):
        raise FlightpathsError(f"the ONNX graph disagrees with PyTorch (max difference {np.abs(got - want).max():.2g})")
