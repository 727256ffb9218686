import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def load_script(name: str):
    """Import ``scripts/<name>.py`` as a module (scripts are thin entry points, not a package)."""
    spec = importlib.util.spec_from_file_location(f"script_{name}", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def scripts():
    class Scripts:
        def __getattr__(self, name):
            return load_script(name)

    return Scripts()


# A training budget that exercises every part of the pipeline in seconds.
TINY = ["--num-envs", "8", "--policy", "tiny", "--no-progress", "--set", "ppo.n_steps=32",
        "--set", "ppo.batch_size=128", "--set", "ppo.n_epochs=1"]
