"""Property-based tests (hypothesis, bounded) for the VCF-allele mapping and the named-allele matcher."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgx_pipeline import schema
from pgx_pipeline.calling.call import load_gene_models
from pgx_pipeline.calling.matcher import Pattern, diplotype_name, match_pattern
from pgx_pipeline.ingest.alleles import DefinitionSite, map_record_alleles

BOUNDED = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
BASES = st.text(alphabet="ACGT", min_size=0, max_size=6)


@pytest.fixture(scope="module")
def sites(defs_dir) -> list[DefinitionSite]:
    pos = schema.read_table(defs_dir / "positions.parquet", schema.KB_POSITIONS)
    pos = pos[pos["position_index"] >= 0]
    out = [DefinitionSite(int(r.position), r.ref, tuple(r.alts)) for r in pos.itertuples()]
    return [s for s in out if s.alts and all(set(a) <= set("ACGT") for a in (s.ref, *s.alts))]


@BOUNDED
@given(data=st.data(), suffix=BASES)
def test_trailing_padding_does_not_change_the_mapped_allele(sites, data, suffix):
    """REF/ALT written with the same extra trailing bases is the same event: it maps to the definition's ALT."""
    site = data.draw(st.sampled_from(sites))
    alt = data.draw(st.sampled_from(site.alts))
    plain = map_record_alleles(site, site.position, site.ref, [alt])
    padded = map_record_alleles(site, site.position, site.ref + suffix, [alt + suffix])
    assert plain == padded == [site.ref, alt]


@BOUNDED
@given(data=st.data(), suffix=BASES, other=st.text(alphabet="ACGT", min_size=1, max_size=4))
def test_any_alt_maps_to_a_definition_allele_or_itself(sites, data, suffix, other):
    """Never an exception, never a silently different definition allele: REF stays REF, an ALT maps to a
    definition ALT only when it is the same event (trailing padding removed), else it is undocumented."""
    site = data.draw(st.sampled_from(sites))
    out = map_record_alleles(site, site.position, site.ref + suffix, [other + suffix, "<NON_REF>", "*"])
    assert out[0] == site.ref and out[2] is None and out[3] == "*"
    mapped = out[1]
    same_event = [a for a in site.alts if map_record_alleles(site, site.position, site.ref, [a])[1] == mapped]
    written = (other + suffix)[0] if site.is_snv else other + suffix  # an SNV site reads only the base at POS
    assert mapped in (site.ref, *site.alts, written)
    if mapped in site.alts:
        assert same_event


@pytest.fixture(scope="module")
def cyp2c19(defs_dir):
    model = load_gene_models(defs_dir)["CYP2C19"]
    haps = {}
    for a, name in enumerate(model.allele_names):
        # the allele's own haplotype: defined cells (first accepted code for IUPAC cells), reference elsewhere
        haps[name] = np.array([int(np.flatnonzero(model.accept[a, p])[0]) for p in range(len(model.positions))])
    # alleles that are the unique best match of their own haplotype (no more specific allele also fits it)
    distinct = []
    for name, h in haps.items():
        res = match_pattern(model, Pattern(h, np.full_like(h, -2), np.full_like(h, -1)))
        if [d[0] for d in res.diplotypes] == [name]:
            distinct.append(name)
    assert len(distinct) > 20
    return model, haps, sorted(distinct)


@BOUNDED
@given(data=st.data(), phased=st.booleans())
def test_two_named_alleles_are_called_and_order_never_matters(cyp2c19, data, phased):
    model, haps, names = cyp2c19
    a, b = data.draw(st.sampled_from(names)), data.draw(st.sampled_from(names))
    h1, h2 = haps[a], haps[b]
    het = h1 != h2
    block = np.where(het, 0 if phased else 1_000 + np.arange(len(h1)), -1)
    res = match_pattern(model, Pattern(h1, h2, block))
    swapped = match_pattern(model, Pattern(h2, h1, block))
    assert res.diplotypes == swapped.diplotypes and res.status == swapped.status
    calls = [(x, y) for x, y, _ in res.diplotypes]
    if phased:
        assert diplotype_name(a, b, model.allele_names[model.reference_index]) in calls
    else:
        assert res.status in ("called", "not_called")
