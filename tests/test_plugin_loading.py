"""Where the plugin acts: only in sessions that run the suite (issue 10, "inert unless the suite
runs"). Installing capability-tests must change nothing in another project's pytest session.

These tests run pytest in a subprocess as an environment with capability-tests installed from
this tree would: every `pytest11` entry point of the environment's other packages is loaded, and
capability-tests' own ones as this tree's pyproject.toml declares them (the shared development
environment may still hold an older install's metadata, which declared one).
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys

import pytest
import tomllib

from fixtures.paths import REPO_ROOT, TESTS_DIR

HEAVY = ("torch", "vllm", "transformers", "datasets")


@functools.lru_cache(maxsize=1)
def _environment_plugins() -> tuple[str, ...]:
    """The pytest11 entry points (name, not ours) a fresh interpreter of this environment sees:
    asked in a subprocess, since this process's sys.path may have grown during the session (an
    import of setuptools adds its `_vendor` folder, whose vendored typeguard declares one)."""
    code = (
        "import importlib.metadata as m, json\n"
        "print(json.dumps([ep.name for ep in m.entry_points(group='pytest11')\n"
        "                  if ep.dist is None or ep.dist.name != 'capability-tests']))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=60, check=True)
    return tuple(json.loads(done.stdout))


def installed_plugin_args() -> list[str]:
    """`-p` arguments that load the pytest11 plugins of an environment where capability-tests is
    installed from this tree (autoloading is switched off so that stale metadata cannot add any)."""
    declared = (tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
                .get("project", {}).get("entry-points", {}).get("pytest11", {}))
    args: list[str] = []
    for name in _environment_plugins():
        args += ["-p", name]
    for module in declared.values():
        args += ["-p", module]
    return args


def run_installed(args: list[str], cwd, extra_env: dict | None = None,
                  timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", **(extra_env or {}))
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT), str(TESTS_DIR), env.get("PYTHONPATH", "")])
    for name in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "VLLM_LOGGING_LEVEL"):
        env.pop(name, None)  # set by the session running this test, not by the user
    return subprocess.run(
        [sys.executable, "-m", "pytest", *installed_plugin_args(), "-p", "no:cacheprovider",
         *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
    )


def test_pyproject_declares_no_pytest11_entry_point():
    """The mechanism itself: an entry point would load the plugin into every session."""
    data = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert "pytest11" not in data.get("project", {}).get("entry-points", {})


FOREIGN_CONFTEST = """
def pytest_addoption(parser):
    parser.addoption("--model", default="resnet", help="the foreign project's own model option")

def pytest_report_header(config):
    return [f"foreign dist={config.getoption('dist', 'none')}"]
"""

FOREIGN_TESTS = """
import os
import sys

SUITE_TRACES = ("capability_tests", "numpy", "sympy", "torch", "vllm", "transformers", "datasets")

def test_own_model_option(request):
    assert request.config.getoption("model") == "bert"

def test_nothing_of_the_suite_is_imported():
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in SUITE_TRACES)
    assert loaded == []

def test_environment_untouched():
    assert "VLLM_LOGGING_LEVEL" not in os.environ
"""


def test_foreign_project_with_its_own_model_option_runs_untouched(tmp_path):
    (tmp_path / "conftest.py").write_text(FOREIGN_CONFTEST)
    (tmp_path / "test_foreign.py").write_text(FOREIGN_TESTS)
    (tmp_path / "reports").mkdir()  # a store here would be opened by an active plugin
    done = run_installed(["--model", "bert", "-n", "2", "-v"], cwd=tmp_path)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "3 passed" in out
    assert "foreign dist=load" in out  # xdist's own default, not switched to loadgroup
    assert "capability" not in out.lower()
    assert list((tmp_path / "reports").iterdir()) == []

    helped = run_installed(["--help"], cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert "the foreign project's own model option" in helped.stdout
    for trace in ("capability", "--k ", "--engine", "--benchmarks", "--data-dir"):
        assert trace not in helped.stdout


@pytest.mark.slow
def test_documented_invocations_still_load_the_plugin(tmp_path):
    """`pytest ...` in the repository root (its conftest loads the plugin), with -k, -n 2 and
    --junitxml, and `pytest -p capability_tests.plugin --pyargs capability_tests.suite` from
    anywhere."""
    script = json.dumps({"demo/add": ["\\boxed{19}"]})
    env = {"FAKE_ENGINE_SCRIPT": script, "FAKE_ENGINE_LOG": str(tmp_path / "engine.jsonl")}
    common = ["--model=fake/model", "--engine=fixtures.fake_engine:FakeEngine", "--benchmarks=demo",
              "--store=none", f"--report-dir={tmp_path / 'reports'}"]
    root = run_installed([*common, "--k", "2", "-k", "add", "-n", "2",
                          f"--junitxml={tmp_path / 'junit.xml'}"], cwd=REPO_ROOT, extra_env=env)
    out = root.stdout + root.stderr
    assert root.returncode == 0, out
    assert "capability-tests: model=fake/model" in out and "k=2" in out
    assert "1 passed" in out
    assert (tmp_path / "junit.xml").is_file()
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    assert summary["benchmarks"]["demo"]["problems"] == 1

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    anywhere = run_installed(["-p", "capability_tests.plugin", "--pyargs", "capability_tests.suite",
                              *common, "--k=1", "-m", "demo", "-k", "add"],
                             cwd=elsewhere, extra_env=env)
    assert anywhere.returncode == 0, anywhere.stdout + anywhere.stderr
    assert "1 passed" in anywhere.stdout


def test_repository_own_tests_do_not_activate_the_plugin(tmp_path):
    """In the repository root the conftest loads the plugin, but a session that does not collect
    the suite gets no header and no xdist changes."""
    (tmp_path / "test_other.py").write_text("def test_one():\n    pass\n")
    done = run_installed([str(tmp_path / "test_other.py"), f"--rootdir={REPO_ROOT}"],
                         cwd=REPO_ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "capability-tests:" not in done.stdout


def test_model_path_after_a_space_outside_the_repository_is_a_usage_error(tmp_path):
    """pytest takes an existing path after a space for a test path while it looks for its
    configuration, so the root conftest is not loaded: pytest itself stops, naming --model
    (README: write --model=PATH)."""
    model = tmp_path / "ckpt"
    model.mkdir()
    done = run_installed(["--model", str(model), "--benchmarks=demo", "--collect-only"],
                         cwd=REPO_ROOT)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR
    assert "unrecognized arguments: --model" in done.stderr
    assert "Traceback" not in done.stderr


def test_collecting_the_six_benchmarks_imports_no_engine_or_hub_client(tmp_path, small_benchmarks):
    (tmp_path / "conftest.py").write_text(
        "import json, sys\n"
        "def pytest_sessionfinish(session):\n"
        f"    heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)\n"
        "    open('heavy.json', 'w').write(json.dumps(heavy))\n"
    )
    done = run_installed(["-p", "capability_tests.plugin", "--pyargs", "capability_tests.suite",
                          "--benchmarks=study", f"--data-dir={small_benchmarks}",
                          "--collect-only", "-q"], cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    counts = {name: done.stdout.count(f"[{name}/") for name in
              ("aime24", "amc23", "math500", "minerva_math", "olympiadbench", "gsm8k")}
    assert all(counts.values()), counts
    assert json.loads((tmp_path / "heavy.json").read_text()) == []


def test_importing_the_plugin_imports_no_heavy_library():
    """`--help`, `--collect-only` and a foreign session stay fast: the plugin and the options
    table import no sympy (grading), torch, vLLM, datasets or matplotlib until a run needs them."""
    code = ("import sys; import capability_tests.plugin, capability_tests.options; "
            "print(sorted(m for m in ('sympy', 'torch', 'vllm', 'datasets', 'matplotlib') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
