"""The writer lock of a KerasTuner project: an OS file lock through filelock, on every platform.

Contention is checked between real processes (the reference is the operating system's
lock, seen from another interpreter) and between threads of one process.
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

TRY = """
    import sys
    from fairkl.tuning import ProjectLockedError, persistence
    try:
        persistence.release_lock(persistence.acquire_lock(sys.argv[1]))
    except ProjectLockedError as e:
        print(e)
        sys.exit(3)
"""


def python(code, *args, **kwargs):
    return [sys.executable, "-c", textwrap.dedent(code), *args]


def other_process_can_lock(project) -> bool:
    r = subprocess.run(python(TRY, project), capture_output=True, text=True, timeout=120)
    assert r.returncode in (0, 3), r.stderr
    if r.returncode == 3:
        assert "in use by another process" in r.stdout
    return r.returncode == 0


def hold_in_other_process(project):
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


def test_a_second_process_is_refused_until_the_first_releases(tmp_path):
    project = str(tmp_path / "p")
    with persistence.project_lock(project):
        assert not other_process_can_lock(project)
        with persistence.project_lock(project):  # re-entrant in this process
            assert not other_process_can_lock(project)
        assert not other_process_can_lock(project)  # still one hold left
    assert other_process_can_lock(project)


def test_this_process_is_refused_while_another_holds_it_and_gets_it_after(tmp_path):
    project = str(tmp_path / "p")
    holder = hold_in_other_process(project)
    try:
        with pytest.raises(ProjectLockedError, match="in use by another process"):
            persistence.acquire_lock(project)
        assert persistence._lock_path(project) not in persistence._held
    finally:
        holder.communicate("")
    assert holder.returncode == 0
    with persistence.project_lock(project):
        assert not other_process_can_lock(project)


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


def test_threads_share_one_hold_and_release_it_together(tmp_path):
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
    assert other_process_can_lock(project)
