"""`pgx-pipeline knowledge fetch`: PharmCAT's raw data files at one commit, each verified by its git blob id.

The file list of the pinned commit (upstream path + git blob id; not the data) ships with the package in
`data/upstream/PharmCAT-<commit>.tsv`; a newer commit is fetched with its own list (`--tree`, same two columns,
e.g. from `git ls-tree -r <commit>` in a PharmCAT clone). A file is accepted only when the SHA-1 of
"blob <size>\\0" + content equals the blob id the commit records (what `git hash-object` computes), so neither a
truncated download nor a changed file can pass. Transient failures (connection errors, 5xx, short or corrupted
bodies) are retried with a growing pause; a file still wrong after the last attempt stops the fetch, and nothing
is left in the output folder: the mirror is assembled in a staging folder and renamed only when complete.

The result is a mirror folder in PharmCAT's data layout with a MANIFEST.tsv (file, upstream_path,
upstream_commit, git_blob, bytes, sha256) and a PROVENANCE.md, usable by `pgx-pipeline knowledge build --source`.
"""

from __future__ import annotations

import hashlib
import http.client
import shutil
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..errors import PgxInputError

PINNED_COMMIT = "5431bf1187e50383df7e7db18ef67b36fc8b562e"
REPOSITORY = "PharmGKB/PharmCAT"
RAW_BASE_URL = "https://raw.githubusercontent.com/PharmGKB/PharmCAT"
DATA_PREFIX = "src/main/resources/org/pharmgkb/pharmcat/"
TREES = Path(__file__).resolve().parents[1] / "data" / "upstream"


@dataclass(frozen=True)
class TreeEntry:
    path: str  # upstream path
    blob: str  # git blob id the commit records

    @property
    def relpath(self) -> str:
        """Path inside a mirror folder (PharmCAT's data layout: definition/, phenotype/, reporter/)."""
        return self.path[len(DATA_PREFIX):] if self.path.startswith(DATA_PREFIX) else self.path


def read_tree(path: str | Path) -> list[TreeEntry]:
    """A tree list: TSV with columns upstream_path and git_blob (extra columns and # comments ignored)."""
    path = Path(path)
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.startswith("#")]
    header = lines[0].split("\t") if lines else []
    if "upstream_path" not in header or "git_blob" not in header:
        raise PgxInputError("needs the columns upstream_path and git_blob (tab-separated)", path=path)
    entries = []
    for n, line in enumerate(lines[1:], start=2):
        row = dict(zip(header, line.split("\t")))
        blob = row.get("git_blob", "")
        if len(blob) != 40 or any(c not in "0123456789abcdef" for c in blob):
            raise PgxInputError(f"line {n}: git_blob {blob!r} is not a 40-hex blob id", path=path)
        if ".." in Path(row["upstream_path"]).parts or row["upstream_path"].startswith("/"):
            raise PgxInputError(f"line {n}: upstream path {row['upstream_path']!r} leaves the repository", path=path)
        entries.append(TreeEntry(row["upstream_path"], blob))
    return entries


def pinned_tree(commit: str = PINNED_COMMIT) -> list[TreeEntry]:
    path = TREES / f"PharmCAT-{commit}.tsv"
    if not path.is_file():
        raise PgxInputError(f"no file list shipped for commit {commit}; give one with --tree (columns upstream_path, "
                            "git_blob; e.g. from `git ls-tree -r <commit>` in a PharmCAT clone)")
    return read_tree(path)


def git_blob_id(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


class _Retry(Exception):
    """A failure worth another attempt (network, 5xx, short or corrupted body)."""


def _download(url: str, timeout: float) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            body = resp.read()
            length = resp.headers.get("Content-Length")
    except urllib.error.HTTPError as exc:
        if exc.code >= 500 or exc.code == 429:
            raise _Retry(f"HTTP {exc.code}") from exc
        raise PgxInputError(f"{url}: HTTP {exc.code} ({exc.reason}); is the commit/path right?") from exc
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        raise _Retry(str(getattr(exc, "reason", exc))) from exc
    if length is not None and int(length) != len(body):
        raise _Retry(f"partial download: {len(body)} of {length} bytes")
    return body


def fetch_file(url: str, blob: str, *, retries: int = 3, timeout: float = 60.0, pause: float = 2.0) -> bytes:
    """The verified content of one file: downloaded up to `retries` times until its git blob id is `blob`."""
    last = ""
    for attempt in range(1, retries + 1):
        try:
            body = _download(url, timeout)
        except _Retry as exc:
            last = str(exc)
        else:
            got = git_blob_id(body)
            if got == blob:
                return body
            last = f"git blob {got}, expected {blob} ({len(body)} bytes)"
        if attempt < retries:
            time.sleep(pause * attempt)
    raise PgxInputError(f"{url}: refused after {retries} attempt(s): {last}; nothing was written")


def fetch_upstream(out_dir: str | Path, *, commit: str = PINNED_COMMIT, tree: list[TreeEntry] | None = None,
                   base_url: str = RAW_BASE_URL, retries: int = 3, timeout: float = 60.0, pause: float = 2.0,
                   log=lambda msg: None) -> Path:
    """Download every file of `tree` at `commit` from `base_url`/<commit>/<path>, verified, into a new mirror folder."""
    entries = tree if tree is not None else pinned_tree(commit)
    if not entries:
        raise PgxInputError("the file list is empty; nothing to fetch")
    out_dir = Path(out_dir)
    staging = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    manifest = ["file\tupstream_path\tupstream_commit\tgit_blob\tbytes\tsha256"]
    try:
        for i, entry in enumerate(entries, start=1):
            url = f"{base_url.rstrip('/')}/{commit}/{entry.path}"
            body = fetch_file(url, entry.blob, retries=retries, timeout=timeout, pause=pause)
            target = staging / entry.relpath
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)
            manifest.append(f"{entry.relpath}\t{entry.path}\t{commit}\t{entry.blob}\t{len(body)}\t"
                            f"{hashlib.sha256(body).hexdigest()}")
            log(f"[{i}/{len(entries)}] {entry.relpath} ({len(body):,} bytes, blob {entry.blob[:12]} verified)")
        (staging / "MANIFEST.tsv").write_text("\n".join(manifest) + "\n", encoding="utf-8")
        (staging / "PROVENANCE.md").write_text(_provenance_text(commit, base_url, len(entries)), encoding="utf-8")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if out_dir.exists():
        old = out_dir.with_name(out_dir.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        out_dir.rename(old)
        staging.rename(out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(out_dir)
    return out_dir


def _provenance_text(commit: str, base_url: str, n: int) -> str:
    # The first lines must not say "stale": a mirror declaring itself so is flagged stale by the build.
    return (
        f"# Provenance: {REPOSITORY} data files at commit {commit}\n\n"
        f"Fetched by `pgx-pipeline knowledge fetch` from `{base_url}/{commit}/<upstream path>`: {n} files, each\n"
        "verified against the git blob id the commit records for it (SHA-1 of \"blob <size>\\0\" + content, as\n"
        "`git hash-object`). MANIFEST.tsv lists every file with its upstream path, commit, blob id, size and sha256.\n\n"
        "Licence: PharmCAT repository LICENSE = Mozilla Public License 2.0; CPIC content CC0 1.0; ClinPGx (PharmGKB)\n"
        "guideline annotations incl. DPWG: attribution required.\n"
    )
