"""A PaDiM-style anomaly model learned from normal images alone, exported to ONNX for the onnx backend.

features.py (PCA filter bank), gaussian.py (per-position Gaussians), onnx_export.py (the graph),
metrics.py (AUROC, precision/recall/F1), dataset.py (folders and splits), training.py (orchestration).
"""

from visionpipe.anomaly_model.training import TrainConfig, TrainingReport, train

__all__ = ["TrainConfig", "TrainingReport", "train"]
