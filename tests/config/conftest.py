"""Helpers for the nginx configuration front-end tests: write a config under tmp_path, load
it, and (where nginx OSS supports the directives) ask the real nginx what it thinks."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from hotdeploy.config.loader import load_config
from hotdeploy.config.model import MainConfig

NGINX = "/usr/sbin/nginx"
SEED_DIR = Path(__file__).resolve().parents[1] / "data" / "seed_configs"


class ConfHelper:
    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "logs").mkdir(exist_ok=True)

    def write(self, text: str, name: str = "nginx.conf") -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def load(self, text: str, name: str = "nginx.conf", globals_: str | None = None) -> MainConfig:
        path = self.write(text, name)
        return load_config(str(path), prefix=str(self.root), globals_=globals_)

    def nginx_t(self, text: str) -> tuple[bool, str]:
        """(accepted, stderr) from the real `nginx -t` on the same text."""
        path = self.write(text, "real-nginx.conf")
        proc = subprocess.run(
            [NGINX, "-t", "-q", "-p", f"{self.root}/", "-e", "stderr", "-c", str(path)],
            capture_output=True, text=True, timeout=10,
        )
        return proc.returncode == 0, proc.stderr


@pytest.fixture
def conf(tmp_path: Path) -> ConfHelper:
    return ConfHelper(tmp_path)


@pytest.fixture
def real_nginx() -> str:
    """Skip the test when the real nginx (used only for comparison) is not installed."""
    if not (os.path.exists(NGINX) and shutil.which(NGINX)):
        pytest.skip("real nginx not installed")
    return NGINX
