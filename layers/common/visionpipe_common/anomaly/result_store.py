"""Writes each verdict or failure once: a conditional DynamoDB put, then the S3 result document."""

from __future__ import annotations

import json

from botocore.exceptions import ClientError


class ResultStore:
    def __init__(self, table, s3_client, results_bucket: str):
        self._table = table
        self._s3 = s3_client
        self._bucket = results_bucket

    def save(self, item: dict, document: dict) -> bool:
        """Store item and document; False when this RequestID was already recorded (a duplicate)."""
        self._s3.put_object(
            Bucket=self._bucket,
            Key=item["ResultKey"],
            Body=json.dumps(document, indent=2, default=str).encode(),
            ContentType="application/json",
        )
        try:
            self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(RequestID)")
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True
