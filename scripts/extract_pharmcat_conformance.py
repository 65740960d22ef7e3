"""Extract PharmCAT's own calling expectations into tests/conformance/pharmcat_cases.yaml (facts, not code).

PharmCAT 3.1.1's tests describe each sample in one of three ways; this script reads all three and keeps only the
facts: which gene, which genotypes (by rsID or position, phased or not, sex for chrX), and which diplotype(s)
PharmCAT's test asserts.

- `TestVcfBuilder` chains in PipelineTest, DpydTest, ToxicGenesTest, Cyp2d6Test and the NamedAlleleMatcher*Test
  classes (`.variation(gene, rsid, allele1, allele2)`, `.missing(...)`, `.phased()`, `.male()`, ...), with the
  assertions that follow them (`testSourceDiplotypes`, `testPrintCalls`/`testPrintCpicCalls`,
  `testNotCalledByMatcher`, DpydTest's `doStandardChecks`, `assertDiplotypePairs`);
- the static test VCFs those classes read (their records are copied as positions + genotypes);
- NAT2's `tests.tsv` sheet.

Nothing here runs or copies PharmCAT code: Java sources are scanned as text for those calls. A test whose shape the
scanner does not understand is listed under `not_ported` with the reason, so the summary shows every test seen.

Usage: python scripts/extract_pharmcat_conformance.py /work/.mirror/PharmGKB+PharmCAT/repo [--commit SHA]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "tests" / "conformance" / "pharmcat_cases.yaml"
COMMIT = "5431bf1187e50383df7e7db18ef67b36fc8b562e"  # PharmCAT v3.1.1 (same data as ../shared/pgx-sources/pharmcat)
JAVA = "src/test/java/org/pharmgkb/pharmcat/"
RES = "src/test/resources/"
PIPELINE_CLASSES = ["PipelineTest", "DpydTest", "ToxicGenesTest", "Cyp2d6Test"]
NAM_CLASSES = ["Cftr", "Cyp2c19", "Cyp2c9", "Cyp3a5", "Cyp4f2", "Ifnl3", "Nat2", "Ryr1", "Slco1b1", "Tpmt", "Ugt1a1",
               "Vkorc1"]
UNKNOWN = "Unknown/Unknown"
CONSTANTS = {  # PharmCAT's TextConstants / PipelineTest constants the tests use (values read from its sources)
    "UNKNOWN_CALL": [UNKNOWN], "NO_DATA": [UNKNOWN], "TextConstants.HOMOZYGOUS_REFERENCE": "Reference/Reference",
    "HOMOZYGOUS_REFERENCE": "Reference/Reference", "TextConstants.UNCALLED": "Not called",
}


NOT_PORTED_REASONS = {
    "DpydTest.hapB3": "ported row by row as DpydTest.hapB3[row_NNN phased|unphased] (one multi-sample VCF per mode)",
    "Cyp2d6Test.": "CYP2D6 comes from an outside call (no matcher result to compare)",
    "PipelineTest.testOutsideCall": "the gene's result comes from an outside call",
    "PipelineTest.testNoCallOutsideCall": "the gene's result comes from an outside call",
    "PipelineTest.testSingleHlabAllele": "HLA-B from an outside call",
    "PipelineTest.testCounts": "counts genes and drugs of the report",
    "PipelineTest.testNoData": "empty input",
    "NamedAlleleMatcherNat2Test.requiredPosition": "same fact as NamedAlleleMatcherTest.requiredPosition (hand-written "
                                                   "case in pharmcat_cases_manual.yaml)",
    "NamedAlleleMatcherNat2Test.nat2Sheet": "ported row by row as NamedAlleleMatcherNat2Test.nat2Sheet[row_NNN]",
    "NamedAlleleMatcherRyr1Test.": "hand-written case in pharmcat_cases_manual.yaml (asserts dm.toString())",
    "NamedAlleleMatcherCyp2c9Test.s24_s2s24": "hand-written case in pharmcat_cases_manual.yaml",
}


class Git:
    def __init__(self, git_dir: Path, commit: str):
        self.git_dir, self.commit = git_dir, commit

    def show(self, path: str) -> str:
        return subprocess.run(["git", f"--git-dir={self.git_dir}", "show", f"{self.commit}:{path}"], check=True,
                              capture_output=True, text=True).stdout


# ----------------------------------------------------------------------------------------------- Java scanning
def strip_comments(src: str) -> str:
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if c == '"':
            j = i + 1
            while src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            out.append(src[i:j + 1])
            i = j + 1
        elif src.startswith("//", i):
            i = src.find("\n", i)
            i = n if i < 0 else i
        elif src.startswith("/*", i):
            i = src.find("*/", i) + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def methods(src: str) -> list[tuple[str, str]]:
    """(name, body) of each @Test method; the body runs to the next method header."""
    heads = list(re.finditer(r"@Test\s+(?:public\s+)?void\s+(\w+)\s*\([^)]*\)[^{]*\{", src))
    out = []
    for k, m in enumerate(heads):
        end = heads[k + 1].start() if k + 1 < len(heads) else len(src)
        out.append((m.group(1), src[m.end():end]))
    return out


def matching(src: str, i: int) -> int:
    """Index just past the parenthesis that closes the one opened at src[i]."""
    depth, j = 0, i
    while j < len(src):
        c = src[j]
        if c == '"':
            j += 1
            while src[j] != '"':
                j += 2 if src[j] == "\\" else 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    raise ValueError("unbalanced parentheses")


def split_args(text: str) -> list[str]:
    args, depth, cur, j = [], 0, [], 0
    while j < len(text):
        c = text[j]
        if c == '"':
            k = j + 1
            while text[k] != '"':
                k += 2 if text[k] == "\\" else 1
            cur.append(text[j:k + 1])
            j = k + 1
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        if c == "," and depth == 0:
            args.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
        j += 1
    if "".join(cur).strip():
        args.append("".join(cur).strip())
    return args


def calls(text: str, name_re: str) -> list[tuple[int, str, list[str]]]:
    """(offset, name, args) for each call whose name matches name_re."""
    out = []
    for m in re.finditer(rf"\b({name_re})\s*\(", text):
        start = m.end() - 1
        end = matching(text, start)
        out.append((m.start(), m.group(1), split_args(text[start + 1:end - 1])))
    return out


def java_str(tok: str) -> str | None:
    tok = tok.strip()
    if len(tok) >= 2 and tok[0] == tok[-1] == '"':
        return bytes(tok[1:-1], "utf-8").decode("unicode_escape")
    return None


class Scope:
    """Values of the method's local `String x = "..."` and `List<String> x = List.of(...)` at a given offset."""

    def __init__(self, body: str):
        self.assign = []  # (offset, name, raw value text)
        for m in re.finditer(r"(?:final\s+)?(?:String|List<String>)\s+(\w+)\s*=\s*", body):
            end = body.find(";", m.end())
            while end >= 0 and body[m.end():end].count("(") != body[m.end():end].count(")"):
                end = body.find(";", end + 1)
            if end < 0:
                continue
            self.assign.append((m.start(), m.group(1), body[m.end():end].strip()))
        for m in re.finditer(r"\b(\w+)\s*=\s*(List\.of\(|UNKNOWN_CALL|Lists\.newArrayList\()", body):
            if not any(o == m.start() for o, _, _ in self.assign):
                end = body.find(";", m.start())
                self.assign.append((m.start(), m.group(1), body[m.start() + len(m.group(0)) - len(m.group(2)):end].strip()))
        self.assign.sort()

    def value(self, tok: str, at: int):
        tok = tok.strip()
        s = java_str(tok)
        if s is not None:
            return s
        if tok in CONSTANTS:
            return CONSTANTS[tok]
        if re.fullmatch(r"new ArrayList<\w*>\(\)|List\.of\(\)|Lists\.newArrayList\(\)", tok):
            return []
        m = re.fullmatch(r"(?:List\.of|Lists\.newArrayList|Arrays\.asList)\((.*)\)", tok, re.S)
        if m:
            vals = [self.value(a, at) for a in split_args(m.group(1))]
            flat = []
            for v in vals:
                if v is None:
                    return None
                flat.extend(v if isinstance(v, list) else [v])
            return flat
        if re.fullmatch(r"\w+", tok):
            prior = [v for o, n, v in self.assign if n == tok and o < at]
            if prior:
                return self.value(prior[-1], at)
        return None


# ----------------------------------------------------------------------------------------------- builder chains
BUILDER_CALLS = ("phased|male|female|reference|variation|variationAsIs|variationInPhaseSet|missing|allowUnknownAllele|"
                 "forGene|extraPosition|missingExtraPosition|duplicatePosition|duplicatePositionAsIs|sexChromosomes|"
                 "withDefinition|saveFile")


def chain_end(body: str, start: int) -> int:
    j = start
    while True:
        semi = body.find(";", j)
        if semi < 0:
            return len(body)
        seg = body[start:semi]
        if seg.count("(") == seg.count(")"):
            return semi
        j = semi + 1


def parse_chain(body: str, start: int, scope: Scope, spec: dict) -> str | None:
    """Apply the builder calls of the chain starting at `start` to spec; returns a reason when unsupported."""
    end = chain_end(body, start)
    for _, name, args in calls(body[start:end], BUILDER_CALLS):
        vals = [scope.value(a, start) for a in args]
        if name == "phased":
            spec["phased"] = True
        elif name == "male":
            spec["sex"] = "male"
        elif name == "female":
            spec["sex"] = "female"
        elif name == "allowUnknownAllele":
            spec["allow_unknown_allele"] = True
        elif name in ("forGene", "saveFile"):
            pass
        elif name == "reference":
            gene = vals[0]
            spec.setdefault("genes", [])
            if gene not in spec["genes"]:
                spec["genes"].append(gene)
            for rs in vals[1:]:
                if rs is None:  # numeric positions: reference at a position
                    return "reference() by position"
                spec.setdefault("edits", []).append({"gene": gene, "id": rs, "alleles": "ref"})
        elif name in ("variation", "variationInPhaseSet", "extraPosition"):
            gene = vals[0]
            edit = {"gene": gene}
            rest = args[1:]
            if java_str(rest[0]) and java_str(rest[0]).startswith("chr") and len(rest) > 1 and java_str(rest[1]) is None \
                    and re.fullmatch(r"\d+L?", rest[1].strip()):
                edit["id"] = f"{java_str(rest[0])}:{int(rest[1].strip().rstrip('L'))}"
                rest = rest[2:]
            else:
                edit["id"] = scope.value(rest[0], start)
                rest = rest[1:]
            if name == "variationInPhaseSet":
                edit["phase_set"] = int(rest[0])
                edit["phased"] = True
                rest = rest[1:]
            elif rest and rest[0].strip() in ("true", "false"):
                edit["phased"] = rest[0].strip() == "true"
                rest = rest[1:]
            alleles = [scope.value(a, start) for a in rest]
            if any(a is None for a in alleles) or edit["id"] is None:
                return f"variation() arguments not literal: {args}"
            edit["alleles"] = alleles
            spec.setdefault("edits", []).append(edit)
            if gene not in spec.setdefault("genes", []):
                spec["genes"].append(gene)
        elif name == "variationAsIs":
            gene = vals[0]
            if len(args) >= 4 and java_str(args[1]) and java_str(args[1]).startswith("chr") and re.fullmatch(r"\d+L?", args[2].strip()):
                return "variationAsIs by position"
            spec.setdefault("edits", []).append({"gene": gene, "id": vals[1], "gt": vals[2], "ref": vals[3],
                                                 "alts": vals[4:]})
            if gene not in spec.setdefault("genes", []):
                spec["genes"].append(gene)
        elif name in ("missing", "missingExtraPosition"):
            gene = vals[0]
            if len(args) == 3 and re.fullmatch(r"\d+L?", args[2].strip()):
                ids = [f"{vals[1]}:{int(args[2].strip().rstrip('L'))}"]
            else:
                ids = vals[1:]
            for rs in ids:
                spec.setdefault("edits", []).append({"gene": gene, "id": rs, "alleles": None})
            if gene not in spec.setdefault("genes", []):
                spec["genes"].append(gene)
        else:
            return f"builder call {name}() not ported"
    return None


def pipeline_flags(body: str, scope: Scope) -> dict | None:
    m = calls(body, r"PipelineWrapper")
    m = [c for c in m if body[max(0, c[0] - 4):c[0]] == "new "]
    if len(m) != 1:
        return None
    args = m[0][2]
    if len(args) == 2:
        return {"find_combinations": False, "top_only": args[1] == "false", "call_cyp2d6": False}
    if len(args) == 4:
        return {"find_combinations": args[1] == "true", "top_only": args[2] == "false", "call_cyp2d6": args[3] == "true"}
    if len(args) == 5:
        return {"find_combinations": args[2] == "true", "top_only": args[3] == "false", "call_cyp2d6": args[4] == "true"}
    return None


def split_wrappers(meths: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A test that builds several samples (one `new PipelineWrapper(...)` each) becomes one entry per sample,
    named `method#<wrapper name or number>`; each part runs to the next wrapper."""
    out = []
    for name, body in meths:
        heads = [m.start() for m in re.finditer(r"(?:PipelineWrapper\s+)?\w+\s*=\s*new PipelineWrapper\(", body)]
        if len(heads) <= 1:
            out.append((name, body))
            continue
        for k, h in enumerate(heads):
            part = body[h:heads[k + 1] if k + 1 < len(heads) else len(body)]
            args = split_args(part[part.index("(", part.index("new PipelineWrapper")) + 1:
                                   matching(part, part.index("(", part.index("new PipelineWrapper"))) - 1])
            label = java_str(args[1]) if len(args) == 5 and java_str(args[1]) else str(k + 1)
            out.append((f"{name}#{label}", part))
    return out


def pipeline_cases(git: Git, cls: str) -> tuple[list[dict], list[dict]]:
    path = JAVA + cls + ".java"
    src = strip_comments(git.show(path))
    cases, skipped = [], []
    for name, body in split_wrappers(methods(src)):
        cid = f"{cls}.{name}"
        scope = Scope(body)
        starts = [m.start() for m in re.finditer(r"getVcfBuilder\(\)", body)]
        flags = pipeline_flags(body, scope)
        if not starts or flags is None:
            skipped.append({"id": cid, "source": path, "reason": "no single TestVcfBuilder sample (outside calls, "
                            "counts, a data sheet or several samples per test)"})
            continue
        if len(starts) > 1 and any(body[s - 20:s].find("testWrapper") < 0 for s in starts[1:]):
            skipped.append({"id": cid, "source": path, "reason": "several samples in one test"})
            continue
        spec: dict = {"phased": False, "sex": "female", "genes": []}
        reason = None
        for s in starts:
            reason = reason or parse_chain(body, s, scope, spec)
        if reason:
            skipped.append({"id": cid, "source": path, "reason": reason})
            continue
        if re.search(r"executeWithVcf\(", body):
            skipped.append({"id": cid, "source": path, "reason": "static VCF through the pipeline"})
            continue
        expect: dict = {}
        for off, fn, args in calls(body, r"testSourceDiplotypes|testPrintCpicCalls|testPrintCalls|"
                                           r"testNotCalledByMatcher|testCalledByMatcher|doStandardChecks"):
            if fn == "testCalledByMatcher":  # weakest fact: PharmCAT's matcher made a call for the gene
                for g in (scope.value(a, off) for a in args):
                    if g in spec["genes"]:
                        expect.setdefault(g, {})["called"] = True
                continue
            if fn == "doStandardChecks":
                v = scope.value(args[2], off)
                if v is not None:
                    expect.setdefault("DPYD", {})["source"] = v
                continue
            genes = [scope.value(a, off) for a in (args if fn == "testNotCalledByMatcher" else args[:1])]
            if fn == "testNotCalledByMatcher":
                for g in genes:
                    if g in spec["genes"]:
                        expect.setdefault(g, {})["source"] = [UNKNOWN]
                continue
            gene = genes[0]
            if gene not in spec["genes"]:
                continue
            if fn == "testSourceDiplotypes":
                v = scope.value(args[1], off)
                if v is not None:
                    expect.setdefault(gene, {})["source"] = v
            else:
                vals = [scope.value(a, off) for a in args[1:]]
                if len(vals) == 1 and isinstance(vals[0], list):
                    vals = vals[0]
                if all(isinstance(v, str) for v in vals):
                    expect.setdefault(gene, {}).setdefault("print", vals)
        # the report's genotype text for a gene section (ToxicGenesTest G6PD tests)
        for m in re.finditer(r'getElementsByClass\("genotype-result"\)', body):
            gm = re.search(r'select\("\.gene\.(\w+)"\)', body[:m.start()][::-1][:0] or body[:m.start()])
            am = re.search(r'assertEquals\("([^"]+)",\s*\w+\.text\(\)\)', body[m.end():])
            if gm and am and gm.group(1) in spec["genes"]:
                expect.setdefault(gm.group(1), {}).setdefault("print", [am.group(1)])
        # genes given by an outside call: their result is not the matcher's
        outside = set()
        if "executeWithOutsideCalls" in body:
            outside |= set(re.findall(r'(?:^|")\s*([A-Z][A-Z0-9-]+)\\t', body, re.M))
            if "s_outsideCallFilePath" in body:
                outside.add("CYP2D6")
            if "s_otherOutsideCallFilePath" in body:
                outside |= {"CYP2D6", "G6PD"}
        expect = {g: e for g, e in expect.items() if e and g not in outside}
        if not expect:
            skipped.append({"id": cid, "source": path, "reason": "no diplotype assertion for a gene in the VCF"})
            continue
        if flags["find_combinations"]:
            skipped.append({"id": cid, "source": path, "reason": "findCombinations (research mode) is not ported"})
            continue
        case = {"id": cid, "source": path, **flags, **spec, "expect": expect}
        cases.append(case)
    return cases, skipped


# ----------------------------------------------------------------------------------------------- NamedAlleleMatcher tests
def parse_static_vcf(git: Git, resource: str) -> list[str]:
    """Data lines of a test VCF as 'CHROM POS ID REF ALT GT[:PS]' (first sample only)."""
    rows = []
    for line in git.show(RES + resource).splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        f = line.split("\t")
        fmt = f[8].split(":")
        vals = dict(zip(fmt, f[9].split(":")))
        gt = vals.get("GT", ".")
        if "PS" in vals and vals["PS"] not in (".", ""):
            gt += f":{vals['PS']}"
        rows.append(" ".join([f[0], f[1], f[2], f[3], f[4], gt]))
    return rows


def nam_cases(git: Git, short: str) -> tuple[list[dict], list[dict]]:
    cls = f"NamedAlleleMatcher{short}Test"
    path = JAVA + "haplotype/" + cls + ".java"
    src = strip_comments(git.show(path))
    m = re.search(r'resolve\("(\w+)_translation\.json"\)', src)
    gene = m.group(1)
    cases, skipped = [], []
    for name, body in methods(src):
        scope = Scope(body)
        asserts = calls(body, r"assertDiplotypePairs")
        if not asserts:
            skipped.append({"id": f"{cls}.{name}", "source": path, "reason": "no assertDiplotypePairs (asserts "
                            "counts or a sheet; see the NAT2 sheet cases)"})
            continue
        for k, (off, _, args) in enumerate(asserts):
            cid = f"{cls}.{name}" + (f"#{k + 1}" if len(asserts) > 1 else "")
            expected = scope.value(args[0], off)
            if isinstance(expected, str):
                expected = [expected]
            res = args[1].strip()
            if re.fullmatch(r"\w+", res):  # a Result variable: find its assignment
                prior = [v for o, n, v in scope.assign if n == res and o < off]
                am = [m for m in re.finditer(rf"\b{res}\s*=\s*(?:NamedAlleleMatcherTest\.)?(testMatchNamedAlleles\()", body)
                      if m.start() < off]
                if not am:
                    skipped.append({"id": cid, "source": path, "reason": "result not from testMatchNamedAlleles"})
                    continue
                st = am[-1].start(1) + len("testMatchNamedAlleles")
                res = "testMatchNamedAlleles" + body[st:matching(body, st)]
                del prior
            cm = re.match(r"testMatchNamedAlleles\((.*)\)$", res, re.S)
            if not cm or expected is None:
                skipped.append({"id": cid, "source": path, "reason": "assertion shape not ported"})
                continue
            margs = split_args(cm.group(1))
            flags = [a.strip() for a in margs[3:]]
            # testMatchNamedAlleles(env, def, vcf) -> all matches; (.., topCandidateOnly); (.., findCombinations,
            # topCandidateOnly); (.., topCandidateOnly, showUnmatched, withExemptions); 7-arg form
            if len(flags) == 0:
                top, combos, exemptions = False, False, True
            elif len(flags) == 1:
                top, combos, exemptions = flags[0] == "true", False, True
            elif len(flags) == 2:
                top, combos, exemptions = flags[1] == "true", flags[0] == "true", True
            elif len(flags) == 3:
                top, combos, exemptions = flags[0] == "true", False, flags[2] == "true"
            else:
                top, combos, exemptions = flags[1] == "true", flags[0] == "true", flags[3] == "true"
            spec: dict = {"phased": False, "sex": "female", "genes": []}
            vcf = margs[2].strip()
            if "TestVcfBuilder" in vcf:
                reason = parse_chain(vcf, 0, scope, spec)
                if reason:
                    skipped.append({"id": cid, "source": path, "reason": reason})
                    continue
            else:
                built = [m for m in re.finditer(rf"\b{vcf}\s*=\s*new TestVcfBuilder", body) if m.start() < off] \
                    if re.fullmatch(r"\w+", vcf) else []
                if built:
                    reason = parse_chain(body, built[-1].start(), scope, spec)
                    if reason:
                        skipped.append({"id": cid, "source": path, "reason": reason})
                        continue
                    resource = None
                elif re.fullmatch(r"\w+", vcf):
                    rm = [m for m in re.finditer(rf'\b{vcf}\s*=\s*PathUtils\.getPathToResource\("([^"]+)"\)', body)
                          if m.start() < off]
                    if not rm:
                        skipped.append({"id": cid, "source": path, "reason": "VCF path not found"})
                        continue
                    resource = rm[-1].group(1)
                else:
                    rm = re.search(r'getPathToResource\("([^"]+)"\)', vcf)
                    resource = rm.group(1)
                if resource is not None:
                    spec = {"vcf_resource": resource, "records": parse_static_vcf(git, resource)}
            if combos or not exemptions:
                skipped.append({"id": cid, "source": path, "reason": "findCombinations (research mode) is not ported"
                                if combos else "run without exemptions.json, which our knowledge base always applies"})
                continue
            case = {"id": cid, "source": path, "find_combinations": combos, "top_only": top,
                    "exemptions": exemptions, **spec, "expect": {gene: {"matcher": expected}}}
            cases.append(case)
    return cases, skipped


def nat2_sheet(git: Git) -> list[dict]:
    """NamedAlleleMatcherNat2Test.nat2Sheet: one case per row of NAT2/tests.tsv (topCandidateOnly)."""
    rsids = ["rs1801279", "rs1801280", "rs1799930", "rs1208", "rs1799931"]
    lines = git.show(RES + "org/pharmgkb/pharmcat/haplotype/NAT2/tests.tsv").splitlines()
    out = []
    for row, line in enumerate(lines[1:], start=2):
        data = line.split("\t")
        if len(data) < 8 or data[1] != "reference":
            continue
        edits = []
        for rs, gt in zip(rsids, data[2:7]):
            edits.append({"gene": "NAT2", "id": rs, "alleles": gt.split("/")})
        if data[0].strip() and data[0] != "none":
            for part in data[0].split("),"):
                rs = part[:part.index("(")].strip()
                edits = [e for e in edits if e["id"] != rs] + [{"gene": "NAT2", "id": rs, "alleles": None}]
        if data[7] == "not called":
            expected = [UNKNOWN]
        elif len(data) > 8 and data[8].strip():
            expected = [data[8].strip()]
        else:
            expected = [s.strip() for s in data[7].split("or") if s.strip()]
        out.append({"id": f"NamedAlleleMatcherNat2Test.nat2Sheet[row_{row:03d}]",
                    "source": RES + "org/pharmgkb/pharmcat/haplotype/NAT2/tests.tsv", "find_combinations": False,
                    "top_only": True, "exemptions": True, "phased": False, "sex": "female", "genes": ["NAT2"],
                    "edits": edits, "expect": {"NAT2": {"matcher": expected}}})
    return out


HAPB3_RSIDS = ["rs56038477", "rs75017182", "rs72549310", "rs67376798", "rs1801265", "rs186169810", "rs115232898"]
HAPB3_NAMES = {"HapB3Intron": "c.1129-5923C>G", "HapB3": "c.1129-5923C>G, c.1236G>A (HapB3)"}  # DpydHapB3Matcher


def _hapb3_names(cell: str) -> list[str]:
    """The sheet's shorthand, expanded as DpydTest.parseDiplotypes does (split on ',', 'a+b' -> 'a + b')."""
    out = []
    for part in cell.split(","):
        part = re.sub(r"(\S)\+(\S)", r"\1 + \2", part.strip()).replace("ref", "Reference")
        part = part.replace("HapB3Intron", HAPB3_NAMES["HapB3Intron"]).replace("HapB3", HAPB3_NAMES["HapB3"]) \
            if "HapB3Intron" in part else part.replace("HapB3", HAPB3_NAMES["HapB3"])
        out.append(part)
    return out


def hapb3_sheet(git: Git) -> list[dict]:
    """DpydTest.hapB3: each row of DPYD/hapb3.tsv, phased and unphased (expected: column 8, or 10 when unphased
    and given). GT cells '0'/'1' are the definition's REF/first ALT; rs186169810's ALT is the non-PGx base G."""
    import json

    loci = {v["rsid"]: v for v in json.loads(git.show(
        "src/main/resources/org/pharmgkb/pharmcat/definition/alleles/DPYD_translation.json"))["variants"]}
    lines = git.show(RES + "org/pharmgkb/pharmcat/haplotype/DPYD/hapb3.tsv").splitlines()
    out = []
    for row, line in enumerate(lines[3:], start=4):
        data = line.split("\t")
        if len(data) < 15 or not data[7].strip():
            continue
        for phased in (True, False):
            edits = []
            for rs, cell in zip(HAPB3_RSIDS, data[:7]):
                if cell.lower() == "missing":
                    edits.append({"gene": "DPYD", "id": rs, "alleles": None})
                    continue
                alt = "G" if rs == "rs186169810" else loci[rs]["alts"][0]
                edits.append({"gene": "DPYD", "id": rs,
                              "alleles": [loci[rs]["ref"] if c == "0" else alt for c in re.split(r"[/|]", cell)]})
            expected = _hapb3_names(data[9] if not phased and data[9].strip() else data[7])
            mode = "phased" if phased else "unphased"
            out.append({"id": f"DpydTest.hapB3[row_{row:03d} {mode}]",
                        "source": RES + "org/pharmgkb/pharmcat/haplotype/DPYD/hapb3.tsv", "find_combinations": False,
                        "top_only": True, "call_cyp2d6": False, "batch": f"DpydTest.hapB3 {mode}", "phased": phased,
                        "sex": "female", "allow_unknown_allele": True, "genes": ["DPYD"], "edits": edits,
                        "expect": {"DPYD": {"source": expected}}})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pharmcat_git", type=Path, help="PharmCAT git directory (bare mirror or .git)")
    ap.add_argument("--commit", default=COMMIT)
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args(argv)
    git = Git(a.pharmcat_git, a.commit)
    cases, skipped = [], []
    for cls in PIPELINE_CLASSES:
        c, s = pipeline_cases(git, cls)
        cases += c
        skipped += s
    for short in NAM_CLASSES:
        c, s = nam_cases(git, short)
        cases += c
        skipped += s
    cases += nat2_sheet(git)
    cases += hapb3_sheet(git)
    for s in skipped:  # say more than the scanner can for a few known shapes
        for prefix, reason in NOT_PORTED_REASONS.items():
            if s["id"].startswith(prefix):
                s["reason"] = reason
    doc = {
        "about": "Expectations taken from PharmCAT's test suite (PharmGKB/PharmCAT, MPL-2.0) at commit "
                 f"{a.commit} (v3.1.1) by scripts/extract_pharmcat_conformance.py. Each case: the genes written "
                 "to a single-sample VCF (every definition position of each gene, reference unless edited, as "
                 "PharmCAT's TestVcfBuilder writes them), edits as CPIC alleles per rsID/position (null = missing), "
                 "or the static test VCF's records; and what PharmCAT's test asserts per gene: `source` "
                 "(testSourceDiplotypes), `print` (testPrintCalls), `matcher` (assertDiplotypePairs).",
        "commit": a.commit,
        "cases": cases,
        "not_ported": skipped,
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(yaml.safe_dump(doc, sort_keys=False, width=120, allow_unicode=True))
    print(f"{len(cases)} cases, {len(skipped)} tests not ported -> {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
