"""SageMaker script-mode entry point of the `ssd` algorithm (sagemaker_program=train_ssd.py).

torchvision's SSDlite320-MobileNetV3-Large, fine-tuned on the round's four channels (SageMaker
object-detection JSON), evaluated (VOC mAP at overlap_threshold on the validation channel, the
same code as hog), exported to ONNX at a fixed 320x320 input with the box decoding inside the
graph, and described by model.json for the device (OpenCV DNN):
  input  "image": 1x3x320x320 RGB in [0, 1] (cv2.dnn.blobFromImage(frame, 1/255, (320, 320), swapRB=True));
  output "boxes": 1xNx4 normalised (xmin, ymin, xmax, ymax), "scores": 1xNxC softmax, class 0 background;
  the device keeps scores >= threshold per class and applies NMS at nms_threshold.
Weights: from the optional `pretrained` channel (a torchvision state dict, e.g.
ssdlite320_mobilenet_v3_large_coco-a79551df.pth; its class head is replaced), else the torchvision
download in a container with internet (hyperparameter use_pretrained_model=1), else from scratch.
Hyperparameters (the original's best run where they mean the same): epochs, mini_batch_size,
learning_rate, momentum, weight_decay, lr_scheduler_step, lr_scheduler_factor, nms_threshold,
overlap_threshold, image_shape (320 only), num_classes, use_pretrained_model.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn
from torchvision.models.detection import ssdlite320_mobilenet_v3_large

from visionpipe.detector_model.contract import (
    METRIC,
    TrainingDataError,
    TrainingEnvironment,
    class_names_of,
    labelled_images,
    model_card,
    report_metric,
    run_training,
)
from visionpipe.detector_model.mean_average_precision import ScoredBox, mean_average_precision

SIZE = 320


def to_tensor(image_bgr: np.ndarray) -> torch.Tensor:
    rgb = cv2.cvtColor(cv2.resize(image_bgr, (SIZE, SIZE), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    return torch.from_numpy(rgb).permute(2, 0, 1).float() / 255.0


def targets_of(item, flip: bool = False) -> dict:
    height, width = item.image.shape[:2]
    sx, sy = SIZE / width, SIZE / height
    boxes = [[b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy] for _, b in item.boxes]
    if flip:
        boxes = [[SIZE - x1, y0, SIZE - x0, y1] for x0, y0, x1, y1 in boxes]
    return {
        "boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        "labels": torch.tensor([c + 1 for c, _ in item.boxes], dtype=torch.int64),  # 0 is background
    }


def build_model(num_classes: int, env: TrainingEnvironment) -> tuple[nn.Module, str]:
    model = ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=num_classes + 1)
    pretrained = env.channels.get("pretrained")
    files = sorted(pretrained.rglob("*.pth")) if pretrained and pretrained.is_dir() else []
    if files:
        state = torch.load(files[0], map_location="cpu", weights_only=True)
        own = model.state_dict()
        kept = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
        model.load_state_dict(kept, strict=False)
        return model, f"pretrained channel {files[0].name} ({len(kept)}/{len(own)} tensors)"
    if env.hyperparameters.get("use_pretrained_model") == "1":
        from torchvision.models.detection import SSDLite320_MobileNet_V3_Large_Weights

        coco = ssdlite320_mobilenet_v3_large(
            weights=SSDLite320_MobileNet_V3_Large_Weights.COCO_V1
        ).state_dict()
        own = model.state_dict()
        model.load_state_dict({k: v for k, v in coco.items() if own[k].shape == v.shape}, strict=False)
        return model, "torchvision COCO weights (downloaded)"
    return model, "from scratch (no pretrained channel)"


class Exported(nn.Module):
    """image (1x3xSxS RGB in [0, 1]) -> boxes (1xNx4 normalised xyxy), scores (1xNxC softmax)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.backbone, self.head = model.backbone, model.head
        mean = torch.tensor(model.transform.image_mean).reshape(1, 3, 1, 1)
        std = torch.tensor(model.transform.image_std).reshape(1, 3, 1, 1)
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        with torch.no_grad():
            images = torch.zeros(1, 3, SIZE, SIZE)
            from torchvision.models.detection.image_list import ImageList

            features = list(model.backbone((images - mean) / std).values())
            anchors = model.anchor_generator(ImageList(images, [(SIZE, SIZE)]), features)[0]
        self.register_buffer("anchors", anchors)  # N x 4, xyxy in input pixels
        self.weights = model.box_coder.weights  # (10, 10, 5, 5)

    def forward(self, image: torch.Tensor):
        features = list(self.backbone((image - self.mean) / self.std).values())
        head = self.head(features)
        codes, logits = head["bbox_regression"][0], head["cls_logits"]
        wx, wy, ww, wh = self.weights
        widths = self.anchors[:, 2] - self.anchors[:, 0]
        heights = self.anchors[:, 3] - self.anchors[:, 1]
        cx = self.anchors[:, 0] + 0.5 * widths + codes[:, 0] / wx * widths
        cy = self.anchors[:, 1] + 0.5 * heights + codes[:, 1] / wy * heights
        w = torch.exp(torch.clamp(codes[:, 2] / ww, max=4.135)) * widths
        h = torch.exp(torch.clamp(codes[:, 3] / wh, max=4.135)) * heights
        # columns joined with cat (OpenCV DNN mis-shapes a stack on a new axis)
        columns = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]
        boxes = torch.cat([c.reshape(1, -1, 1) for c in columns], dim=2) / SIZE
        return boxes.clamp(0, 1), torch.softmax(logits, dim=-1)


def decode(
    boxes: np.ndarray, scores: np.ndarray, threshold: float, nms: float
) -> list[tuple[int, float, tuple]]:
    """What the device does with the two outputs: per class, threshold then NMS (boxes in input pixels)."""
    found = []
    pixels = boxes * SIZE
    for class_index in range(1, scores.shape[1]):
        keep = np.flatnonzero(scores[:, class_index] >= threshold)
        if keep.size == 0:
            continue
        rects = [[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])] for b in pixels[keep]]
        chosen = cv2.dnn.NMSBoxes(rects, scores[keep, class_index].tolist(), threshold, nms)
        for i in np.asarray(chosen).reshape(-1):
            found.append(
                (class_index - 1, float(scores[keep[i], class_index]), tuple(map(float, pixels[keep[i]])))
            )
    return found


def train(env: TrainingEnvironment) -> dict:
    started = time.perf_counter()
    torch.manual_seed(0)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    if int(env.number("image_shape", SIZE)) != SIZE:
        raise TrainingDataError(f"ssd trains at a fixed {SIZE}x{SIZE} input (image_shape={SIZE})")
    train_items = labelled_images(env.channel("train"), env.channel("train_annotation"))
    validation_items = labelled_images(env.channel("validation"), env.channel("validation_annotation"))
    num_classes = int(env.number("num_classes", 0)) or max(c for i in train_items for c, _ in i.boxes) + 1
    class_names = class_names_of(train_items + validation_items, num_classes)
    if not any(i.boxes for i in train_items):
        raise TrainingDataError("the train channel has no boxes")
    epochs, batch = int(env.number("epochs", 60)), max(1, int(env.number("mini_batch_size", 10)))
    nms, iou = env.number("nms_threshold", 0.45), env.number("overlap_threshold", 0.5)
    model, weights = build_model(num_classes, env)
    print(f"weights: {weights}", flush=True)
    optimiser = torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad],
        lr=env.number("learning_rate", 0.004),
        momentum=env.number("momentum", 0.9),
        weight_decay=env.number("weight_decay", 0.0005),
    )
    schedule = torch.optim.lr_scheduler.StepLR(
        optimiser,
        step_size=max(1, int(env.number("lr_scheduler_step", 10))),
        gamma=env.number("lr_scheduler_factor", 0.1),
    )
    images = [to_tensor(i.image) for i in train_items if i.boxes]
    labelled = [i for i in train_items if i.boxes]
    generator = torch.Generator().manual_seed(0)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(images), generator=generator).tolist()
        total = 0.0
        for start in range(0, len(order), batch):
            chosen = order[start : start + batch]
            flips = torch.rand(len(chosen), generator=generator) < 0.5
            batch_images = [
                images[i].flip(-1) if f else images[i] for i, f in zip(chosen, flips.tolist(), strict=True)
            ]
            batch_targets = [targets_of(labelled[i], f) for i, f in zip(chosen, flips.tolist(), strict=True)]
            losses = model(batch_images, batch_targets)
            loss = sum(losses.values())
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss.detach())
        schedule.step()
        print(f"epoch {epoch + 1}/{epochs} train:loss={total / max(1, len(order) / batch):.4f}", flush=True)

    exported = Exported(model.eval()).eval()
    detections, truth = [], {}
    with torch.no_grad():
        for index, item in enumerate(validation_items):
            boxes, scores = exported(to_tensor(item.image).unsqueeze(0))
            for class_id, score, box in decode(boxes[0].numpy(), scores[0].numpy(), 0.01, nms):
                detections.append(ScoredBox(index, class_id, score, box))
            height, width = item.image.shape[:2]
            truth[index] = [
                (c, (b[0] * SIZE / width, b[1] * SIZE / height, b[2] * SIZE / width, b[3] * SIZE / height))
                for c, b in item.boxes
            ]
    result = mean_average_precision(detections, truth, iou)
    report_metric(METRIC, result.mean_ap)

    env.model_dir.mkdir(parents=True, exist_ok=True)
    probe = to_tensor(validation_items[0].image).unsqueeze(0)
    export_onnx(exported, probe, env.model_dir / "model.onnx")
    with torch.no_grad():
        boxes, scores = exported(probe)
    top = torch.argsort(scores[0, :, 1:].max(dim=1).values, descending=True)[:20]
    card = model_card(
        algorithm="ssd",
        detector="dnn",
        file="model.onnx",
        input_size=(SIZE, SIZE),
        labels=[class_names[c] for c in sorted(class_names)],
        preprocessing={
            "resize": f"{SIZE}x{SIZE}, aspect not kept",
            "color": "RGB",
            "scale": 1 / 255,
            "mean": [0, 0, 0],
        },
        output_decoding={
            "type": "boxes_scores",
            "outputs": ["boxes", "scores"],
            "boxes": "1xNx4 normalised xmin, ymin, xmax, ymax",
            "scores": "1xNxC softmax, class 0 background",
            "class_id_offset": 1,
            "nms_threshold": nms,
        },
        training_job=env.job_name,
        validation_map=result.mean_ap,
        extra={"output_format": "boxes_scores", "class_id_offset": 1, "weights": weights},
    )
    metrics = {
        METRIC: result.mean_ap,
        "per_class_ap": {class_names[c]: ap for c, ap in result.per_class.items()},
        "train_images": len(train_items),
        "validation_images": len(validation_items),
        "epochs": epochs,
        "weights": weights,
        "torch": torch.__version__,
        "total_seconds": round(time.perf_counter() - started, 3),
    }
    # the export's own check: the framework's outputs on the first validation image, for the device to match
    check = {
        "image": validation_items[0].name,
        "anchors": top.tolist(),
        "boxes": boxes[0, top].tolist(),
        "scores": scores[0, top].tolist(),
    }
    files = {
        "model.json": json.dumps(card, indent=2),
        "metrics.json": json.dumps(metrics, indent=2),
        "hyperparams.json": json.dumps(env.algorithm_hyperparameters(), indent=2),
        "export_check.json": json.dumps(check),
    }
    for name, text in files.items():
        (env.model_dir / name).write_text(text)
    return metrics


def export_onnx(module: nn.Module, probe: torch.Tensor, path: Path) -> None:
    kwargs = {"input_names": ["image"], "output_names": ["boxes", "scores"], "opset_version": 17}
    try:
        torch.onnx.export(module, (probe,), str(path), dynamo=False, **kwargs)
    except TypeError:  # torch before the dynamo switch
        torch.onnx.export(module, (probe,), str(path), **kwargs)


def main() -> int:
    return run_training(train)


if __name__ == "__main__":
    sys.exit(main())
