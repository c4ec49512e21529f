"""`make book`'s page runner (.ci/execute_pages.py): the environment its kernels get when pages
run side by side (the pages themselves are executed by nbval in the same `make test`)."""

from tests.conftest import page_runner


def test_side_by_side_pages_get_one_blas_and_one_xla_thread_unless_the_caller_chose():
    side_by_side = page_runner().side_by_side
    env = {}
    side_by_side(env)
    assert env == {
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false",
    }
    # the caller's own settings are kept; other XLA flags are extended, not replaced
    env = {"OPENBLAS_NUM_THREADS": "4", "XLA_FLAGS": "--xla_dump_to=/tmp/x"}
    side_by_side(env)
    assert env["OPENBLAS_NUM_THREADS"] == "4" and env["MKL_NUM_THREADS"] == "1"
    assert env["XLA_FLAGS"] == "--xla_dump_to=/tmp/x --xla_cpu_multi_thread_eigen=false"
    env = {"XLA_FLAGS": "--xla_cpu_multi_thread_eigen=true"}
    side_by_side(env)
    assert env["XLA_FLAGS"] == "--xla_cpu_multi_thread_eigen=true"
