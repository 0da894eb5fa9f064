"""Keras Tuner's private API, in one place.

auxsearch relies on parts of Keras Tuner that are not public: the
Hyperband oracle's bracket bookkeeping, the tuner's search loop (which
packing extends to several trials at once) and state files, the oracle
lock, the gRPC chief and client, the best-epoch checkpoint callback. Every
`keras_tuner.src` import and every use of a private Keras Tuner member is
here, behind public names; the other modules use only these and Keras
Tuner's public API. Upgrading Keras Tuner means reading this module against
the new version, and widening `SUPPORTED`.

Importing this module checks the installed version first.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import threading
import time
import types
from collections.abc import Iterator
from typing import Any

import keras_tuner as kt
from packaging.specifiers import SpecifierSet

from auxsearch import names
from auxsearch.errors import AuxSearchError, SearchFailed
from auxsearch.files import save_json
from auxsearch.rundir import TRIAL_STATE

SUPPORTED = ">=1.4.8,<1.5"  # the keras-tuner versions whose internals this module knows


class KerasTunerVersionError(AuxSearchError, ImportError):
    """The installed keras-tuner is not one whose internals auxsearch knows."""


def check_version(version: str) -> None:
    """Refuses a keras-tuner version outside `SUPPORTED`.

    Raises:
        KerasTunerVersionError: If `version` is not supported.
    """
    if not SpecifierSet(SUPPORTED).contains(version, prereleases=True):
        raise KerasTunerVersionError(
            f"auxsearch needs keras-tuner{SUPPORTED}, but keras-tuner {version} is installed"
        )


check_version(kt.__version__)

# Only now: another version may lack these modules.
from keras_tuner.src import config as _config  # noqa: E402
from keras_tuner.src import protos  # noqa: E402
from keras_tuner.src.distribute import oracle_chief as _chief  # noqa: E402
from keras_tuner.src.distribute import oracle_client as _client  # noqa: E402
from keras_tuner.src.distribute import utils as _dist  # noqa: E402
from keras_tuner.src.distribute.oracle_client import TIMEOUT  # noqa: E402
from keras_tuner.src.engine import conditions as _conditions  # noqa: E402
from keras_tuner.src.engine import oracle as _oracle  # noqa: E402
from keras_tuner.src.engine.tuner_utils import SaveBestEpoch  # noqa: E402

logger = logging.getLogger(__name__)

__all__ = [
    "SUPPORTED", "TIMEOUT", "ChiefServicer", "HyperbandOracleBase", "HyperbandTunerBase",
    "KerasTunerVersionError", "SaveBestEpoch", "WorkerClient", "check_version", "copy_hypermodel",
    "hyperband_brackets", "local_oracle", "mute_condition_print", "oracle_lock",
    "protos", "serve", "set_project_dir", "show_tracebacks", "tuner_env",
]

Trial = kt.engine.trial.Trial
_RUNNING = kt.engine.trial.TrialStatus.RUNNING
_FAILED = kt.engine.trial.TrialStatus.FAILED
_IDLE = kt.engine.trial.TrialStatus.IDLE
_STOPPED = kt.engine.trial.TrialStatus.STOPPED


# Keras Tuner reads these when a Tuner is constructed and when it saves.
ENV_TUNER_ID = "KERASTUNER_TUNER_ID"
ENV_ORACLE_IP = "KERASTUNER_ORACLE_IP"
ENV_ORACLE_PORT = "KERASTUNER_ORACLE_PORT"

MESSAGE_KEY = "auxsearch-message-bin"  # gRPC metadata: a failed trial's message
MESSAGE_CHARS = 2000  # its tail only: gRPC metadata is limited to 8 KiB
IDLE_PAUSE = 0.5  # a worker's pause when the oracle has no trial for it yet


def show_tracebacks(flag: bool) -> bool:
    """Sets whether Keras Tuner prints each failed trial's traceback.

    Keras Tuner prints them to stderr by default (its `config.DEBUG`).
    auxsearch never changes that by itself: a caller chooses, as a command
    line would for a debug option. The traceback is kept in the trial's
    `message` either way.

    Returns:
        The previous setting.
    """
    previous = bool(_config.DEBUG)
    _config.DEBUG = bool(flag)
    return previous


def mute_condition_print() -> None:
    """Mutes the debugging `print` Keras Tuner 1.4.8 left in `conditions`.

    `Parent.to_proto` prints `True` to stdout for every conditional
    hyperparameter of every trial sent over gRPC. Only that module's `print`
    is replaced.
    """
    _conditions.print = lambda *args, **kwargs: None


@contextlib.contextmanager
def oracle_lock(oracle: Any) -> Iterator[Any]:
    """Holds the lock Keras Tuner's `synchronized` oracle methods take.

    Reentrant per thread, as `synchronized` is: inside the block the
    oracle's own methods run without waiting. Unlike `synchronized`, the
    lock is released however the block ends, an exception included.

    Yields:
        The oracle.
    """
    thread = threading.current_thread().name
    acquire = _oracle.THREADS[oracle] != thread
    if acquire:
        _oracle.LOCKS[oracle].acquire()
        _oracle.THREADS[oracle] = thread
    try:
        yield oracle
    finally:
        if acquire:
            _oracle.THREADS[oracle] = None
            _oracle.LOCKS[oracle].release()


def copy_hypermodel(hypermodel: kt.HyperModel) -> kt.HyperModel:
    """Returns a shallow copy of a HyperModel whose `build` builds with the copy.

    `HyperModel.__init__` binds `build` to its instance (`_build`,
    `_build_wrapper`), so a plain `copy.copy` would still build with the
    original.
    """
    twin = copy.copy(hypermodel)
    twin._build = types.MethodType(type(hypermodel).build, twin)
    twin.build = twin._build_wrapper
    return twin


def set_project_dir(oracle: kt.Oracle, directory: str | os.PathLike, project_name: str) -> None:
    """Gives a stand-alone oracle its project directory, as a Tuner would."""
    oracle._set_project_dir(str(directory), project_name)


def local_oracle(oracle: Any) -> kt.Oracle:
    """Returns the oracle a worker's gRPC client stands for (else `oracle`)."""
    return oracle._oracle if isinstance(oracle, _client.OracleClient) else oracle


def hyperband_brackets(max_epochs: int, factor: int) -> list[list[tuple[int, int]]]:
    """Returns one iteration of Keras Tuner's Hyperband plan.

    Returns:
        For each bracket, for each of its rounds, `(trials, epochs)`: how
        many trials the round trains, and up to which epoch.
    """
    oracle = kt.oracles.HyperbandOracle(
        kt.Objective("score", "max"), max_epochs=max_epochs, factor=factor
    )
    return [
        [(oracle._get_size(b, r), oracle._get_epochs(b, r)) for r in range(b + 1)]
        for b in range(oracle._get_num_brackets())
    ]


class HyperbandOracleBase(kt.oracles.HyperbandOracle):
    """Keras Tuner's `HyperbandOracle`, with public hooks and safer bookkeeping.

    - `identity(values)` says what identifies a configuration: values with
      the same identity count as tried once one of them was;
      `mark_tried(identity)` marks one as tried without training it.
    - `scheduled_values(bracket)` may give the values of a bracket's next
      new trial instead of a random configuration.
    - The oracle's and the trials' state files are replaced atomically.
    - `create_trial`, `update_trial` and `end_trial` release the oracle
      lock even when they raise.
    - When `max_consecutive_failed_trials` trials failed in a row, the
      search ends with `SearchFailed` and a one-line reason (Keras Tuner
      raises a `RuntimeError` with the last traceback).

    Takes the arguments of `keras_tuner.oracles.HyperbandOracle`.
    """

    def identity(self, values: dict[str, Any]) -> dict[str, Any]:
        """Returns what identifies the configuration of `values` (default: them)."""
        return values

    def mark_tried(self, identity: dict[str, Any]) -> None:
        """Counts the configurations of this identity as tried."""
        self._tried_so_far.add(super()._compute_values_hash(identity))

    def scheduled_values(self, bracket: int) -> dict[str, Any] | None:
        """Returns values for a new trial of `bracket`, or `None` for random ones.

        Called for each new trial of a bracket's first round; bracket 0's
        trials train for `max_epochs` at once. Keras Tuner adds its own
        `tuner/...` values.
        """
        return None

    def create_trial(self, *args: Any, **kwargs: Any) -> Trial:
        with oracle_lock(self):
            return super().create_trial(*args, **kwargs)

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        # A round is promoted from only once none of its trials is running.
        # Keras Tuner promotes as soon as enough have completed, so with
        # several trials at once (packed, or workers) the promotions would
        # depend on which finished first; so they are those of one trial at
        # a time. A bracket waiting so is hidden from Keras Tuner's
        # `populate_space` (which then creates a new bracket, or says IDLE).
        brackets = list(self._brackets)
        waiting = [b for b in brackets if self._waiting(b)]
        self._brackets = [b for b in brackets if not any(b is w for w in waiting)]
        try:
            response = super().populate_space(trial_id)
            values = response.get("values") or {}
            if names.PARENT in values:  # Keras Tuner writes the newest bracket's number
                parent = self.trials[values[names.PARENT]].hyperparameters.values
                values[names.BRACKET] = parent.get(names.BRACKET, values[names.BRACKET])
            return response
        finally:
            kept = self._brackets  # less the completed ones, plus a new one
            self._brackets = [b for b in brackets
                              if any(b is k for k in kept) or any(b is w for w in waiting)]
            self._brackets += [b for b in kept if not any(b is o for o in brackets)]

    def _waiting(self, bracket: dict) -> bool:
        """Whether a bracket's next promotion waits for a running trial."""
        number, rounds = bracket["bracket_num"], bracket["rounds"]
        if len(rounds[0]) < self._get_size(number, 0):
            return False  # it still takes new configurations
        for r in range(1, len(rounds)):
            if len(rounds[r]) < self._get_size(number, r):
                return any(self.trials[info["id"]].status == _RUNNING
                           for info in rounds[r - 1])
        return False

    def update_trial(self, *args: Any, **kwargs: Any) -> Trial:
        with oracle_lock(self):
            return super().update_trial(*args, **kwargs)

    def end_trial(self, *args: Any, **kwargs: Any) -> None:
        with oracle_lock(self):
            super().end_trial(*args, **kwargs)

    def save(self) -> None:
        # Trials are saved in their own files, as Keras Tuner does; atomically.
        save_json(self._get_oracle_fname(), self.get_state())

    def _save_trial(self, trial: Trial) -> None:
        path = os.path.join(self._get_trial_dir(trial.trial_id), TRIAL_STATE)
        save_json(path, trial.get_state())

    def _compute_values_hash(self, values: dict[str, Any]) -> str:
        return super()._compute_values_hash(self.identity(values))

    def _random_trial(self, trial_id: str, bracket: dict) -> dict[str, Any]:
        bracket_num = bracket["bracket_num"]
        values = self.scheduled_values(bracket_num)
        if values is None:
            return super()._random_trial(trial_id, bracket)
        values = dict(values)
        values[names.EPOCHS] = self._get_epochs(bracket_num, 0)
        values[names.INITIAL_EPOCH] = 0
        values[names.BRACKET] = self._current_bracket
        values[names.ROUND] = 0
        bracket["rounds"][0].append({"past_id": None, "id": trial_id})
        return {"status": "RUNNING", "values": values}

    def _check_consecutive_failures(self) -> None:
        # As Keras Tuner's, which it calls from `end_trial`, with a one-line
        # error; and the trial being ended is saved first, so the tables
        # show it FAILED. (Keras Tuner saves neither it nor the oracle then:
        # a resumed search retries it.)
        failed = 0
        for trial_id in self.end_order:
            trial = self.trials[trial_id]
            failed = failed + 1 if trial.status == _FAILED else 0
            if failed == self.max_consecutive_failed_trials:
                lines = (trial.message or "").strip().splitlines()
                why = f"failed with: {lines[-1].strip()}" if lines else "failed with no message"
                self._save_trial(self.trials[self.end_order[-1]])
                raise SearchFailed(
                    f"{failed} trials failed in a row; the last (trial {trial_id}) {why}"
                )


class HyperbandTunerBase(kt.Hyperband):
    """Keras Tuner's `Hyperband` on a given oracle, with public hooks.

    - It runs on `oracle` (`keras_tuner.Hyperband` would build a plain one).
    - `declare_space(hp)` declares the whole search space at once (Keras
      Tuner builds the model once per conditional scope to discover it).
    - The Keras session is not cleared before each build: the HyperModel
      reuses its traced model across trials, and clearing would also empty
      TensorFlow's kernel caches.
    - Its state file is replaced atomically (the oracle's are, too, with a
      `HyperbandOracleBase`): a search killed at any moment can be resumed.

    Args:
        oracle: The oracle.
        hypermodel: The HyperModel.
        **kwargs: Those of `keras_tuner.Tuner` (directory, project_name, ...).
    """

    def __init__(self, oracle: kt.Oracle, hypermodel: kt.HyperModel, **kwargs: Any) -> None:
        kt.Tuner.__init__(self, oracle=oracle, hypermodel=hypermodel, **kwargs)
        self._trained: dict[str, Any] = {}  # results of trials trained together

    def declare_space(self, hp: kt.HyperParameters) -> None:
        """Declares every hyperparameter of the search on `hp`."""
        raise NotImplementedError

    def slots(self, *fit_args: Any, **fit_kwargs: Any) -> int:
        """Returns how many trials to hold at once (default 1), at the search's start."""
        return 1

    def train_together(self, trials: list[Trial], *fit_args: Any,
                       **fit_kwargs: Any) -> dict[str, Any]:
        """Trains trials with the same epochs at once.

        Returns:
            By trial id, what `run_trial` returns for it (a list of one
            `History`), or the exception its trial fails with.
        """
        raise NotImplementedError

    def checkpoint_path(self, trial_id: str) -> str:
        """The path of a trial's best-epoch checkpoint, where Keras Tuner keeps it."""
        return self._get_checkpoint_fname(trial_id)

    def save_build_config(self, trial_id: str, model: Any) -> None:
        """Saves a trial's build configuration, as Keras Tuner does after `fit`."""
        from keras_tuner.src import utils

        utils.save_json(self._get_build_config_fname(trial_id), model.get_build_config())

    def search(self, *fit_args: Any, **fit_kwargs: Any) -> None:
        """Keras Tuner's search loop, holding up to `slots()` trials at once.

        Each slot asks the oracle with its own tuner id (`<tuner id>-<k>`
        past the first), as distributed workers do, until the oracle has
        none to give (IDLE: it waits for results) or every slot holds one.
        The held trials with the same `tuner/initial_epoch` and
        `tuner/epochs` that are most numerous train together; the others
        wait for a later group. A trial a killed search held is handed
        back by the oracle to its slot's id, and redone.
        """
        if _dist.is_chief_oracle():  # a chief serves; Keras Tuner's own loop does that
            return super().search(*fit_args, **fit_kwargs)
        if "verbose" in fit_kwargs and not _dist.has_chief_oracle():
            self.oracle.verbose = fit_kwargs.get("verbose")
        slots = self._slot_ids(self.slots(*fit_args, **fit_kwargs))
        self.on_search_begin()
        held: dict[str, Trial] = {}
        while True:
            self.pre_create_trial()
            stopped = False
            for slot in slots:
                if slot in held:
                    continue
                trial = self.oracle.create_trial(slot)
                if trial.status in (_STOPPED, _IDLE):
                    stopped = trial.status == _STOPPED
                    break
                held[slot] = trial
            if not held:
                if stopped:
                    break
                time.sleep(IDLE_PAUSE)  # other workers' trials must end first
                continue
            group = _largest_group(list(held.values()))
            held = {slot: t for slot, t in held.items() if t not in group}
            self._run_group(group, *fit_args, **fit_kwargs)
        self.on_search_end()

    def run_trial(self, trial: Trial, *fit_args: Any, **fit_kwargs: Any) -> Any:
        if trial.trial_id not in self._trained:
            return super().run_trial(trial, *fit_args, **fit_kwargs)
        result = self._trained.pop(trial.trial_id)
        if isinstance(result, BaseException):
            raise result
        return result

    def _run_group(self, group: list[Trial], *fit_args: Any, **fit_kwargs: Any) -> None:
        """Trains a group; reports each trial as Keras Tuner reports one."""
        if len(group) > 1:
            try:
                self._trained = self.train_together(group, *fit_args, **fit_kwargs)
            except Exception as err:  # fatal, or e.g. out of memory: it is every trial's
                self._trained = dict.fromkeys((t.trial_id for t in group), err)
        for i, trial in enumerate(group):
            try:
                self.on_trial_begin(trial)
                self._try_run_and_update_trial(trial, *fit_args, **fit_kwargs)
                self.on_trial_end(trial)
            except kt.errors.FatalError as err:
                for other in group[i + 1:]:  # the group ends with the search
                    other.status, other.message = _FAILED, f"{type(err).__name__}: {err}"
                    self.oracle.end_trial(other)
                self._trained = {}
                raise

    def _slot_ids(self, count: int) -> list[str]:
        """The tuner ids of the slots; and of any slot a killed search held beyond them."""
        own = [self.tuner_id] + [f"{self.tuner_id}-{k}" for k in range(1, count)]
        ongoing = getattr(self.oracle, "ongoing_trials", {})  # a worker's client has none
        return own + sorted(slot for slot in ongoing
                            if slot.startswith(f"{self.tuner_id}-") and slot not in own)

    def save(self) -> None:
        if not self._is_worker():
            self.oracle.save()
        save_json(self._get_tuner_fname(), self.get_state())

    def _populate_initial_space(self) -> None:
        hp = self.oracle.get_space()
        self.declare_space(hp)
        self.oracle.update_space(hp)

    def loaded_parent(self, model: Any) -> None:
        """Called once a promotion's model holds its parent's checkpoint."""

    def _try_build(self, hp: kt.HyperParameters) -> Any:
        model = self._build_hypermodel(hp)  # Keras Tuner loads a promotion's parent
        if names.PARENT in hp.values:
            self.loaded_parent(model)
        return model

    def _try_run_and_update_trial(self, trial: Trial, *args: Any, **kwargs: Any) -> None:
        # Keras Tuner lets a fatal error leave its trial RUNNING, so the CSVs
        # and a resume would show it as still going: end it as FAILED first.
        try:
            super()._try_run_and_update_trial(trial, *args, **kwargs)
        except kt.errors.FatalError as err:
            trial.status = _FAILED
            trial.message = f"{type(err).__name__}: {err}"
            self.oracle.end_trial(trial)
            raise


def _largest_group(trials: list[Trial]) -> list[Trial]:
    """The most numerous trials with the same epochs to train (the earliest on a tie)."""
    groups: dict[tuple[int, int], list[Trial]] = {}
    for trial in sorted(trials, key=lambda t: t.trial_id):
        values = trial.hyperparameters.values
        key = (values.get(names.INITIAL_EPOCH, 0), values.get(names.EPOCHS, 0))
        groups.setdefault(key, []).append(trial)
    return max(groups.values(), key=len)  # the first of the largest: insertion order


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
        super().__init__(oracle=None)  # the oracle comes with the tuner
        self.error: Exception | None = None

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


def _in_order_of(own: kt.HyperParameters, sent: kt.HyperParameters) -> kt.HyperParameters:
    """`sent`'s values in `own`'s space order (the protobuf groups them by type)."""
    hps = own.copy()
    hps.merge(sent, overwrite=False)  # only hyperparameters new to the chief
    hps.values = dict(sent.values)
    return hps
