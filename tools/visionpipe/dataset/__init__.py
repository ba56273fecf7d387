"""Dataset tools: labelImg Pascal VOC XML -> SageMaker object-detection JSON, split, upload."""
