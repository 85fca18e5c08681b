"""`worker_processes auto` and `worker_cpu_affinity`: nginx's syntax and assignment rules."""

from __future__ import annotations

import os

import pytest

from hotdeploy.config.loader import load_config
from hotdeploy.cpus import parse_affinity, usable_cores, worker_cpus
from hotdeploy.errors import ConfigError


def _load(tmp_path, main: str):
    path = tmp_path / "nginx.conf"
    path.write_text(main + "\nevents {}\n")
    return load_config(str(path), prefix=str(tmp_path))


def test_auto_is_the_usable_cores(tmp_path):
    assert _load(tmp_path, "worker_processes auto;").worker_processes == \
        len(os.sched_getaffinity(0))


def test_masks_bind_workers_in_order_and_the_last_repeats():
    affinity = parse_affinity(["0001", "0010", "1100"])
    usable = frozenset(range(4))
    assert [worker_cpus(affinity, n, usable) for n in range(4)] == \
        [{0}, {1}, {2, 3}, {2, 3}]


def test_auto_binds_one_usable_cpu_each_cycling_and_honours_a_limit():
    usable = frozenset({0, 1, 2})
    assert [worker_cpus("auto", n, usable) for n in range(4)] == [{0}, {1}, {2}, {0}]
    limited = parse_affinity(["auto", "0101"])
    assert [worker_cpus(limited, n, usable) for n in range(3)] == [{0}, {2}, {0}]
    assert worker_cpus((), 0, usable) is None


def test_config_errors_name_file_and_line(tmp_path):
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, "worker_processes 2;\nworker_cpu_affinity 01 2x;")
    assert 'invalid character "2x" in "worker_cpu_affinity"' in str(err.value)
    assert "nginx.conf:2" in str(err.value)
    with pytest.raises(ConfigError):
        _load(tmp_path, "worker_cpu_affinity 0000;")
    config = _load(tmp_path, "worker_processes 2;\nworker_cpu_affinity auto;")
    assert config.worker_cpu_affinity == "auto"
    assert usable_cores()
