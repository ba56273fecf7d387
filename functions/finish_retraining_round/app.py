"""finish_retraining_round (state machine task): close a round, whatever its outcome.

Input: {"round": N, "succeeded": bool, "result": {...figures or the error}}. Success (a model was
trained, adopted or not): the round's candidates become `trained` (they stay in later datasets).
Failure: they go back to `pending`, to be reviewed and approved again. Either way the round item
stops saying "running" and keeps the result, so the next threshold crossing can start a new round.
"""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from visionpipe_common.retraining.candidates import CandidateStore
from visionpipe_common.retraining.rounds import RetrainingRounds
from visionpipe_common.retraining.settings import CuratorSettings

logger = Logger()
tracer = Tracer()

rounds = RetrainingRounds.from_settings(CuratorSettings.from_environment())
store = CandidateStore(rounds.table)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    round_number, succeeded = int(event["round"]), bool(event["succeeded"])
    moved = store.finish_round(round_number, succeeded)
    closed = rounds.finish(round_number, {"succeeded": succeeded, **(event.get("result") or {})})
    outcome = {
        "round": round_number,
        "succeeded": succeeded,
        "candidates": len(moved),
        "status": "trained" if succeeded else "pending",
        "round_closed": closed,
    }
    logger.info("round finished", extra=outcome)
    return outcome
