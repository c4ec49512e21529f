"""The writer lock of a KerasTuner project: an OS file lock through filelock, on every platform.

Contention is checked between real processes (the reference is the operating system's
lock, seen from another interpreter) and between threads of one process. The other interpreter
is one process shared by the module's tests (it tries, holds and releases on request), started
once; the tests that need a fresh interpreter (no fcntl) or a process to kill start their own.
"""

import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

from fairkl.tuning import ProjectLockedError, persistence

HOLD = """
    import sys
    from fairkl.tuning import persistence
    with persistence.project_lock(sys.argv[1]):
        print("locked", flush=True)
        sys.stdin.read()  # held until the parent closes stdin (or kills this process)
"""

# One other interpreter serves every check of this module: it tries, holds and releases the
# lock on request, one command per line on its stdin, one answer per line on its stdout.
# (Importing fairkl.tuning costs a fresh process ~3.5 s of CPU: one start instead of seven.)
OTHER = """
    import sys
    from fairkl.tuning import ProjectLockedError, persistence
    print("ready", flush=True)
    held = {}
    for line in sys.stdin:
        command, project = line.rstrip("\\n").split(" ", 1)
        if command == "try":  # take it and give it back at once
            try:
                persistence.release_lock(persistence.acquire_lock(project))
                print("free", flush=True)
            except ProjectLockedError as e:
                print("refused", str(e).replace("\\n", " "), flush=True)
        elif command == "hold":
            held[project] = persistence.project_lock(project)
            held[project].__enter__()
            print("locked", flush=True)
        elif command == "release":
            held.pop(project).__exit__(None, None, None)
            print("released", flush=True)
"""


def python(code, *args, **kwargs):
    return [sys.executable, "-c", textwrap.dedent(code), *args]


class OtherProcess:
    """Another interpreter, driven line by line (see ``OTHER``)."""

    def __init__(self):
        self.proc = subprocess.Popen(
            python(OTHER), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout.readline().strip() == "ready", "the other process did not start"

    def ask(self, command: str, project: str) -> str:
        self.proc.stdin.write(f"{command} {project}\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        assert answer, f"the other process died (exit code {self.proc.poll()})"
        return answer

    def close(self):
        self.proc.stdin.close()
        assert self.proc.wait(60) == 0


@pytest.fixture(scope="module")
def other():
    process = OtherProcess()
    yield process
    process.close()


def other_process_can_lock(other, project) -> bool:
    answer = other.ask("try", project)
    assert answer == "free" or answer.startswith("refused"), answer
    if answer.startswith("refused"):
        assert "in use by another process" in answer
    return answer == "free"


def hold_in_other_process(project):
    """A process of its own that holds the lock (to be killed: the module's other process is shared)."""
    holder = subprocess.Popen(
        python(HOLD, project), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_importable_where_fcntl_does_not_exist():
    """Windows has no fcntl: fairkl.tuning must import and lock there (filelock's soft lock here)."""
    code = """
        import sys, tempfile, os
        sys.modules["fcntl"] = None  # as on Windows: `import fcntl` raises ImportError
        from fairkl.tuning import persistence
        with persistence.project_lock(os.path.join(tempfile.mkdtemp(), "p")):
            print("ok")
    """
    r = subprocess.run(python(code), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[-1] == "ok"


def test_a_second_process_is_refused_until_the_first_releases(other, tmp_path):
    project = str(tmp_path / "p")
    with persistence.project_lock(project):
        assert not other_process_can_lock(other, project)
        with persistence.project_lock(project):  # re-entrant in this process
            assert not other_process_can_lock(other, project)
        assert not other_process_can_lock(other, project)  # still one hold left
    assert other_process_can_lock(other, project)


def test_this_process_is_refused_while_another_holds_it_and_gets_it_after(other, tmp_path):
    project = str(tmp_path / "p")
    assert other.ask("hold", project) == "locked"
    try:
        with pytest.raises(ProjectLockedError, match="in use by another process"):
            persistence.acquire_lock(project)
        assert persistence._lock_path(project) not in persistence._held
    finally:
        assert other.ask("release", project) == "released"  # released, the process still alive
    with persistence.project_lock(project):
        assert not other_process_can_lock(other, project)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signal")
def test_a_killed_holder_leaves_the_lock_free(tmp_path):
    project = str(tmp_path / "p")
    holder = hold_in_other_process(project)
    with pytest.raises(ProjectLockedError):
        persistence.acquire_lock(project)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(60)
    with persistence.project_lock(project):  # the OS released it with the process
        pass


def test_threads_share_one_hold_and_release_it_together(other, tmp_path):
    project = str(tmp_path / "p")
    path = persistence._lock_path(project)
    start, inside, errors = threading.Barrier(8), threading.Barrier(8), []

    def work():
        try:
            start.wait(30)
            with persistence.project_lock(project):
                inside.wait(30)  # all eight hold it at once
        except Exception as e:  # noqa: BLE001  (reported below)
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert path not in persistence._held  # the count went back to zero: released
    assert other_process_can_lock(other, project)
