"""Map a VCF record's alleles onto a definition position's alleles (REF/ALT normalisation).

Definitions are written in VCF-normalised form (left-aligned, padded); labs write the same event with
other padding, split or joined multi-allelics, MNPs and symbolic ALTs.  Everything here answers one
question per record allele: which definition allele does it put at this position, or is it
undocumented?
"""

from __future__ import annotations

from dataclasses import dataclass

SYMBOLIC_UNKNOWN = "<*>"  # gVCF/symbolic ALTs (<NON_REF>, <*>, <DEL>...): genotype at the position is unknown


@dataclass(frozen=True)
class DefinitionSite:
    position: int
    ref: str
    alts: tuple[str, ...]

    @property
    def is_snv(self) -> bool:
        return len(self.ref) == 1 and all(len(a) == 1 for a in self.alts)


def _trim(pos: int, ref: str, alt: str) -> tuple[int, str, str]:
    """Minimal representation: drop the shared suffix, then the shared prefix (moving POS)."""
    while len(ref) > 1 and len(alt) > 1 and ref[-1] == alt[-1]:
        ref, alt = ref[:-1], alt[:-1]
    while len(ref) > 0 and len(alt) > 0 and ref[0] == alt[0]:
        ref, alt, pos = ref[1:], alt[1:], pos + 1
    return pos, ref, alt


def strip_left_padding(vcf_ref: str, vcf_alts: list[str], k: int) -> tuple[str, list[str]] | None:
    """The record's alleles with their first k bases dropped, when every allele shares them and keeps a base.

    A record at POS whose alleles all begin with the same k reference bases describes the same haplotypes as
    the record at POS + k without them (e.g. `GCAT>GC` at POS is `CAT>C` at POS + 1): callers and joiners
    that pad further left than the normalised form write such records. Symbolic and `*` ALTs are kept as
    they are. None when the record cannot be read at POS + k this way.
    """
    if len(vcf_ref) <= k:
        return None
    head = vcf_ref[:k]
    alts = []
    for alt in vcf_alts:
        if alt is None or alt in (".", "*") or alt.startswith("<") or "[" in alt or "]" in alt:
            alts.append(alt)
        elif len(alt) > k and alt[:k] == head:
            alts.append(alt[k:])
        else:
            return None
    return vcf_ref[k:], alts


def ref_consistent(site: DefinitionSite, vcf_ref: str) -> bool:
    """Same genome: one REF must be a prefix of the other (padding may differ, bases may not)."""
    return site.ref.startswith(vcf_ref) or vcf_ref.startswith(site.ref)


def map_record_alleles(site: DefinitionSite, pos: int, vcf_ref: str, vcf_alts: list[str]) -> list[str | None]:
    """Definition-space allele for REF and each ALT of a record at the site's POS.

    Returns a list aligned with [REF, *ALTs]: the definition's REF or ALT string when the record allele
    is the same event, the record allele itself (undocumented) when it changes the site differently,
    and None for symbolic/unknown alleles.
    """
    out: list[str | None] = [site.ref]
    for alt in vcf_alts:
        out.append(_map_one(site, pos, vcf_ref, alt))
    return out


def _map_one(site: DefinitionSite, pos: int, vcf_ref: str, alt: str) -> str | None:
    if alt is None or alt == "." or alt.startswith("<") or "[" in alt or "]" in alt:
        return None
    if alt == "*":
        return "*"  # an upstream deletion spans the site on this haplotype: undocumented here
    if site.is_snv:
        # Only the base at POS matters for an SNV site: padding or a following indel leaves it alone.
        base = alt[0]
        return site.ref if base == vcf_ref[0] else base
    event = _trim(pos, vcf_ref, alt)
    if event[1] == event[2]:
        return site.ref
    for def_alt in site.alts:
        if _trim(site.position, site.ref, def_alt) == event:
            return def_alt
    # A change that starts beyond the site's REF span leaves the site as reference.
    if event[0] >= site.position + len(site.ref):
        return site.ref
    return alt
