"""SageMaker script-mode entry point of the `hog` algorithm (sagemaker_program=train_hog.py)."""

import sys

from visionpipe.detector_model.training_job import main

if __name__ == "__main__":
    sys.exit(main())
