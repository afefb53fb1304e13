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
