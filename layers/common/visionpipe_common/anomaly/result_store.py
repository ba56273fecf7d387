"""Writes each verdict or failure once: the item's conditional put decides, then the result document.

The item's RequestID is derived from the upload's identity, so the conditional put is the one
decision per upload: the first writer wins, a duplicate delivery finds the item and writes nothing
new. Its order leaves nothing orphaned: the item first, then the document it names. A retry after a
lost reply (the put committed, its answer did not arrive, the SDK sent it again) or after a crash
between the two writes finds the stored item and writes its document again, derived from the stored
item, so item and document always agree.
"""

from __future__ import annotations

import json

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from visionpipe_common.anomaly.verdict_records import result_document
from visionpipe_common.limits import ensure_item_fits

_deserialize = TypeDeserializer().deserialize
_serialize = TypeSerializer().serialize


class ResultStore:
    def __init__(self, table, s3_client, results_bucket: str):
        self._table = table
        self._s3 = s3_client
        self._bucket = results_bucket

    def save(self, item: dict, document: dict) -> bool:
        """Store item and document; False when this RequestID was already recorded (a duplicate)."""
        ensure_item_fits(item, f"the result item of {item.get('Key', item['RequestID'])}")
        try:
            self._table.put_item(
                Item=item,
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
        return self._table.get_item(Key={"RequestID": request_id}, ConsistentRead=True)["Item"]

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
