"""The workflow as Snakemake reads it, and the repository's files, for tests that need them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# Snakemake's API parses the Snakefile as `snakemake` would, in a fresh process (the parse
# sets os.environ). The rules are read through a private attribute: Snakemake has no public
# accessor for a parsed rule's container image.
PARSE = """
import json, os, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, ResourceSettings, StorageSettings
os.environ.pop("DGEFLOW_SOURCE", None)
with SnakemakeApi() as api:
    workflow = api.workflow(
        resource_settings=ResourceSettings(cores=1),
        config_settings=ConfigSettings(config=json.loads(sys.argv[2])),
        storage_settings=StorageSettings(),
        snakefile=Path(sys.argv[1]),
        workdir=Path("."),
    )
    images = {rule.name: rule.container_img for rule in workflow._workflow.rules}
    print("PARSED=" + json.dumps({"images": images, "env": dict(os.environ)}))
"""


def parse_workflow(snakefile: Path, cwd: Path, config: dict | None = None) -> dict:
    """``{"images": {rule: container image}, "env": os.environ after the parse}``."""
    proc = subprocess.run(
        [sys.executable, "-c", PARSE, str(snakefile), json.dumps(config or {})],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("PARSED="))
    return json.loads(line.removeprefix("PARSED="))


def copy_tracked_files(dest: Path) -> Path:
    """The repository's tracked files as they are in the work tree (so uncommitted changes
    are what is tested), without .venv, results or caches."""
    names = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, names.split("\0")):
        source = REPO_ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).write_bytes(source.read_bytes())
            (dest / name).chmod(source.stat().st_mode)
    return dest
