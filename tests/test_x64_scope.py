"""Importing fairkl changes no process-wide JAX setting; its float64 work runs in a scoped x64 context.

The references are independent of the code under test: scikit-learn's ``KernelRidge`` (a
dense float64 solve in SciPy), the same fit with the user's global ``jax_enable_x64`` on,
and a fresh interpreter for what ``import fairkl`` leaves behind (one per user setting, shared
by the checks that need it).
"""

import os
import subprocess
import sys
import textwrap
import threading

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.kernel_ridge import KernelRidge

import fairkl
from fairkl import _backend
from fairkl.datasets import make_seed_data


def user_mode(flag: bool):
    """A user's own JAX setting, thread-local (the session runs inside fairkl's scope: see conftest)."""
    scoped = getattr(jax, "enable_x64", None)
    if scoped is not None:
        return scoped(flag)
    from jax.experimental import enable_x64  # JAX 0.4.30

    return enable_x64(flag)


@pytest.fixture
def user_default():
    """JAX as a user who never touched it has it: 64-bit mode off."""
    with user_mode(False):
        assert not jax.config.jax_enable_x64
        yield


@pytest.fixture(scope="module")
def data():
    X, y, q = make_seed_data(n=90, seed=4)
    return X[:70], y[:70], q[:70], X[70:]


def assert_user_setting(flag: bool):
    assert bool(jax.config.jax_enable_x64) is flag
    assert jnp.ones(3).dtype == (np.float64 if flag else np.float32)


# ------------------------------------------------------------------ the helper itself
def test_scope_turns_x64_on_inside_and_restores_it_even_on_error(user_default):
    seen = []

    @_backend.x64_scope
    def inside(fail):
        seen.append((bool(jax.config.jax_enable_x64), jnp.ones(2).dtype))
        if fail:
            raise ValueError("boom")
        return jnp.asarray(np.float64(1) / 3)

    out = inside(False)
    assert out.dtype == np.float64 and float(out) == 1 / 3  # exact in float64, not in float32
    with pytest.raises(ValueError, match="boom"):
        inside(True)
    assert seen == [(True, np.float64)] * 2
    assert_user_setting(False)


def test_scope_keeps_a_user_setting_of_true():
    with user_mode(True):
        _backend.x64_scope(lambda: None)()
        assert_user_setting(True)


def test_scope_is_thread_local(user_default):
    """While one thread computes inside the scope, another thread keeps the user's setting."""
    entered, release, other = threading.Event(), threading.Event(), []

    @_backend.x64_scope
    def hold():
        entered.set()
        release.wait(30)

    t = threading.Thread(target=hold)
    t.start()
    assert entered.wait(30)

    def look():
        with user_mode(False):
            other.append(jnp.ones(1).dtype)

    u = threading.Thread(target=look)
    u.start()
    u.join(30)
    release.set()
    t.join(30)
    assert other == [np.float32]
    assert_user_setting(False)


def test_opt_out_variable_makes_the_scope_a_no_op(user_default, monkeypatch):
    monkeypatch.setenv(_backend.X64_ENV, "0")
    assert _backend.x64_scope(lambda: bool(jax.config.jax_enable_x64))() is False
    monkeypatch.setenv(_backend.X64_ENV, "1")
    assert _backend.x64_scope(lambda: bool(jax.config.jax_enable_x64))() is True


def test_x64_methods_wraps_own_inherited_class_and_static_methods(user_default):
    flag = lambda: bool(jax.config.jax_enable_x64)  # noqa: E731

    class Base:
        def inherited(self):
            return flag()

    @_backend.x64_methods("own", "inherited", "build", "helper")
    class Child(Base):
        def own(self, a, *, b=2):
            """Doc kept."""
            return flag(), a, b

        @classmethod
        def build(cls):
            return cls, flag()

        @staticmethod
        def helper(x):
            return x, flag()

    c = Child()
    assert c.own(1, b=3) == (True, 1, 3) and Child.own.__doc__ == "Doc kept."
    assert c.inherited() is True and Base().inherited() is False  # the base class is untouched
    assert Child.build() == (Child, True) and c.build() == (Child, True)
    assert Child.helper(5) == (5, True) and c.helper(5) == (5, True)
    assert _backend.x64_methods("own")(Child) is Child  # idempotent: not wrapped twice
    with pytest.raises(AttributeError, match="has no method 'nope'"):
        _backend.x64_methods("nope")(Child)


# ------------------------------------------------------- the public entry points
def test_fit_predict_call_leave_the_user_setting_and_match_kernel_ridge(user_default, data):
    X, y, _, Xn = data
    m = fairkl.FairKernelRidge(sigma=1.3, lam=0.05, dtype="float64").fit(X, y)
    pred = m.predict(Xn)
    assert_user_setting(False)
    ref = KernelRidge(kernel="rbf", gamma=1 / (2 * 1.3**2), alpha=0.05).fit(X, y)
    assert pred.dtype == np.float64
    np.testing.assert_allclose(pred, ref.predict(Xn), rtol=1e-9, atol=1e-11)
    assert all(w.dtype in (np.float64, np.int64) for w in m.get_weights())
    out = m(Xn)  # a float64 tensor, made inside the scope
    assert out.dtype == np.float64
    np.testing.assert_array_equal(np.asarray(out), pred)
    assert_user_setting(False)


def test_scoped_results_equal_those_under_a_global_x64(user_default, data):
    """The CKA fit, the μ-path, the scikit-learn estimator and hsic_test: identical either way."""
    X, y, q, Xn = data

    def run():
        m = fairkl.FairKernelRidge(1.3, 0.05, 2.0, dtype="float64").fit(X, y, q=q)
        path = m.mu_path(X, y, q, [0.0, 1.0, 10.0]).predict(Xn)
        est = fairkl.FairKernelRidgeRegressor(sigma=1.3, lam=0.05, mu=2.0, dtype="float64")
        sk = est.fit(X, y, sensitive_features=q).predict(Xn)
        test = fairkl.metrics.hsic_test(m.predict(X), q, n_permutations=99, random_state=0)
        return m.predict(Xn), path, sk, np.array([test.statistic, test.pvalue])

    scoped = run()
    assert_user_setting(False)
    with user_mode(True):
        globally = run()
    for a, b in zip(scoped, globally, strict=True):
        assert a.dtype == np.float64
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    # The μ-path at μ = 0 is kernel ridge regression: checked against scikit-learn.
    ref = KernelRidge(kernel="rbf", gamma=1 / (2 * 1.3**2), alpha=0.05).fit(X, y)
    np.testing.assert_allclose(scoped[1][0], ref.predict(Xn), rtol=1e-9, atol=1e-11)


def test_metrics_and_dependence_leave_the_user_setting(user_default, data):
    X, y, q, _ = data
    ys = fairkl.metrics.Yardstick.from_data(y, q)
    value = ys.score(y + 0.1 * q.ravel(), q)
    cka = fairkl.dependence.cka_rbf(np.asarray(y).reshape(-1, 1), q, 1.0, 1.0)
    assert_user_setting(False)
    assert 0.0 < value <= 1.0 and np.asarray(cka).dtype == np.float64


def test_a_search_leaves_the_user_setting(user_default, data, tmp_path):
    import keras_tuner as kt

    from fairkl.tuning import BatchedTuner, FairKernelRidgeHyperModel

    X, y, q, _ = data
    hm = FairKernelRidgeHyperModel(X[:50], y[:50], q[:50], X[50:], y[50:], q[50:])
    oracle = kt.oracles.RandomSearchOracle(
        objective=kt.Objective("val_mse", "min"), max_trials=2, seed=0
    )
    tuner = BatchedTuner(hm, oracle, directory=tmp_path, project_name="p")
    tuner.search()
    assert_user_setting(False)
    assert len(tuner.oracle.trials) == 2


# ------------------------------------------------------------- a fresh interpreter
# One fresh interpreter per user setting serves the three checks below (each pays ~3.5 s of CPU
# importing jax, keras and fairkl): JAX's default (``scoped``: fairkl's own scope) and the
# user's global ``jax_enable_x64`` set before importing fairkl (``global``). Each prints one
# line per check: the setting right after the import, the programs lowered by two fits, the
# setting after them. Nothing makes a JAX array before the fits are counted (an array made
# first can compile a program a fit then reuses, and the counts would differ by mode for that
# reason alone): right after the import the default float dtype is read from
# ``jax.dtypes.canonicalize_dtype``, the rule ``jnp.ones`` follows, and after the fits from
# ``jnp.ones(3)`` itself. The counts are lowerings (jit cache misses), which JAX's persistent
# compilation cache does not change (it only skips XLA's compile of a lowered module).
FRESH = """
    import sys, jax
    if sys.argv[1] == "global":
        jax.config.update("jax_enable_x64", True)
    import fairkl, jax.numpy as jnp
    from jax._src import dispatch
    from fairkl.datasets import make_seed_data

    print("import", jax.config.jax_enable_x64, jax.dtypes.canonicalize_dtype(float), flush=True)
    lowered = []
    def listener(event, duration, **kwargs):
        if event == dispatch.JAXPR_TO_MLIR_MODULE_EVENT:  # one per jit cache miss
            lowered.append(event)
    jax.monitoring.register_event_duration_secs_listener(listener)
    X, y, q = make_seed_data(n=60, seed=1)
    counts = []
    for _ in range(2):
        m = fairkl.FairKernelRidge(1.0, 0.1, 1.0, dtype="float64").fit(X, y, q=q)
        p = m.predict(X)
        counts.append(len(lowered))
    print("compiles", counts[0], counts[1], repr(p.tolist()), flush=True)
    print("fit", jax.config.jax_enable_x64, jnp.ones(3).dtype, flush=True)
"""


@pytest.fixture(scope="module")
def fresh() -> dict:
    """mode -> (return code, {check: its printed words}, stderr) of a fresh interpreter."""
    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "JAX_ENABLE_X64")}
    procs = {
        mode: subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(FRESH), mode],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for mode in ("scoped", "global")
    }
    out = {}
    for mode, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        lines = dict(line.split(maxsplit=1) for line in stdout.splitlines() if line.strip())
        out[mode] = (proc.returncode, lines, stderr[-3000:])
    return out


def test_import_and_a_fit_leave_a_fresh_process_as_jax_made_it(fresh):
    code, lines, stderr = fresh["scoped"]
    assert lines.get("import") == "False float32", (lines, stderr)  # import fairkl changed nothing
    assert code == 0, stderr
    assert lines.get("fit") == "False float32", (lines, stderr)  # nor did a CKA fit + predict


def test_a_user_who_turned_x64_on_keeps_it(fresh):
    code, lines, stderr = fresh["global"]
    assert code == 0, stderr
    assert lines.get("import") == "True float64", lines
    assert lines.get("fit") == "True float64", lines


def test_the_scope_compiles_no_more_programs_than_a_global_x64(fresh):
    """JAX keys compiled programs on the x64 flag: the scope must not add a second set."""
    out = {}
    for mode in ("scoped", "global"):
        code, lines, stderr = fresh[mode]
        assert code == 0, stderr
        first, second, pred = lines["compiles"].split(maxsplit=2)
        out[mode] = (int(first), int(second), np.array(eval(pred)))
    assert out["scoped"][0] == out["global"][0] > 0, out
    assert out["scoped"][1] == out["scoped"][0]  # the second fit + predict compiles nothing
    np.testing.assert_allclose(out["scoped"][2], out["global"][2], rtol=1e-12, atol=1e-12)


def test_user_stacklevel_points_warnings_past_fairkls_frames_and_wrappers():
    import warnings

    from fairkl import models

    # A function compiled as if it were a file of the package: its frames count as fairkl's.
    inner_src = (
        "import warnings\n"
        "from fairkl._backend import user_stacklevel, x64_scope\n"
        "@x64_scope\n"
        "def outer():\n"
        "    return inner()\n"
        "def inner():\n"
        "    warnings.warn('w', UserWarning, stacklevel=user_stacklevel())\n"
    )
    namespace: dict = {}
    exec(compile(inner_src, models.__file__, "exec"), namespace)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        namespace["outer"]()  # this line is the one the warning must name
        line = sys._getframe().f_lineno - 1
    assert [(w.filename, w.lineno) for w in caught] == [(__file__, line)]
