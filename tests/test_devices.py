"""One engine per GPU under xdist (capability_tests.devices), without a GPU: the environment and
the machine's device count are parameters."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from capability_tests.devices import (
    DeviceError,
    check_workers,
    count_nvidia_gpus,
    devices_per_engine,
    engines_that_fit,
    visible_devices,
    worker_devices,
    worker_index,
)


def test_without_a_user_setting_every_gpu_of_the_machine_is_visible():
    assert visible_devices({}, machine_count=4) == ["0", "1", "2", "3"]
    assert visible_devices({}, machine_count=0) == []


def test_a_user_setting_is_respected_as_written():
    env = {"CUDA_VISIBLE_DEVICES": "3, 5,GPU-8f2a"}
    assert visible_devices(env, machine_count=8) == ["3", "5", "GPU-8f2a"]
    assert visible_devices({"CUDA_VISIBLE_DEVICES": ""}, machine_count=8) == []


def test_worker_i_gets_the_i_th_visible_device():
    visible = visible_devices({"CUDA_VISIBLE_DEVICES": "2,3,6,7"})
    assert [worker_devices(i, 4, visible, 1) for i in range(4)] == [["2"], ["3"], ["6"], ["7"]]
    assert [worker_devices(i, 2, visible, 1) for i in range(2)] == [["2"], ["3"]]


def test_tensor_parallelism_gives_each_worker_a_group_of_devices():
    per_engine = devices_per_engine({"tensor_parallel_size": "2"})
    visible = [str(i) for i in range(8)]
    assert engines_that_fit(visible, per_engine) == 4
    assert [worker_devices(i, 4, visible, per_engine) for i in range(4)] == [
        ["0", "1"], ["2", "3"], ["4", "5"], ["6", "7"]]
    assert devices_per_engine({"tensor_parallel_size": 2, "pipeline_parallel_size": 2}) == 4
    assert devices_per_engine({}) == 1


def test_more_workers_than_gpus_is_a_usage_error_naming_n():
    with pytest.raises(DeviceError, match=r"-n 3: .*needs 3 GPUs; 2 visible .*Use -n 2"):
        check_workers(3, ["0", "1"], 1)
    with pytest.raises(DeviceError, match=r"-n 2: .*needs 2 x 4 GPUs; 4 visible.*tensor_parallel"):
        worker_devices(0, 2, ["0", "1", "2", "3"], 4)


def test_no_gpu_leaves_the_workers_on_the_cpu():
    check_workers(8, [], 1)  # CPU engines: nothing to divide
    assert worker_devices(5, 8, [], 1) == []


def test_bad_parallel_sizes_are_named():
    with pytest.raises(DeviceError, match="tensor_parallel_size='two'"):
        devices_per_engine({"tensor_parallel_size": "two"})
    with pytest.raises(DeviceError, match="pipeline_parallel_size=0"):
        devices_per_engine({"pipeline_parallel_size": 0})


@given(gpus=st.integers(1, 16), per_engine=st.integers(1, 4), data=st.data())
def test_workers_that_fit_get_disjoint_groups_of_the_right_size(gpus, per_engine, data):
    visible = [f"GPU-{i}" for i in range(gpus)]
    fit = engines_that_fit(visible, per_engine)
    if fit == 0:
        with pytest.raises(DeviceError):
            check_workers(1, visible, per_engine)
        return
    workers = data.draw(st.integers(1, fit))
    groups = [worker_devices(i, workers, visible, per_engine) for i in range(workers)]
    flat = [d for g in groups for d in g]
    assert all(len(g) == per_engine for g in groups) and len(set(flat)) == len(flat)
    assert set(flat) <= set(visible)


def test_worker_ids_and_the_driver_count(tmp_path):
    assert worker_index("gw0") == 0 and worker_index("gw12") == 12
    with pytest.raises(DeviceError):
        worker_index("master")
    for bus in ("0000:01:00.0", "0000:41:00.0"):
        (tmp_path / bus).mkdir()
    assert count_nvidia_gpus(tmp_path) == 2
    assert count_nvidia_gpus(tmp_path / "missing") == 0
