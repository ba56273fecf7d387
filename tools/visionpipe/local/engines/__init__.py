"""Local engines: what local mode runs where moto has no service or only records the call.

- training.py: SageMaker CreateTrainingJob really trains (visionpipe.detector_model: HOG + linear
  SVM on CPU) and reports a measured validation:mAP and a model.tar.gz (moto alone completes jobs
  at once, empty).
- greengrass.py: Greengrass v2 (not in moto) answered through a botocore hook on in-process clients.
"""
