"""Suite resolution: bundled names, folders, KernelBench levels, --problems ranges."""

from __future__ import annotations

from pathlib import Path

import pytest

from akg_agents.bench.suite import SUITES_DIR, load_suite, parse_problems, resolve_folder, select_files
from akg_agents.errors import ConfigError

TASK = (Path(__file__).parents[1] / "fixtures" / "tasks" / "relu_small.py").read_text()


def test_parse_problems() -> None:
    assert parse_problems("1-3,40") == [1, 2, 3, 40]
    assert parse_problems(" 5 , 2-2, 4-5 ") == [2, 4, 5]


@pytest.mark.parametrize("bad", ["", ",", "a", "3-1", "0", "1-", "-2", "1..4", "2-x"])
def test_bad_problems_raise_one_line_config_errors(bad: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_problems(bad)
    assert "\n" not in str(caught.value)


def test_bundled_suite_resolves_by_name() -> None:
    folder, tasks = load_suite("cpu_small")
    assert folder == SUITES_DIR / "cpu_small"
    assert len(tasks) == 21 and tasks[0].name == "01_relu"
    _, picked = load_suite("cpu_small", problems="2-3,21")
    assert [t.name for t in picked] == ["02_leaky_relu", "03_hardswish", "21_mse_loss"]


def test_kernelbench_checkout_layout(tmp_path: Path) -> None:
    level = tmp_path / "KernelBench" / "level1"
    level.mkdir(parents=True)
    for name in ("1_Relu.py", "2_Other.py", "10_Ten.py", "40_Forty.py"):
        (level / name).write_text(TASK)
    assert resolve_folder(str(tmp_path), 1) == level
    assert resolve_folder(str(tmp_path / "KernelBench"), 1) == level
    files = select_files(level, parse_problems("1-10,40"))
    assert [f.name for f in files] == ["1_Relu.py", "2_Other.py", "10_Ten.py", "40_Forty.py"]  # numeric order
    with pytest.raises(ConfigError, match="--level"):
        resolve_folder(str(tmp_path), None)
    with pytest.raises(ConfigError, match="level2"):
        resolve_folder(str(tmp_path), 2)
    with pytest.raises(ConfigError, match="selects no task"):
        select_files(level, [99])


def test_missing_suite_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        resolve_folder(str(tmp_path / "nope"), None)
    with pytest.raises(ConfigError, match="no task files"):
        select_files(tmp_path, None)
