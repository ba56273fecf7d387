"""Local engines: what local mode runs where moto has no service or only records the call.

- training.py: SageMaker CreateTrainingJob really trains (HOG + linear SVM on CPU) and reports
  a measured validation:mAP and a model.tar.gz (moto alone completes jobs at once, empty).
- greengrass.py: Greengrass v2 (not in moto) answered through a botocore hook on in-process clients.

LocalEngines installs both for one LocalStack; handlers see only the endpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3

from visionpipe.local.engines import greengrass, training


class LocalEngines:
    def __init__(
        self,
        session: boto3.Session,
        endpoint_url: str,
        region: str,
        account_id: str,
        stack_buckets: Callable[[], set[str]],
        sync_training_seconds: float = 25.0,
    ):
        self.session, self.endpoint_url = session, endpoint_url

        def s3():
            return session.client("s3", endpoint_url=endpoint_url)

        def owns(job: Any) -> bool:
            bucket, _ = training.parse_s3_uri(job.output_data_config["S3OutputPath"])
            return bucket in stack_buckets()

        self.training = training.TrainingEngine(s3, owns, sync_seconds=sync_training_seconds)
        self.greengrass = greengrass.GreengrassEngine(endpoint_url, region, account_id, s3)

    def install(self) -> None:
        training.install(self.training)
        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        greengrass.install(self.greengrass, [boto3.DEFAULT_SESSION, self.session])

    def uninstall(self) -> None:
        training.uninstall(self.training)
        greengrass.uninstall(self.greengrass)
