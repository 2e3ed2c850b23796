"""A plain, non-editable install carries the shipped fixtures and runs outside the repo."""

import json
import os
import subprocess
import sys
import sysconfig
import venv

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_and_runs_outside_the_repo(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels),
                    str(REPO)], check=True, capture_output=True, timeout=600)
    (wheel,) = wheels.glob("wxshop-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], check=True, capture_output=True, text=True
                          ).stdout.strip()
    # The fresh venv sees this environment's dependencies (not the checkout) through a .pth.
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (tmp_path / "venv-site").mkdir()
    with open(os.path.join(site, "outer-deps.pth"), "w") as handle:
        handle.write("\n".join(sorted(deps)) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", site,
                    str(wheel)], check=True, capture_output=True, timeout=600)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["WXSHOP_HOME"] = str(tmp_path / "home")

    def run(*args):
        return subprocess.run([str(python), *args], cwd=outside, env=env, capture_output=True,
                              text=True, timeout=120)

    where = run("-c", "import wxshop_cli, sys; print(wxshop_cli.__file__)")
    assert where.returncode == 0, where.stderr
    assert where.stdout.startswith(site), where.stdout  # the installed copy, not the checkout
    regions = run("-m", "wxshop_cli", "--json", "regions")
    assert regions.returncode == 0, regions.stderr
    assert len(json.loads(regions.stdout)) == 34
    shipped = run("-c", "from wxshop_cli.resources import fixtures_dir; d = fixtures_dir(); "
                        "print(d); print(sorted(p.name for p in d.iterdir()))")
    assert shipped.returncode == 0, shipped.stderr
    assert shipped.stdout.splitlines()[0].startswith(site)
    for name in ("regions.json", "bins.csv"):
        assert name in shipped.stdout
