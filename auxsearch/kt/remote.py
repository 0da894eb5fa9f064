"""Keras Tuner's distributed mode: the chief's servicer, a worker's client, their setup.

Keras Tuner serves its oracle over gRPC: a chief holds it, each worker's
tuner talks to it through a client. `ChiefServicer` and `WorkerClient` add
failed trials' messages (sent as gRPC metadata: Keras Tuner's `Trial`
protobuf has no field for them) and ignore late results; `tuner_env` sets
the environment variables Keras Tuner reads to know its role.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

import keras_tuner as kt
from keras_tuner.src import protos
from keras_tuner.src.distribute import oracle_chief as _chief
from keras_tuner.src.distribute import oracle_client as _client
from keras_tuner.src.distribute.oracle_client import TIMEOUT

from auxsearch.kt.bookkeeping import oracle_lock
from auxsearch.kt.loop import IDLE_PAUSE
from auxsearch.kt.oracle import Trial

logger = logging.getLogger(__name__)

__all__ = [
    "ENV_ORACLE_IP", "ENV_ORACLE_PORT", "ENV_TUNER_ID", "TIMEOUT", "ChiefServicer",
    "WorkerClient", "connect_worker", "local_oracle", "serve", "tuner_env",
]

# Keras Tuner reads these when a Tuner is constructed and when it saves.
ENV_TUNER_ID = "KERASTUNER_TUNER_ID"
ENV_ORACLE_IP = "KERASTUNER_ORACLE_IP"
ENV_ORACLE_PORT = "KERASTUNER_ORACLE_PORT"

MESSAGE_KEY = "auxsearch-message-bin"  # gRPC metadata: a failed trial's message
MESSAGE_CHARS = 2000  # its tail only: gRPC metadata is limited to 8 KiB

_RUNNING = kt.engine.trial.TrialStatus.RUNNING
_IDLE = kt.engine.trial.TrialStatus.IDLE


@contextlib.contextmanager
def tuner_env(tuner_id: str, host: str, port: int) -> Iterator[None]:
    """Sets Keras Tuner's distribution variables, restoring them afterwards.

    They must stay set while the tuner runs: Keras Tuner reads them again
    when it searches and saves.
    """
    env = (ENV_TUNER_ID, ENV_ORACLE_IP, ENV_ORACLE_PORT)
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(zip(env, (tuner_id, host, str(port))))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def serve(servicer: Any, server: Any) -> None:
    """Adds an oracle servicer to a `grpc.Server`."""
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)


class ChiefServicer(_chief.OracleServicer):
    """Keras Tuner's oracle servicer, with failure messages and no late results.

    A worker's failed trial arrives with its message (Keras Tuner's `Trial`
    protobuf has none) as gRPC metadata. A result for a trial the chief
    already ended (a worker taken for dead that was only slow) is ignored.
    An error the oracle raises (too many failed trials in a row) is kept for
    the chief to raise (`raise_error`), not sent to the worker.
    """

    def __init__(self) -> None:
        super().__init__(oracle=None)  # the oracle comes with the tuner: `attach`
        self.error: Exception | None = None

    def attach(self, oracle: kt.Oracle) -> None:
        """Serves `oracle` from now on."""
        self.oracle = oracle

    @property
    def stopping(self) -> bool:
        """Whether the oracle has no trial left to give: workers are told to stop."""
        return bool(self.stop_triggered)

    def UpdateTrial(self, request: Any, context: Any) -> Any:
        if self.oracle.trials[request.trial_id].status != _RUNNING:
            return protos.get_service().UpdateTrialResponse(
                trial=self.oracle.trials[request.trial_id].to_proto())
        return super().UpdateTrial(request, context)

    def EndTrial(self, request: Any, context: Any) -> Any:
        trial = Trial.from_proto(request.trial)
        own = self.oracle.trials[trial.trial_id].hyperparameters
        trial.hyperparameters = _in_order_of(own, trial.hyperparameters)
        metadata = dict(context.invocation_metadata())
        if MESSAGE_KEY in metadata:
            trial.message = metadata[MESSAGE_KEY].decode("utf-8", "replace")
        elif trial.status != "COMPLETED":
            trial.message = "failed on a worker that sent no message; see its log"
        try:
            with oracle_lock(self.oracle):
                late = self.oracle.trials[trial.trial_id].status != _RUNNING
                if not late:
                    self.oracle.end_trial(trial)
            if late:
                logger.warning("ignored the late result of trial %s", trial.trial_id)
        except Exception as err:  # raised in the chief's thread instead
            self.error = err
        return protos.get_service().EndTrialResponse()

    def raise_error(self) -> None:
        """Raises the error the oracle raised while serving, if any."""
        if self.error is not None:
            raise self.error


class WorkerClient(_client.OracleClient):
    """Keras Tuner's oracle client, sending failure messages and pausing when idle.

    Attributes:
        ended: How many trials this client ended.
    """

    def __init__(self, oracle: kt.Oracle) -> None:
        super().__init__(local_oracle(oracle))
        self.ended = 0

    def create_trial(self, tuner_id: str) -> Trial:
        trial = super().create_trial(tuner_id)
        if trial.status == _IDLE:  # Keras Tuner asks again at once, in a busy loop
            time.sleep(IDLE_PAUSE)
        return trial

    def end_trial(self, trial: Trial) -> None:
        message = (trial.message or "")[-MESSAGE_CHARS:]
        self.stub.EndTrial(
            protos.get_service().EndTrialRequest(trial=trial.to_proto()),
            metadata=[(MESSAGE_KEY, message.encode("utf-8"))] if message else None,
            wait_for_ready=True,
            timeout=TIMEOUT,
        )
        self.ended += 1


def connect_worker(tuner: kt.Tuner) -> WorkerClient:
    """Makes a worker's tuner ask the chief for trials, through a `WorkerClient`.

    Call it inside `tuner_env`, with the chief's address.

    Args:
        tuner: The worker's tuner.

    Returns:
        The client, now the tuner's oracle.
    """
    client = tuner.oracle = WorkerClient(tuner.oracle)
    return client


def _in_order_of(own: kt.HyperParameters, sent: kt.HyperParameters) -> kt.HyperParameters:
    """`sent`'s values in `own`'s space order (the protobuf groups them by type)."""
    hps = own.copy()
    hps.merge(sent, overwrite=False)  # only hyperparameters new to the chief
    hps.values = dict(sent.values)
    return hps


def local_oracle(oracle: Any) -> kt.Oracle:
    """Returns the oracle a worker's gRPC client stands for (else `oracle`)."""
    return oracle._oracle if isinstance(oracle, _client.OracleClient) else oracle
