"""Local engines: what local mode runs where moto has no service or only records the call.

- training.py: SageMaker CreateTrainingJob really trains (visionpipe.detector_model: HOG + linear
  SVM on CPU) and reports a measured validation:mAP and a model.tar.gz (moto alone completes jobs
  at once, empty).
- greengrass.py: Greengrass v2 (not in moto) answered through a botocore hook on in-process clients.

LocalEngines installs both for one OfflineStack (a context manager); handlers see only the endpoint.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import boto3

from visionpipe.detector_model.training_job import parse_s3_uri
from visionpipe.local.engines import greengrass, training


class LocalEngines(contextlib.ExitStack):
    def __init__(
        self,
        session: boto3.Session,
        endpoint_url: str,
        region: str,
        account_id: str,
        stack_buckets: Callable[[], set[str]],
        sync_training_seconds: float = 25.0,
    ):
        super().__init__()
        self.session = session

        def s3():
            return session.client("s3", endpoint_url=endpoint_url)

        def owns(job) -> bool:
            return parse_s3_uri(job.output_data_config["S3OutputPath"])[0] in stack_buckets()

        self.training = training.TrainingEngine(s3, owns, sync_seconds=sync_training_seconds)
        self.greengrass = greengrass.GreengrassEngine(endpoint_url, region, account_id, s3)

    def __enter__(self) -> LocalEngines:
        super().__enter__()
        self.enter_context(self.training.installed())
        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        # boto3's default session: the handlers' module-level clients come from it
        self.enter_context(self.greengrass.installed([boto3.DEFAULT_SESSION, self.session]))
        return self
