"""The site build the site tests share: this version's file names and one strict Jupyter Book build."""

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
WHEEL, SDIST, ZIP = (
    f"fairkl-{VERSION}-py3-none-any.whl",
    f"fairkl-{VERSION}.tar.gz",
    f"fairkl-{VERSION}-notebooks.zip",
)
PAGES = sorted(p.stem for p in (ROOT / "book").glob("*.py"))  # every notebook page


def build_site(source: Path, out: Path, repo_url: str = "", **variables: str) -> Path:
    """``jupyter-book build`` of ``source`` into ``out`` (strict), without executing pages: the HTML folder."""
    # Pages are not executed here (book/_ext/execution_switch.py): nbval executes and checks
    # every notebook in the same `make test`, and the checks below only read the HTML. The zip
    # of notebooks therefore carries them without outputs (its README says so);
    # test_the_site_alone_installs_fairkl_and_runs_a_page executes one of them.
    env = dict(
        os.environ, FAIRKL_REPO_URL=repo_url, PYTHONPATH=str(ROOT), FAIRKL_BOOK_EXECUTE="off"
    )
    env.pop("FAIRKL_SITE_URL", None)
    env.pop("FAIRKL_DIST_DIR", None)
    env.update(variables)
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run([str(jupyter_book), "build", str(source), "--path-output", str(out), "-W", "-n",
                             "--keep-going"], env=env, capture_output=True, text=True, timeout=1200)  # fmt: skip
    log = result.stdout + result.stderr
    (out / "build.log").write_text(log)
    errors = [line for line in log.splitlines() if re.search(r"(Error|WARNING|Timeout)\b", line)]
    assert result.returncode == 0, "\n".join(errors[:40]) + f"\nfull log: {out / 'build.log'}"
    return out / "_build" / "html"


def shared_full_site(tmp_path_factory) -> Path:
    """The whole book built once per test run (no repository), shared by pytest-xdist's workers.

    Under xdist the first worker to ask builds it into the run's common temporary folder while
    holding a file lock; the other waits for that build instead of making its own.
    """
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return build_site(ROOT, tmp_path_factory.mktemp("book"))
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp().parent
    out, done = shared / "full_site", shared / "full_site.done"
    with FileLock(str(shared / "full_site.lock")):
        if not done.exists():
            out.mkdir(exist_ok=True)
            build_site(ROOT, out)
            done.touch()
    return out / "_build" / "html"
