"""The README's usage examples run as written (the VAE with fewer epochs)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_has_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, capsys):
    code = BLOCKS[index]
    if "VAEDensity" in code:
        pytest.importorskip("torch")
        code = code.replace("max_epochs=20", "max_epochs=2")
    exec(compile(code, f"README.md block {index}", "exec"), {})
    if "print(" in code:
        assert capsys.readouterr().out


def test_readme_does_not_rescale_data_already_in_the_unit_interval():
    # skmem.datasets.load_digits() is already in [0, 1].
    from skmem.datasets import load_digits

    X = load_digits()
    assert X.min() == 0 and X.max() == 1
    assert not re.search(r"load_digits\(\)[^\n]*/ *16", README.read_text())
