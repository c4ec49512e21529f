"""The route with no repository, end to end: fairkl installed from the site's wheel into a new
virtual environment and one page of the site's zip run there (tests/test_site.py checks the site
itself; this test is a file of its own so that pytest-xdist runs it beside those).
"""

import os
import re
import subprocess
import sys

import pytest

from tests.site_build import PAGES, WHEEL, ZIP
from tests.test_packaging import SMOKE  # the wheel's smoke test

#: Read by tests/conftest.py to start this file first (measured: 140-160 s at load 4-5, two pip
#: installs into a new virtual environment).
EXPECTED_SECONDS = 150

RUN_PAGE = """
import sys, time, nbformat
from nbclient import NotebookClient
notebook = nbformat.read(sys.argv[1], as_version=4)
notebook.cells.append(nbformat.v4.new_code_cell("import fairkl; print('FAIRKL', fairkl.__file__)"))
start = time.perf_counter()
NotebookClient(notebook, timeout=900, kernel_name="python3").execute()
print("SECONDS", time.perf_counter() - start)
# The kernel may send one print as several stream messages (it flushes on a timer): join them.
print("".join(o.get("text", "") for o in notebook.cells[-1].outputs if o.get("name") == "stdout"))
"""


@pytest.mark.slow
def test_the_site_alone_installs_fairkl_and_runs_a_page(full_site, tmp_path):
    """The route with no repository: the wheel from the site into a new virtual environment
    (no system site-packages; pip takes the dependencies from its configured index and its
    cache), the zip unpacked, one page executed there by the environment's own kernel, and
    JupyterLab of that environment serving the folder with jupytext and jupyterlab-myst."""
    import json
    import socket
    import time
    import urllib.request
    import zipfile

    downloads = full_site / "_static" / "downloads"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "KERAS_BACKEND", "VIRTUAL_ENV")
    }
    start = time.perf_counter()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bin_ = venv / "bin"
    # First the wheel alone: its core dependencies suffice to import, fit and load the data
    # (test_packaging.SMOKE, against scikit-learn); then the notebooks extra for the page.
    # --no-compile: pip would byte-compile every module of every dependency (jax, scipy,
    # JupyterLab...); Python compiles the ones this test imports when it imports them. The two
    # installs: 49 -> 27 s; the whole test only ~3 s less (the imports below pay the rest).
    # What is installed is the same.
    pip = [str(bin_ / "python"), "-m", "pip", "install", "--quiet", "--no-compile",
           "--disable-pip-version-check"]  # fmt: skip
    result = subprocess.run([*pip, str(downloads / WHEEL)], check=False, env=env,
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    result = subprocess.run(
        [str(bin_ / "python"), "-c", SMOKE], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert (
        result.returncode == 0 and result.stdout.startswith("ok") and str(venv) in result.stdout
    ), result.stderr[-3000:]
    result = subprocess.run([*pip, f"{downloads / WHEEL}[notebooks]"], check=False, env=env,
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    installed = time.perf_counter()
    zipfile.ZipFile(downloads / ZIP).extractall(tmp_path)
    folder = tmp_path / ZIP.removesuffix(".zip")
    # Three independent processes of the new environment run side by side: JupyterLab starting
    # (~5 s of CPU before it answers), the listing of its extensions, and the page. Neither of
    # the first two waits for the page any more; each is still checked on its own.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    root = ["--allow-root"] if os.geteuid() == 0 else []
    lab = subprocess.Popen([str(bin_ / "jupyter"), "lab", "--no-browser", f"--port={port}", "--ServerApp.port_retries=0",
                            "--IdentityProvider.token=t", *root], cwd=folder, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    listing_extensions = subprocess.Popen([str(bin_ / "jupyter"), "labextension", "list"], env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    page = "part3_fairkl_api"  # one of the quicker pages
    try:
        result = subprocess.run([str(bin_ / "python"), "-c", RUN_PAGE, f"{page}.ipynb"], check=False, cwd=folder,
                                env=env, capture_output=True, text=True, timeout=1800)  # fmt: skip
        ran = time.perf_counter()
        assert result.returncode == 0, result.stderr[-3000:]
        # fairkl in the kernel is the wheel's, not this tree's
        assert f"FAIRKL {venv}" in result.stdout, result.stdout[-2000:]

        extensions = listing_extensions.communicate(timeout=300)[1]
        assert re.search(r"jupyterlab-myst v\S+ \S*enabled", extensions), extensions
        assert re.search(r"jupyterlab-jupytext v\S+ \S*enabled", extensions), extensions

        listing, deadline = None, time.monotonic() + 120
        while listing is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/contents?token=t", timeout=5
                ) as answer:
                    listing = json.load(answer)
            except OSError:
                assert lab.poll() is None, f"JupyterLab exited with code {lab.returncode}"
                time.sleep(0.1)
        assert listing is not None, "JupyterLab did not answer in 2 minutes"
        names = {item["name"] for item in listing["content"]}
        assert {f"{p}.ipynb" for p in PAGES} <= names
    finally:
        lab.terminate()
        lab.wait(timeout=60)
        if listing_extensions.poll() is None:
            listing_extensions.kill()
            listing_extensions.wait()
    print(f"install {installed - start:.0f} s, run {page} {ran - installed:.0f} s (JupyterLab "
          f"starting alongside), JupyterLab answered {time.perf_counter() - ran:.1f} s later")  # fmt: skip
