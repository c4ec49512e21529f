"""Crash-safe KerasTuner project directories: atomic writes, repair on resume, a writer lock, a fingerprint.

KerasTuner 1.4.8 writes ``oracle.json``, ``trial_*/trial.json`` and
``<tuner_id>.json`` in place (``open(path, "w")``). A process killed during a
write leaves a truncated file (an empty ``oracle.json`` makes every resume
fail), and a kill between two writes leaves the oracle's state behind its
trial files (a trial RUNNING forever, or a finished trial handed out again).
This module makes the directory safe against a killed *process* (not against
a power cut: files are not fsync'ed, which would cost ~ms per write):

* ``atomic_writes`` — every KerasTuner JSON write becomes write-to-a-
  temporary-file-then-``os.replace`` (atomic on POSIX), for as long as the
  context is active;
* :func:`repair_project` — before a resume, makes ``oracle.json`` agree with
  the trial files (the trial files are the truth): finished trials are never
  handed out again and appear once in ``end_order``, orphaned RUNNING trials
  are queued to run again, and an empty or corrupt ``oracle.json`` is rebuilt
  from the completed trial files;
* :func:`project_lock` — one writer per project directory (an OS file lock
  through :mod:`filelock`, on POSIX and Windows, released when the process
  exits), unless KerasTuner's distributed mode is configured;
* :func:`check_fingerprint` — refuses to resume a project whose search space
  or data differ from the ones it was started with.

:class:`fairkl.tuning.BatchedTuner` does all of this itself; wrap a stock
tuner in :func:`safe_project` to get the same guarantees.

KerasTuner internals this module relies on (no public hook exists for them):
``keras_tuner.src.utils.save_json``, the one function through which KerasTuner
writes every state file, and ``Stateful.save``, through which it serialises
each (both replaced for the duration of ``atomic_writes``),
and the layout of the oracle's state dict (``Oracle.get_state``) and of the
hash of trial values (``Oracle._compute_values_hash``, re-implemented in
:func:`values_hash` and tested against it).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import warnings

import filelock
import keras_tuner
import numpy as np
from keras_tuner.src.engine.stateful import Stateful

from fairkl._backend import user_stacklevel

__all__ = [
    "atomic_writes",
    "deferred_writes",
    "repair_project",
    "project_lock",
    "check_fingerprint",
    "write_fingerprint",
    "safe_project",
    "ProjectLockedError",
    "FINGERPRINT_FILE",
    "KERAS_TUNER_SUPPORTED",
    "check_keras_tuner_version",
]

#: KerasTuner releases whose internals fairkl.tuning relies on (listed above), as
#: (first supported, first unsupported): tested on 1.4.8, the newest release; a 1.5 may move
#: them. pyproject.toml declares the same range (tests/test_keras_tuner_version.py).
KERAS_TUNER_SUPPORTED = ((1, 4, 8), (1, 5, 0))


def check_keras_tuner_version(version: str) -> None:
    """Refuse a KerasTuner outside :data:`KERAS_TUNER_SUPPORTED`, naming both.

    fairkl replaces ``keras_tuner.src.utils.save_json`` during a search and edits the
    oracle's state file before a resume; a release outside the tested range may have
    moved or changed either, which would corrupt a project silently rather than fail.
    """
    lo, hi = KERAS_TUNER_SUPPORTED
    supported = f">={'.'.join(map(str, lo))},<{'.'.join(map(str, hi[:2]))}"
    match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", str(version))
    parsed = tuple(int(g or 0) for g in match.groups()) if match else None
    if parsed is None or not lo <= parsed < hi:
        raise ImportError(
            f"fairkl.tuning supports keras-tuner{supported}, but keras-tuner {version} is installed: "
            f"fairkl relies on KerasTuner internals (save_json, the oracle's state file) that other "
            f"releases may change. Install a supported release: pip install 'keras-tuner{supported}'."
        )


check_keras_tuner_version(keras_tuner.__version__)

FINGERPRINT_FILE = "fairkl_fingerprint.json"
TERMINAL = ("COMPLETED", "FAILED", "INVALID")
DISTRIBUTED_VARS = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")


class ProjectLockedError(RuntimeError):
    """Another process is writing to this KerasTuner project directory."""


# ------------------------------------------------------------------ atomic writes
def write_json_atomic(path: str, obj) -> str:
    """Write ``obj`` as JSON to ``path`` through a temporary file and ``os.replace``.

    A reader (or a resume after a kill) sees either the old file or the new
    one, never a truncated one.
    """
    text = json.dumps(obj)
    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return text


_patch_lock = threading.Lock()
_patch_depth = 0
_original_save_json = None
_original_stateful_save = None
_pending: dict | None = (
    None  # path -> state or Stateful object, while a deferred_writes block is active
)


def _write_or_defer(path: str, obj):
    """KerasTuner's ``save_json`` during ``atomic_writes``: atomic now, or at the end of :func:`deferred_writes`."""
    if _pending is None:
        return write_json_atomic(path, obj)
    _pending.pop(path, None)  # re-inserted last: the latest state, in the order of last writes
    _pending[path] = obj
    return None


def _save_or_defer(self, fname):
    """KerasTuner's ``Stateful.save`` during ``atomic_writes``: inside :func:`deferred_writes`
    the object itself is held and its ``get_state()`` taken once, when the block ends.

    An oracle is saved ~3 times per trial and a trial file 3 times; each save
    serialises the whole state (the oracle's grows with the trials), and all
    but the last are overwritten unread.
    """
    if _pending is None:
        return _original_stateful_save(self, fname)
    return _write_or_defer(fname, self)


@contextlib.contextmanager
def deferred_writes():
    """Hold KerasTuner's state-file writes in memory; write the latest version of each at the end.

    Used by :class:`fairkl.tuning.BatchedTuner` around one batch: each trial
    file is then written once (with its final status and metrics) instead of
    three times, and ``oracle.json`` (which grows with the number of trials)
    once per batch instead of ~2 times per trial. On exit the trial files are
    written first and ``oracle.json`` last (each atomically), so that a kill
    at any moment leaves the trial files ahead of, or equal to, the oracle's
    state: exactly what :func:`repair_project` reconciles. A kill before the
    end loses only what the block did: its trials were never recorded as
    finished, and are drawn again (or run again, if an earlier block wrote
    them as RUNNING). Only effective inside
    ``atomic_writes``; not re-entrant (an inner block joins the outer).
    """
    global _pending
    if _pending is not None:
        yield
        return
    _pending = {}
    try:
        yield
    finally:
        pending, _pending = _pending, None
        last = [p for p in pending if os.path.basename(p) == "oracle.json"]
        for path in [p for p in pending if p not in last] + last:
            obj = pending[path]
            if isinstance(obj, Stateful):
                obj = obj.get_state()  # its latest state (KerasTuner saves after each change)
            write_json_atomic(path, obj)


@contextlib.contextmanager
def atomic_writes():
    """Make every KerasTuner state-file write atomic while the context is active (re-entrant).

    KerasTuner's ``save_json`` is replaced by :func:`write_json_atomic` (or,
    inside :func:`deferred_writes`, by a write held until that block ends), and
    ``Stateful.save`` by one that, inside :func:`deferred_writes`, holds the
    object and serialises it once at the end of the block.
    """
    global _patch_depth, _original_save_json, _original_stateful_save
    from keras_tuner.src import utils as kt_utils

    with _patch_lock:
        if _patch_depth == 0:
            _original_save_json = kt_utils.save_json
            _original_stateful_save = Stateful.save
            kt_utils.save_json = _write_or_defer
            Stateful.save = _save_or_defer
        _patch_depth += 1
    try:
        yield
    finally:
        with _patch_lock:
            _patch_depth -= 1
            if _patch_depth == 0:
                kt_utils.save_json = _original_save_json
                Stateful.save = _original_stateful_save


# ---------------------------------------------------------------------- the lock
# lock path -> [FileLock, count]: re-entrant within one process (any thread), one OS lock per path.
_held: dict[str, list] = {}
_held_lock = threading.Lock()


def distributed_mode() -> bool:
    """True when KerasTuner's distributed mode is configured (its chief owns the writes)."""
    return "KERASTUNER_ORACLE_IP" in os.environ


def _lock_path(project_dir: str) -> str:
    # Beside the project, not inside it: `overwrite=True` deletes the project directory.
    parent, name = os.path.split(os.path.normpath(project_dir))
    return os.path.join(parent or ".", f".{name}.fairkl.lock")


def acquire_lock(project_dir: str) -> str | None:
    """Take the writer lock of ``project_dir``; returns its path (None in distributed mode).

    An OS file lock through :mod:`filelock` (``flock`` on POSIX, ``msvcrt.locking`` on
    Windows), taken without waiting: the operating system releases it when the process
    exits, however it exits. Re-entrant within one process (a count per path).
    """
    if distributed_mode():
        return None
    path = _lock_path(project_dir)
    with _held_lock:
        if path in _held:
            _held[path][1] += 1
            return path
        os.makedirs(os.path.dirname(path), exist_ok=True)
        lock = filelock.FileLock(path, timeout=0, thread_local=False)
        try:
            lock.acquire()
        except filelock.Timeout:
            raise ProjectLockedError(
                f"the KerasTuner project {project_dir!r} is in use by another process (lock file {path!r}). "
                f"Two processes writing one project directory overwrite each other's trials. Wait for the "
                f"other search to end, use another project_name, or run a distributed search: start one "
                f"process with KERASTUNER_TUNER_ID=chief and the workers with KERASTUNER_TUNER_ID=tuner0, "
                f"tuner1, ..., all with KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT set."
            ) from None
        _held[path] = [lock, 1]
    return path


def release_lock(path: str | None) -> None:
    """Release one hold of a lock taken by :func:`acquire_lock`."""
    with _held_lock:
        if path is None or path not in _held:
            return
        _held[path][1] -= 1
        if _held[path][1] == 0:
            lock, _ = _held.pop(path)
            lock.release()


@contextlib.contextmanager
def project_lock(project_dir: str):
    """Hold the writer lock of ``project_dir`` (see :func:`acquire_lock`)."""
    path = acquire_lock(project_dir)
    try:
        yield path
    finally:
        release_lock(path)


# ------------------------------------------------------------------- fingerprint
def fingerprint(space: dict, arrays: dict) -> dict:
    """SHA-256 digests of a search space (and settings) and of data arrays."""
    space_text = json.dumps(space, sort_keys=True, default=repr)
    data = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name], dtype=np.float64)
        data.update(f"{name}{a.shape}".encode())
        data.update(a.tobytes())
    return {
        "space": hashlib.sha256(space_text.encode()).hexdigest(),
        "data": data.hexdigest(),
        "space_text": space_text,
    }


def check_fingerprint(project_dir: str, fp: dict) -> None:
    """Raise if ``project_dir`` was started with another space or other data than ``fp`` describes."""
    path = os.path.join(project_dir, FINGERPRINT_FILE)
    old = _read_json(path)
    if not isinstance(old, dict) or not all(isinstance(old.get(k), str) for k in ("space", "data")):
        if _has_trial_files(project_dir):
            state = "missing" if not os.path.exists(path) else "unreadable"
            raise ValueError(
                f"the KerasTuner project {project_dir!r} has trials but its fingerprint {path!r} is "
                f"{state}, so fairkl cannot check that it was started with the same search space "
                f"and data; resuming could mix incomparable trials. Use overwrite=True to start "
                f"again or another project_name; if you know the space and data are the same, "
                f"restore the file with fairkl.tuning.persistence.write_fingerprint(project_dir, "
                f"hypermodel.fingerprint())."
            )
        return  # nothing recorded yet (e.g. a kill before the first trial): written below
    for key, what in (("space", "search space"), ("data", "training/validation data")):
        if old.get(key) != fp[key]:
            detail = (
                f" (it was {old.get('space_text')}; now {fp['space_text']})"
                if key == "space"
                else ""
            )
            raise ValueError(
                f"the KerasTuner project {project_dir!r} was started with a different {what}{detail}; "
                f"resuming it would mix incomparable trials. Use overwrite=True to start again, or "
                f"another project_name."
            )


def write_fingerprint(project_dir: str, fp: dict) -> None:
    os.makedirs(project_dir, exist_ok=True)
    write_json_atomic(os.path.join(project_dir, FINGERPRINT_FILE), fp)


# ------------------------------------------------------------------------ repair
def values_hash(values: dict) -> str:
    """KerasTuner's hash of a trial's values (as ``Oracle._compute_values_hash``): detects duplicates."""
    s = "".join(f"{k}={values[k]}" for k in sorted(values))
    return hashlib.sha256(s.encode("utf-8")).hexdigest()[:32]


def _has_trial_files(project_dir: str) -> bool:
    if not os.path.isdir(project_dir):
        return False
    return any(
        name.startswith("trial_") and os.path.exists(os.path.join(project_dir, name, "trial.json"))
        for name in os.listdir(project_dir)
    )


def _read_json(path: str):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


# The keys and types KerasTuner's Trial.set_state and Oracle.set_state read.
TRIAL_KEYS = {"trial_id": str, "hyperparameters": dict, "metrics": dict, "status": str}
ORACLE_KEYS = {
    "ongoing_trials": dict,
    "hyperparameters": dict,
    "start_order": list,
    "end_order": list,
    "run_times": dict,
    "retry_queue": list,
    "seed": int,
    "seed_state": int,
    "tried_so_far": list,
    "id_to_hash": dict,
    "display": dict,
}
STATUSES = ("RUNNING", "IDLE", "INVALID", "STOPPED", "COMPLETED", "FAILED")


def _check_trial_state(state: dict, path: str, folder_id: str) -> None:
    """Raise, naming the file, if a readable trial file is not one KerasTuner can resume from."""
    problems = [
        f"{k!r} missing or not a {t.__name__}"
        for k, t in TRIAL_KEYS.items()
        if not isinstance(state.get(k), t)
    ]
    if not problems:
        if not isinstance(state["hyperparameters"].get("values"), dict):
            problems.append("'hyperparameters' has no 'values' dict")
        if state["status"] not in STATUSES:
            problems.append(f"unknown status {state['status']!r}")
        if state["trial_id"] != folder_id:
            problems.append(
                f"its trial_id {state['trial_id']!r} is not its folder's ({folder_id!r}): "
                f"a copied or hand-edited file"
            )
    if problems:
        raise ValueError(
            f"cannot resume the KerasTuner project: the trial file {path!r} is not a trial KerasTuner "
            f"wrote ({'; '.join(problems)}). Restore or delete that trial folder (its result is then "
            f"lost), or start again with overwrite=True."
        )


def _placeholder(tid: str, template: dict | None, message: str) -> dict:
    hp = {**template["hyperparameters"], "values": {}} if template else {"space": [], "values": {}}
    return {
        "trial_id": tid,
        "hyperparameters": hp,
        "metrics": {"metrics": {}},
        "score": None,
        "best_step": 0,
        "status": "FAILED",
        "message": message,
    }


def _load_trials(project_dir: str, summary: dict) -> dict:
    """Every trial file, by id, with numbered ids made contiguous again.

    An unreadable (truncated) file becomes a FAILED placeholder: its result is
    lost. So does a trial folder missing from the middle of the numbering:
    KerasTuner numbers a new trial by the count of trials it knows
    (``Oracle.create_trial``), so a gap makes it hand out an existing id again
    and overwrite that trial, forever. A readable file that KerasTuner did not
    write as it is (missing keys, another folder's id) stops the resume with
    an error naming it.
    """
    trials, broken = {}, []
    for name in sorted(os.listdir(project_dir)):
        folder = os.path.join(project_dir, name)
        if not (name.startswith("trial_") and os.path.isdir(folder)):
            continue
        path = os.path.join(folder, "trial.json")
        if not os.path.exists(path):
            continue  # created, never written (a kill inside deferred_writes): drawn again, or a gap below
        state = _read_json(path)
        if not isinstance(state, dict):
            broken.append(name[len("trial_") :])
            continue
        _check_trial_state(state, path, name[len("trial_") :])
        trials[state["trial_id"]] = state
    template = next(iter(trials.values()), None)
    for tid in broken:  # only possible for files written without atomic writes
        trials[tid] = _placeholder(
            tid,
            template,
            "the trial file was unreadable (written without atomic writes); result lost",
        )
        write_json_atomic(os.path.join(project_dir, f"trial_{tid}", "trial.json"), trials[tid])
        summary["lost"].append(tid)
    numbered = {int(t): t for t in trials if t.isdigit()}
    if numbered:
        for k in range(max(numbered)):
            if k in numbered:
                continue
            near = numbered.get(max((j for j in numbered if j < k), default=min(numbered)))
            tid = str(k).zfill(len(near))
            trials[tid] = _placeholder(
                tid,
                template,
                "the trial file was missing when the project was resumed; result lost",
            )
            os.makedirs(os.path.join(project_dir, f"trial_{tid}"), exist_ok=True)
            write_json_atomic(os.path.join(project_dir, f"trial_{tid}", "trial.json"), trials[tid])
            numbered[k] = tid
            summary["lost"].append(tid)
    return trials


def _rebuild_state(trials: dict, oracle) -> dict:
    """An oracle state consistent with ``trials``, for an empty or corrupt ``oracle.json``."""
    base = oracle.get_state() if oracle is not None else {}
    if "brackets" in base:
        raise RuntimeError(
            "oracle.json of this Hyperband project is unreadable and Hyperband's brackets cannot be "
            "rebuilt from the trial files; start again with overwrite=True."
        )
    space = max(
        (t["hyperparameters"] for t in trials.values()),
        key=lambda h: len(h.get("space", [])),
        default={"space": [], "values": {}},
    )
    seed = base.get("seed") or 1
    base.update(
        {
            "ongoing_trials": {},
            "hyperparameters": {**space, "values": {}},
            "start_order": [],
            "end_order": [],
            "run_times": {},
            "retry_queue": [],
            "seed": seed,
            # The draws of the lost state cannot be replayed: continue far from them (duplicates of
            # earlier values are still refused through tried_so_far).
            "seed_state": seed + 1_000_003 + 97 * len(trials),
            "tried_so_far": [],
            "id_to_hash": {},
            "display": {"search_start": None, "trial_start": {}, "trial_number": {}},
        }
    )
    return base


def _dedupe(ids, keep) -> list:
    seen, out = set(), []
    for tid in ids:
        if tid in keep and tid not in seen:
            seen.add(tid)
            out.append(tid)
    return out


def _reconcile(state: dict, trials: dict, summary: dict) -> dict:
    """Make the oracle state agree with the trial files (which are written first, so they are the truth)."""
    ids = sorted(trials, key=lambda t: (len(t), t))
    if "seed_state" in state and any(t not in state["start_order"] for t in ids):
        # Trials the state never saw were drawn after it was saved: move the random state past
        # those draws (else each is redrawn, refused as a duplicate, and counts as a collision).
        state["seed_state"] = int(state["seed_state"]) + 10_007 * len(ids)
    done = {t for t in ids if trials[t]["status"] in TERMINAL}
    running = [t for t in ids if t not in done]
    ongoing = {k: t for k, t in state["ongoing_trials"].items() if t in trials and t not in done}
    summary["finished_not_rerun"] = sorted(set(state["ongoing_trials"].values()) & done)
    end = list(state["end_order"])
    state["end_order"] = _dedupe(end + [t for t in ids if t in done], done)
    summary["duplicate_end_entries"] = len(end) - len(_dedupe(end, set(end)))
    state["start_order"] = _dedupe(list(state["start_order"]) + ids, set(ids))
    queue = _dedupe(state["retry_queue"], set(running) - set(ongoing.values()))
    orphans = [t for t in running if t not in queue and t not in ongoing.values()]
    summary["requeued"] = orphans
    state["retry_queue"] = queue + orphans
    state["ongoing_trials"] = ongoing
    hashes = {t: values_hash(trials[t]["hyperparameters"].get("values", {})) for t in ids}
    state["tried_so_far"] = sorted(set(state["tried_so_far"]) | set(hashes.values()))
    state["id_to_hash"] = {
        **{k: h for k, h in state["id_to_hash"].items() if k in trials},
        **hashes,
    }
    state["run_times"] = {k: n for k, n in state["run_times"].items() if k in trials}
    return state


def repair_project(project_dir: str, oracle=None) -> dict:
    """Make a KerasTuner project directory consistent before it is resumed.

    Parameters
    ----------
    project_dir : str
        ``directory/project_name``.
    oracle : keras_tuner Oracle, optional
        The oracle that will resume the project; used only to rebuild the
        oracle-specific part of an unreadable ``oracle.json``.

    Returns
    -------
    dict
        What was done: ``rebuilt`` (oracle.json was empty or corrupt),
        ``requeued`` (orphaned RUNNING trials queued to run again),
        ``finished_not_rerun`` (finished trials the stale oracle would have
        run again), ``duplicate_end_entries``, ``lost`` (unreadable trial
        files, possible only without atomic writes).
    """
    summary = {
        "rebuilt": False,
        "requeued": [],
        "finished_not_rerun": [],
        "duplicate_end_entries": 0,
        "lost": [],
    }
    if not isinstance(project_dir, (str, os.PathLike)):
        raise TypeError(f"project_dir must be a path; got {project_dir!r}.")
    if oracle is not None and not isinstance(oracle, keras_tuner.Oracle):
        raise TypeError(f"oracle must be a KerasTuner Oracle or None; got {type(oracle).__name__}.")
    project_dir = os.fspath(project_dir)
    oracle_path = os.path.join(project_dir, "oracle.json")
    if os.path.exists(project_dir) and not os.path.isdir(project_dir):
        raise NotADirectoryError(
            f"the project folder {project_dir!r} is a file, not a folder: move it away or choose "
            f"another directory/project_name."
        )
    if not os.path.isdir(project_dir):
        return summary
    trials = _load_trials(project_dir, summary)
    if not trials and not os.path.exists(oracle_path):
        return summary
    state = _read_json(oracle_path)
    tuner_file = os.path.join(
        project_dir, f"{os.environ.get('KERASTUNER_TUNER_ID', 'tuner0')}.json"
    )
    valid = isinstance(state, dict) and all(
        isinstance(state.get(k), t) for k, t in ORACLE_KEYS.items()
    )
    if not valid and not trials:
        # Nothing was recorded: start afresh (a rebuilt state would have an empty search space).
        for path in (oracle_path, tuner_file):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        summary["rebuilt"] = True
        warnings.warn(
            f"the KerasTuner project {project_dir!r} had an unreadable oracle.json and no "
            f"trials: starting it afresh",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
        return summary
    if not valid:
        state = _rebuild_state(trials, oracle)
        summary["rebuilt"] = True
    write_json_atomic(oracle_path, _reconcile(state, trials, summary))
    if not isinstance(
        _read_json(tuner_file), dict
    ):  # missing or truncated: KerasTuner then would not resume
        write_json_atomic(tuner_file, {})
    if summary["rebuilt"] or summary["lost"]:
        warnings.warn(
            f"repaired the KerasTuner project {project_dir!r}: {summary}",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
    return summary


@contextlib.contextmanager
def safe_project(directory, project_name, hypermodel=None, oracle=None, overwrite: bool = False):
    """Run a stock KerasTuner tuner crash-safely on ``directory/project_name``.

    On entry: takes the writer lock, and unless ``overwrite`` checks the
    fingerprint of ``hypermodel`` (space and data) and repairs the project;
    while active: atomic writes. Use the same ``overwrite`` for the tuner::

        with safe_project("runs", "fkl", hypermodel):
            tuner = kt.RandomSearch(hypermodel, ..., directory="runs", project_name="fkl")
            tuner.search()
    """
    for value, name in ((directory, "directory"), (project_name, "project_name")):
        if not isinstance(value, (str, os.PathLike)):
            raise TypeError(f"{name} must be a path; got {value!r}.")
    if not isinstance(overwrite, bool):
        raise TypeError(f"overwrite must be True or False; got {overwrite!r}.")
    if hypermodel is not None and not (
        isinstance(hypermodel, keras_tuner.HyperModel) or callable(hypermodel)
    ):
        raise TypeError(
            f"hypermodel must be a KerasTuner HyperModel, a build function or None; "
            f"got {type(hypermodel).__name__}."
        )
    project_dir = os.path.join(os.fspath(directory), os.fspath(project_name))
    if os.path.exists(project_dir) and not os.path.isdir(project_dir):
        raise NotADirectoryError(
            f"the project folder {project_dir!r} is a file, not a folder: move it away or choose "
            f"another directory/project_name."
        )
    fp = (
        hypermodel.fingerprint()
        if hypermodel is not None and hasattr(hypermodel, "fingerprint")
        else None
    )
    with project_lock(project_dir), atomic_writes():
        if overwrite and os.path.isdir(project_dir):
            shutil.rmtree(project_dir)
        if fp is not None:
            check_fingerprint(project_dir, fp)
            write_fingerprint(project_dir, fp)
        repair_project(project_dir, oracle)
        yield project_dir
