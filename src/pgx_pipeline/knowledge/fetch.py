"""Online source: a pinned PharmCAT release jar, checksum-verified, unpacked into a mirror folder.

The jar is a zip whose data files sit under `org/pharmgkb/pharmcat/`; stripping that prefix gives the
same layout as a local mirror, so the build reads both the same way.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import urllib.request
import zipfile
from pathlib import Path

from ..errors import PgxInputError

PREFIX = "org/pharmgkb/pharmcat/"
WANTED = ("definition/", "phenotype/", "reporter/")


def fetch_release(url: str, sha256: str, out_dir: str | Path) -> Path:
    if not sha256 or len(sha256) != 64:
        raise PgxInputError("knowledge.release.sha256 must be the 64-hex SHA-256 of the release artifact (pin it)")
    out_dir = Path(out_dir)
    with tempfile.TemporaryDirectory() as tmp:
        jar = Path(tmp) / "release.jar"
        try:
            with urllib.request.urlopen(url, timeout=120) as resp, jar.open("wb") as fh:
                shutil.copyfileobj(resp, fh)
        except OSError as exc:
            raise PgxInputError(f"could not download {url} ({exc}); offline? use knowledge.sources mirror folders") from exc
        digest = hashlib.sha256(jar.read_bytes()).hexdigest()
        if digest != sha256.lower():
            raise PgxInputError(f"checksum mismatch for {url}: got {digest}, pinned {sha256}; refusing to use it")
        return unpack_release(jar, out_dir)


def unpack_release(jar: Path, out_dir: Path) -> Path:
    staging = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    with zipfile.ZipFile(jar) as zf:
        for info in zf.infolist():
            if not info.filename.startswith(PREFIX) or info.is_dir():
                continue
            rel = info.filename[len(PREFIX):]
            if not rel.startswith(WANTED) or ".." in Path(rel).parts:
                continue
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst)
    if not (staging / "definition" / "alleles").is_dir():
        raise PgxInputError(f"{jar} holds no {PREFIX}definition/alleles: not a PharmCAT release jar")
    shutil.rmtree(out_dir, ignore_errors=True)
    staging.rename(out_dir)
    return out_dir
