"""The examples of docs/SCALING.md are checked by what installs here: the Kubernetes manifests
parse (PyYAML) and say what the doc says; the shell scripts pass shellcheck (when installed:
`apt-get install shellcheck`, as .ci/run does) and `bash -n`. Neither a cluster nor a GPU runs
them here (docs/SCALING.md says what was run)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "scaling"
SCRIPTS = sorted(EXAMPLES.glob("*.sh")) + sorted(EXAMPLES.glob("*.sbatch"))


def test_the_examples_exist():
    names = {p.name for p in EXAMPLES.iterdir()}
    assert {"slurm_shards.sbatch", "slurm_merge.sbatch", "kubernetes_indexed_job.yaml",
            "kubernetes_merge_job.yaml", "one_node_gpus.sh", "router_fleet.sh"} <= names


def test_the_indexed_job_runs_one_shard_per_index_and_the_merge_reads_them():
    yaml = pytest.importorskip("yaml")  # the test extra installs PyYAML
    (job,) = yaml.safe_load_all((EXAMPLES / "kubernetes_indexed_job.yaml").read_text())
    assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job"
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    script = " ".join(spec["template"]["spec"]["containers"][0]["args"])
    assert f'--shard "$JOB_COMPLETION_INDEX/{spec["completions"]}"' in script
    assert "/scratch/reports" in script and '"/results/shard-$JOB_COMPLETION_INDEX' in script
    (merge,) = yaml.safe_load_all((EXAMPLES / "kubernetes_merge_job.yaml").read_text())
    args = " ".join(merge["spec"]["template"]["spec"]["containers"][0]["args"])
    assert "capability-tests merge /results/shard-* --out /results/merged" in args


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_the_scripts_are_valid_bash(script):
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(shutil.which("shellcheck") is None,
                    reason="shellcheck is not installed (apt-get install shellcheck)")
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_the_scripts_pass_shellcheck(script):
    result = subprocess.run(["shellcheck", "--shell=bash", str(script)], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_slurm_shard_task_uses_the_array_index_and_count():
    text = (EXAMPLES / "slurm_shards.sbatch").read_text()
    assert '--shard "$INDEX/$COUNT"' in text and "SLURM_ARRAY_TASK_ID" in text
    assert "SLURM_ARRAY_TASK_COUNT" in text
    assert "capability-tests merge" in (EXAMPLES / "slurm_merge.sbatch").read_text()
