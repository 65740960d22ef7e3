"""`pgx-pipeline knowledge fetch` against a local HTTP server on 127.0.0.1 serving files this test makes: a file is
kept only when its git blob id is the one the tree lists; transient failures are retried; a wrong or partial file
leaves nothing behind. Never the internet."""

from __future__ import annotations

import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from pgx_pipeline import schema
from pgx_pipeline.cli import main
from pgx_pipeline.errors import PgxInputError
from pgx_pipeline.knowledge.upstream import (
    DATA_PREFIX,
    PINNED_COMMIT,
    TreeEntry,
    fetch_upstream,
    git_blob_id,
    pinned_tree,
)

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class Server:
    """Serves `files` (URL path -> bytes). `faults` (URL path -> list of actions) are used one per request first:
    'error' = HTTP 503, 'truncate' = half the body with the full Content-Length, 'corrupt' = one byte changed."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.faults: dict[str, list[str]] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                server.requests.append(self.path)
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                action = server.faults.get(self.path, []).pop(0) if server.faults.get(self.path) else "ok"
                if action == "error":
                    self.send_error(503)
                    return
                sent = body[: len(body) // 2] if action == "truncate" else body
                if action == "corrupt":
                    sent = bytes([body[0] ^ 1]) + body[1:]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(sent)
                self.wfile.flush()
                if action == "truncate":
                    self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def add(self, relpath: str, body: bytes) -> TreeEntry:
        entry = TreeEntry(DATA_PREFIX + relpath, git_blob_id(body))
        self.files[f"/{COMMIT}/{entry.path}"] = body
        return entry

    def url_of(self, entry: TreeEntry) -> str:
        return f"/{COMMIT}/{entry.path}"


@pytest.fixture
def server():
    s = Server()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


GUIDANCE = {
    "version": "2025-11-05-00-25",
    "guidelines": [
        {"guideline": {"id": "PA1", "name": "Annotation of CPIC Guideline for clopidogrel and CYP2C19",
                       "objCls": "Guideline Annotation", "source": "CPIC", "version": 12,
                       "url": "https://www.clinpgx.org/guidelineAnnotation/PA1",
                       "relatedChemicals": [{"id": "PA449053", "name": "clopidogrel", "symbol": None}],
                       "relatedGenes": [{"id": "PA124", "name": "CYP2C19", "symbol": "CYP2C19"}],
                       "relatedAlleles": [], "recommendation": True},
         "recommendations": [
             {"id": "R1", "name": "Recommendation R1", "population": "ACS/PCI",
              "classification": {"term": "Strong", "termId": "x"},
              "relatedChemicals": [{"id": "PA449053", "name": "clopidogrel", "symbol": None}],
              "text": {"id": 1, "html": "<p>Avoid standard dose clopidogrel if possible.</p>"},
              "implications": ["CYP2C19: Significantly reduced clopidogrel active metabolite formation"],
              # two alternative keys: the recommendation applies to either (PharmCAT: anyMatch)
              "lookupKey": [{"CYP2C19": "Poor Metabolizer"}, {"CYP2C19": "Likely Poor Metabolizer"}],
              "dosingInformation": False, "alternateDrugAvailable": True, "otherPrescribingGuidance": False}],
         "citations": [], "url": "https://www.clinpgx.org/guidelineAnnotation/PA1"},
        {"guideline": {"id": "PA2", "name": "Annotation of DPWG Guideline for clopidogrel and CYP2C19",
                       "objCls": "Guideline Annotation", "source": "DPWG", "version": 3, "url": None,
                       "relatedChemicals": [{"id": "PA449053", "name": "clopidogrel", "symbol": None}],
                       "relatedGenes": [{"id": "PA124", "name": "CYP2C19", "symbol": "CYP2C19"}]},
         "recommendations": [
             {"id": "R2", "population": "general", "classification": None,
              "text": {"id": 2, "html": "<p>Choose an alternative.</p>"}, "implications": [],
              "lookupKey": [{"CYP2C19": {"*2": 2}}], "dosingInformation": False, "alternateDrugAvailable": True,
              "otherPrescribingGuidance": False}],
         "citations": [], "url": "https://www.clinpgx.org/guidelineAnnotation/PA2"},
        {"guideline": {"id": "PA3", "name": "Annotation of FDA Label for clopidogrel", "objCls": "Label Annotation",
                       "source": "FDA", "version": 1,
                       "relatedChemicals": [{"id": "PA449053", "name": "clopidogrel", "symbol": None}],
                       "relatedGenes": [{"id": "PA124", "name": "CYP2C19", "symbol": "CYP2C19"}]},
         "recommendations": [{"id": "R3", "text": {"html": "<p>label text</p>"},
                              "lookupKey": [{"CYP2C19": "Poor Metabolizer"}]}],
         "citations": []},
    ],
}


def _mirror_files(server: Server) -> list[TreeEntry]:
    """A small but real mirror: the repository's own allele definitions for one gene, messages, and a v3
    prescribing guidance file written here."""
    from tests.conftest import PHARMCAT

    entries = []
    if PHARMCAT.is_dir():
        for rel in ("definition/alleles/CYP2C19_translation.json", "definition/alleles/exemptions.json",
                    "phenotype/CYP2C19.json", "reporter/messages.json"):
            entries.append(server.add(rel, (PHARMCAT / rel).read_bytes()))
    entries.append(server.add("reporter/prescribing_guidance.json", json.dumps(GUIDANCE, indent=1).encode()))
    return entries


def test_fetch_verifies_every_file_and_writes_a_mirror(server, tmp_path):
    entries = [server.add("reporter/a.json", b'{"a": 1}\n'), server.add("phenotype/B.json", b"x" * 5000)]
    out = fetch_upstream(tmp_path / "mirror", commit=COMMIT, tree=entries, base_url=server.url, pause=0)
    assert (out / "reporter/a.json").read_bytes() == b'{"a": 1}\n'
    manifest = (out / "MANIFEST.tsv").read_text().splitlines()
    assert manifest[0] == "file\tupstream_path\tupstream_commit\tgit_blob\tbytes\tsha256"
    assert manifest[1].split("\t")[:5] == ["reporter/a.json", DATA_PREFIX + "reporter/a.json", COMMIT,
                                           entries[0].blob, "9"]
    # the blob rule is git's: the id of b'{"a": 1}\n' as `git hash-object` prints it
    proc = subprocess.run(["git", "hash-object", "--stdin"], input=b'{"a": 1}\n', capture_output=True, check=True)
    assert entries[0].blob == proc.stdout.decode().strip()
    assert "stale" not in (out / "PROVENANCE.md").read_text()[:400].lower()


@pytest.mark.parametrize("fault", ["error", "truncate", "corrupt"])
def test_a_transient_failure_is_retried(server, tmp_path, fault):
    entry = server.add("reporter/a.json", b"0123456789" * 100)
    server.faults[server.url_of(entry)] = [fault]
    out = fetch_upstream(tmp_path / "mirror", commit=COMMIT, tree=[entry], base_url=server.url, pause=0)
    assert (out / "reporter/a.json").read_bytes() == b"0123456789" * 100
    assert server.requests.count(server.url_of(entry)) == 2


@pytest.mark.parametrize("fault", ["truncate", "corrupt"])
def test_a_file_that_never_verifies_is_refused_and_nothing_is_left(server, tmp_path, fault):
    good = server.add("reporter/a.json", b"good")
    bad = server.add("reporter/b.json", b"0123456789" * 100)
    server.faults[server.url_of(bad)] = [fault] * 3
    out = tmp_path / "mirror"
    with pytest.raises(PgxInputError, match=r"reporter/b.json: refused after 3 attempt\(s\)"):
        fetch_upstream(out, commit=COMMIT, tree=[good, bad], base_url=server.url, retries=3, pause=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # neither the mirror nor its staging folder


def test_a_mismatched_blob_id_is_refused(server, tmp_path):
    entry = server.add("reporter/a.json", b"what the server has")
    wrong = TreeEntry(entry.path, git_blob_id(b"what the commit records"))
    with pytest.raises(PgxInputError, match=f"expected {wrong.blob}"):
        fetch_upstream(tmp_path / "mirror", commit=COMMIT, tree=[wrong], base_url=server.url, retries=2, pause=0)
    assert server.requests.count(server.url_of(entry)) == 2
    assert not (tmp_path / "mirror").exists()


def test_a_missing_file_fails_at_once_and_keeps_the_previous_mirror(server, tmp_path):
    out = tmp_path / "mirror"
    out.mkdir()
    (out / "kept.txt").write_text("previous mirror")
    missing = TreeEntry(DATA_PREFIX + "reporter/none.json", git_blob_id(b""))
    with pytest.raises(PgxInputError, match="HTTP 404"):
        fetch_upstream(out, commit=COMMIT, tree=[missing], base_url=server.url, retries=3, pause=0)
    assert len(server.requests) == 1 and (out / "kept.txt").read_text() == "previous mirror"


def test_pinned_tree_is_the_upstream_file_list():
    tree = pinned_tree()
    assert PINNED_COMMIT == "5431bf1187e50383df7e7db18ef67b36fc8b562e"
    paths = {e.relpath: e.blob for e in tree}
    assert len(tree) == 44 and paths["reporter/prescribing_guidance.json"] == "44bf09db96d5267ac46303fbd179366bd203e54f"
    assert paths["phenotype/RYR1.json"] == "93a56aa35809e233cf38de2e67177d72585171c6"


def test_cli_fetch_then_build_reads_v3_prescribing_guidance(server, tmp_path):
    from tests.conftest import PHARMCAT

    if not PHARMCAT.is_dir():
        pytest.skip("needs real allele definitions from ../shared to build a knowledge base (absent)")
    entries = _mirror_files(server)
    tree = tmp_path / "tree.tsv"
    tree.write_text("upstream_path\tgit_blob\n" + "".join(f"{e.path}\t{e.blob}\n" for e in entries))
    runner = CliRunner()
    res = runner.invoke(main, ["knowledge", "fetch", "--out", str(tmp_path / "m"), "--commit", COMMIT,
                               "--tree", str(tree), "--base-url", server.url])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["knowledge", "build", "--source", str(tmp_path / "m"), "--out", str(tmp_path / "kb")])
    assert res.exit_code == 0, res.output
    g = schema.read_table(tmp_path / "kb" / "guidance.parquet", schema.KB_GUIDANCE)
    # CPIC: one row per alternative lookup key; DPWG: a diplotype key; FDA label annotation left out
    assert sorted(map(tuple, g["lookup_values"])) == sorted([('{"*2": 2}',), ("Likely Poor Metabolizer",),
                                                             ("Poor Metabolizer",)])
    assert set(g["source"]) == {"CPIC", "DPWG"} and set(g["data_version"]) == {"2025-11-05-00-25"}
    cpic = g[g["source"] == "CPIC"].iloc[0]
    assert cpic["recommendation"] == "Avoid standard dose clopidogrel if possible." and cpic["population"] == "ACS/PCI"
    assert cpic["url"] == "https://www.clinpgx.org/guidelineAnnotation/PA1" and not cpic["stale_source"]
    dpwg = g[g["source"] == "DPWG"].iloc[0]
    assert dpwg["url"] == "https://www.clinpgx.org/guidelineAnnotation/PA2"  # the package's url when the guideline's is null
    sources = schema.read_table(tmp_path / "kb" / "sources.parquet", schema.KB_SOURCES)
    assert set(sources["upstream_commit"]) == {COMMIT} and set(sources["source_root"]) == {"m"}
    meta = schema.read_metadata(tmp_path / "kb" / "guidance.parquet")
    assert meta["upstream_commit"] == COMMIT and str(tmp_path) not in json.dumps(meta)


def test_a_mirror_file_edited_after_fetch_is_refused_by_the_build(server, tmp_path):
    from pgx_pipeline.knowledge.guidance_sources import load_guidance
    from pgx_pipeline.knowledge.sources import SourceSet

    entry = server.add("reporter/prescribing_guidance.json", json.dumps(GUIDANCE, indent=1).encode())
    out = fetch_upstream(tmp_path / "m", commit=COMMIT, tree=[entry], base_url=server.url, pause=0)
    assert len(load_guidance(SourceSet.from_paths([out]))) == 3  # as fetched: read
    path = out / "reporter/prescribing_guidance.json"
    path.write_text(path.read_text().replace("Avoid standard", "Use standard"))
    with pytest.raises(PgxInputError, match="does not match its MANIFEST.tsv"):
        load_guidance(SourceSet.from_paths([out]))


def test_a_prescribing_guidance_file_of_another_shape_is_a_clear_error(tmp_path):
    from pgx_pipeline.knowledge.guidance_sources import load_guidance
    from pgx_pipeline.knowledge.sources import SourceSet

    (tmp_path / "reporter").mkdir()
    (tmp_path / "reporter/prescribing_guidance.json").write_text(json.dumps([{"guideline": {}}]))
    with pytest.raises(PgxInputError, match="is not PharmCAT's v3 prescribing guidance"):
        load_guidance(SourceSet.from_paths([tmp_path]))


def test_pinned_tree_list_matches_the_shared_copy():
    from tests.conftest import PHARMCAT

    listing = PHARMCAT / "UPSTREAM_TREE.tsv"
    if not listing.is_file():
        pytest.skip(f"needs {listing} (absent)")
    rows = [ln.split("\t")[:2] for ln in listing.read_text().splitlines()[1:] if ln.strip()]
    assert [(e.path, e.blob) for e in pinned_tree()] == [tuple(r) for r in rows]
