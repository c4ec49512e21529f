"""The CI and publishing workflows, Binder's environment and the local CI entry point."""

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def _load(name):
    return yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())


def test_workflows_validate_against_the_github_schema():
    # check-jsonschema bundles SchemaStore's schema of GitHub workflows: no network needed.
    checker = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run([str(checker), "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert {w.name for w in WORKFLOWS} == {"tests.yml", "book.yml"}


def test_tests_workflow_runs_make_test_on_both_pythons():
    flow = _load("tests.yml")
    assert {"push", "pull_request"} <= set(flow[True])  # YAML 1.1 reads the key "on" as True
    job = flow["jobs"]["test"]
    assert job["strategy"]["matrix"]["python-version"] == ["3.11", "3.12"]
    assert any(step.get("run", "").startswith("make test ") for step in job["steps"])
    assert any(
        step.get("run", "").startswith("make test-floor") for step in flow["jobs"]["floor"]["steps"]
    )


def test_book_workflow_takes_the_url_of_its_own_repository():
    flow = _load("book.yml")
    build = flow["jobs"]["build"]
    assert build["env"]["REPO_URL"] == "${{ github.server_url }}/${{ github.repository }}"
    runs = [step.get("run", "") for step in build["steps"]]
    assert any('make book PYTHON=python REPO_URL="$REPO_URL"' in r for r in runs)
    uses = [step.get("uses", "") for job in flow["jobs"].values() for step in job["steps"]]
    assert any(u.startswith("actions/upload-pages-artifact") for u in uses)
    assert any(u.startswith("actions/deploy-pages") for u in uses)
    assert flow["jobs"]["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}


def test_ci_entry_point_runs_the_readme_test_command():
    run = (ROOT / ".ci" / "run").read_text()
    assert "make test\n" in run and "make test-floor" in run
    assert "make test " in (ROOT / "README.md").read_text().replace("make test   #", "make test #")


def test_binder_installs_fairkl_with_jupytext_and_opens_py_pages_as_notebooks():
    post_build = (ROOT / "binder" / "postBuild").read_text()
    assert 'pip install --no-cache-dir ".[notebooks]"' in post_build
    import json
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert any(r.startswith("jupytext") for r in extras["notebooks"])
    assert any(r.startswith("jupyterlab") for r in extras["notebooks"])
    overrides = json.loads((ROOT / "binder" / "overrides.json").read_text())
    assert (
        overrides["@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]["python"]
        == "Jupytext Notebook"
    )
