"""Writes each verdict or failure once: the item's conditional put decides, then the result document.

The item's RequestID is derived from the upload's identity, so the conditional put is the one
decision per upload: the first writer wins, a duplicate delivery finds the item and writes nothing
new. Its order leaves nothing orphaned: the item first, then the document it names. A retry after a
lost reply (the put committed, its answer did not arrive, the SDK sent it again) or after a crash
between the two writes finds the stored item and writes its document again, derived from the stored
item, so item and document always agree.

DynamoDB is called through the low-level client (items serialized with boto3's TypeSerializer, as
the Table resource would): a resource costs a cold start ~15-30 ms more (boto3 scans its resource
models and builds the resource classes) for nothing the two calls here need.
"""

from __future__ import annotations

import json

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from visionpipe_common import aws
from visionpipe_common.anomaly.verdict_records import result_document
from visionpipe_common.limits import ensure_item_fits

_deserialize = TypeDeserializer().deserialize
_serialize = TypeSerializer().serialize


class ResultStore:
    def __init__(self, dynamodb_client, table_name: str, s3_client, results_bucket: str):
        self._dynamodb = dynamodb_client
        self._table_name = table_name
        self._s3 = s3_client
        self._bucket = results_bucket

    @classmethod
    def open(cls, table_name: str, s3_client, results_bucket: str) -> ResultStore:
        """The store over the function's results table (its own DynamoDB client)."""
        return cls(aws.client("dynamodb"), table_name, s3_client, results_bucket)

    def save(self, item: dict, document: dict) -> bool:
        """Store item and document; False when this RequestID was already recorded (a duplicate)."""
        ensure_item_fits(item, f"the result item of {item.get('Key', item['RequestID'])}")
        try:
            self._dynamodb.put_item(
                TableName=self._table_name,
                Item={name: _serialize(value) for name, value in item.items()},
                ConditionExpression="attribute_not_exists(RequestID)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            stored = self._stored(exc, item["RequestID"])
            self._put_document(stored["ResultKey"], {**document, **result_document(stored)})
            # Our own write whose reply was lost stored exactly this item: not a duplicate.
            return stored == _as_stored(item)
        self._put_document(item["ResultKey"], document)
        return True

    def _stored(self, error: ClientError, request_id: str) -> dict:
        old = error.response.get("Item")
        if old:
            return {name: _deserialize(value) for name, value in old.items()}
        stored = self._dynamodb.get_item(
            TableName=self._table_name, Key={"RequestID": _serialize(request_id)}, ConsistentRead=True
        )["Item"]
        return {name: _deserialize(value) for name, value in stored.items()}

    def _put_document(self, key: str, document: dict) -> None:
        self._s3.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=json.dumps(document, indent=2, default=str).encode(),
            ContentType="application/json",
        )


def _as_stored(item: dict) -> dict:
    """The item as DynamoDB gives it back (numbers as Decimal, and so on)."""
    return {name: _deserialize(_serialize(value)) for name, value in item.items()}
