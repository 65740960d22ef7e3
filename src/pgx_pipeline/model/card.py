"""The model card: what the model is, what it was trained and tested on, how well it does and for whom.

Written next to the model as JSON (for machines and the report stage) and as one self-contained HTML page
(Jinja2 with autoescaping; no external assets), both from the same dictionary.
"""

from __future__ import annotations

import json
from pathlib import Path

import jinja2

from .registry import drug_model
from .store import library_versions
from .train import DoseModel

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Model card: {{ card.model.drug }} {{ card.model.version }}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}
th:first-child,td:first-child{text-align:left}caption{text-align:left;font-weight:600}
.note{background:#fff6dd;border-left:4px solid #e0a800;padding:.5rem 1rem}
</style></head><body>
<h1>Model card: {{ card.model.drug }} dose model</h1>
<p class="note">{{ card.intended_use }}</p>
<h2>Model</h2>
<ul><li>Version: <code>{{ card.model.version }}</code></li>
<li>Dose classes: {{ card.model.dose_classes }}</li>
<li>Classifier: {{ card.model.classifier }}</li><li>Regressor: {{ card.model.regressor }}</li>
<li>Dose interval: {{ card.model.interval }}</li>
<li>Libraries: {% for k, v in card.model.library_versions.items() %}{{ k }} {{ v }}{% if not loop.last %}, {% endif %}{% endfor %}</li></ul>
<h2>Data</h2>
<p>{{ card.data.citation }}</p>
<ul><li>File: {{ card.data.cohort.source }} ({{ card.data.cohort.rows_in_file }} rows); after the cohort filter
{{ card.data.cohort.after_filter }} patients from {{ card.data.cohort.sites }} sites; trained on
{{ card.data.cohort.train }}, held out {{ card.data.cohort.heldout }} (site-stratified, ids in heldout_ids.txt).</li>
<li>Cohort filter: {{ card.data.cohort.filter }}</li></ul>
<h2>Features</h2>
<table><tr><th>feature</th><th>kind</th><th>meaning</th></tr>
{% for f in card.features %}<tr><td>{{ f.name }}</td><td>{{ f.kind }}</td><td style="text-align:left">{{ f.doc }}</td></tr>{% endfor %}
</table>
<h2>Held-out figures (n = {{ card.metrics.heldout_n }})</h2>
<table><caption>Model and reference rules on the same held-out patients (95% bootstrap intervals)</caption>
<tr><th>method</th><th>within 20%</th><th>MAE {{ card.model.dose_unit }}</th><th>within 20% by true class<br>low / int / high</th><th>3-class accuracy</th><th>recall low / int / high</th><th>low&rarr;high, high&rarr;low</th><th>ECE</th></tr>
{% for name, m in card.metrics.heldout.items() %}<tr><td>{{ name }}</td>
<td>{{ "%.1f"|format(100*m.within_20pct) }}%{% if m.ci %} ({{ "%.1f"|format(100*m.ci.within_20pct[0]) }}-{{ "%.1f"|format(100*m.ci.within_20pct[1]) }}){% endif %}</td>
<td>{{ "%.2f"|format(m.mae) }}{% if m.ci %} ({{ "%.2f"|format(m.ci.mae[0]) }}-{{ "%.2f"|format(m.ci.mae[1]) }}){% endif %}</td>
<td>{% for k, v in m.within_20pct_by_class.items() %}{{ "%.1f"|format(100*v) if v is not none else "-" }}{% if not loop.last %} / {% endif %}{% endfor %}</td>
<td>{{ "%.1f"|format(100*m.accuracy) }}%{% if m.ci %} ({{ "%.1f"|format(100*m.ci.accuracy[0]) }}-{{ "%.1f"|format(100*m.ci.accuracy[1]) }}){% endif %}</td>
<td>{% for k, v in m.recall.items() %}{{ "%.2f"|format(v) if v is not none else "-" }}{% if not loop.last %} / {% endif %}{% endfor %}</td>
<td>{{ m.low_predicted_high }}, {{ m.high_predicted_low }}</td>
<td>{{ "%.3f"|format(m.ece) if m.ece is not none else "-" }}</td></tr>{% endfor %}
</table>
{% for label, d in card.metrics.versus.items() %}
<p>Model minus {{ label }} (paired bootstrap 95%): within 20%
{{ "%+.1f"|format(100*d.within_20pct[0]) }} to {{ "%+.1f"|format(100*d.within_20pct[1]) }} points;
accuracy {{ "%+.1f"|format(100*d.accuracy[0]) }} to {{ "%+.1f"|format(100*d.accuracy[1]) }} points;
MAE {{ "%+.2f"|format(d.mae[0]) }} to {{ "%+.2f"|format(d.mae[1]) }} {{ card.model.dose_unit }}.</p>{% endfor %}
<p>Dose interval coverage on held-out: {{ "%.1f"|format(100*card.metrics.interval_coverage) }}%.</p>
<p>Targets on this held-out part: {% for k, ok in card.metrics.targets.items() %}{{ k|replace("_20pct", " 20%")|replace("_", " ") }}: <strong>{{ "yes" if ok else "NO" }}</strong>{% if not loop.last %}; {% endif %}{% endfor %}.</p>
<h2>By {{ card.metrics.subgroup }} (held-out)</h2>
<table><tr><th>{{ card.metrics.subgroup }}</th><th>n</th>{% for name in card.metrics.heldout %}<th>{{ name }}<br>within 20% / acc.</th>{% endfor %}<th>model not worse than {{ card.metrics.published_reference }} (w20, acc, MAE)</th><th>model minus {{ card.metrics.published_reference }}, paired 95%: within 20% / accuracy (points); MAE</th></tr>
{% for group, g in card.metrics.by_subgroup.items() %}<tr><td>{{ group }}</td><td>{{ g.figures.model.n }}</td>
{% for name in card.metrics.heldout %}<td>{{ "%.1f"|format(100*g.figures[name].within_20pct) }}% / {{ "%.1f"|format(100*g.figures[name].accuracy) }}%</td>{% endfor %}
{% set nw = g.model_not_worse_than_published %}<td>{{ "yes" if nw.within_20pct else "NO" }}, {{ "yes" if nw.accuracy else "NO" }}, {{ "yes" if nw.mae else "NO" }}</td>
{% set d = g.ci95["model_minus_" ~ card.metrics.published_reference] %}<td>{{ "%+.1f"|format(100*d.within_20pct[0]) }} to {{ "%+.1f"|format(100*d.within_20pct[1]) }} / {{ "%+.1f"|format(100*d.accuracy[0]) }} to {{ "%+.1f"|format(100*d.accuracy[1]) }}; {{ "%+.2f"|format(d.mae[0]) }} to {{ "%+.2f"|format(d.mae[1]) }}</td></tr>{% endfor %}
</table>
{% if card.metrics.validation %}<h2>Validation on the training part</h2>
<table><tr><th>design</th>{% for name in card.metrics.validation.cross_validation %}<th>{{ name }} within 20% / acc.</th>{% endfor %}</tr>
{% for design, rows in card.metrics.validation.items() %}<tr><td>{{ design }}</td>{% for name, m in rows.items() %}<td>{{ "%.1f"|format(100*m.within_20pct) }}% / {{ "%.1f"|format(100*m.accuracy) }}%</td>{% endfor %}</tr>{% endfor %}
</table>{% endif %}
<h2>Calibration (held-out, top-label reliability)</h2>
<p>ECE {{ "%.3f"|format(card.metrics.heldout.model.ece) }}: the mean gap between the model's confidence in its
predicted class and how often that class was right, weighted by the patients in each bin.</p>
{% set r = card.metrics.reliability %}{% set total = r|sum(attribute="n") %}
<svg width="300" height="300" viewBox="-40 -10 300 300" role="img" aria-label="reliability diagram">
<rect x="0" y="0" width="250" height="250" fill="none" stroke="#999"/>
<line x1="0" y1="250" x2="250" y2="0" stroke="#999" stroke-dasharray="4 3"/>
{% for t in [0, 0.5, 1] %}<text x="{{ 250*t }}" y="266" font-size="11" text-anchor="middle">{{ t }}</text>
<text x="-6" y="{{ 254 - 250*t }}" font-size="11" text-anchor="end">{{ t }}</text>{% endfor %}
<text x="125" y="284" font-size="12" text-anchor="middle">mean confidence</text>
<text x="-30" y="125" font-size="12" text-anchor="middle" transform="rotate(-90 -30 125)">observed accuracy</text>
<polyline fill="none" stroke="#1f5fa8" stroke-width="1.5" points="{% for b in r %}{{ "%.1f"|format(250*b.mean_confidence) }},{{ "%.1f"|format(250 - 250*b.accuracy) }} {% endfor %}"/>
{% for b in r %}<circle cx="{{ "%.1f"|format(250*b.mean_confidence) }}" cy="{{ "%.1f"|format(250 - 250*b.accuracy) }}" r="{{ "%.1f"|format(2 + 10*(b.n/total)**0.5) }}" fill="#1f5fa8" fill-opacity=".6"><title>{{ b.n }} patients: confidence {{ "%.3f"|format(b.mean_confidence) }}, accuracy {{ "%.3f"|format(b.accuracy) }}</title></circle>{% endfor %}
</svg>
<table><tr><th>confidence bin</th><th>n</th><th>mean confidence</th><th>observed accuracy</th></tr>
{% for b in card.metrics.reliability %}<tr><td>{{ "%.1f"|format(b.bin[0]) }}-{{ "%.1f"|format(b.bin[1]) }}</td><td>{{ b.n }}</td><td>{{ "%.3f"|format(b.mean_confidence) }}</td><td>{{ "%.3f"|format(b.accuracy) }}</td></tr>{% endfor %}
</table>
<h2>Limitations</h2><ul>{% for l in card.limitations %}<li>{{ l }}</li>{% endfor %}</ul>
</body></html>
"""


def build_card(model: DoseModel, evaluation: dict) -> dict:
    """The card as a JSON-ready dictionary."""
    drug = drug_model(model.drug)
    held = evaluation["heldout"]
    ci = held["ci95"]
    heldout = {}
    for name, m in held["methods"].items():
        heldout[name] = {k: m[k] for k in ("n", "within_20pct", "within_20pct_by_class", "mae", "accuracy",
                                            "recall", "low_predicted_high", "high_predicted_low")}
        heldout[name]["ece"] = m["calibration"]["ece"] if "calibration" in m else None
        heldout[name]["ci"] = ci.get(name)
    validation = {}
    if "cross_validation" in evaluation:
        cv = evaluation["cross_validation"]
        validation["cross_validation"] = {k: v for k, v in cv.items() if isinstance(v, dict)}
        validation["leave_one_site_out"] = evaluation["leave_one_site_out"]["pooled"]
    return {
        "model": {
            "drug": model.drug,
            "version": model.version,
            "dose_classes": model.info["dose_classes"],
            "dose_unit": drug.classes.unit,
            "classifier": "average of the class probabilities of a multinomial logistic regression on the features "
                          "and a logistic regression on the square root of the regressor's dose estimate"
                          + (f"; patients with {drug.dose_view_only[0]} {' or '.join(drug.dose_view_only[1])} get the "
                             "second alone" if drug.dose_view_only else ""),
            "regressor": (f"average on the sqrt(dose) scale of {drug.formula.doc} and least squares refitted on the "
                          "training part" if drug.formula else "least squares on sqrt(dose) fitted on the training part"),
            "interval": f"90% multiplicative interval from cross-validated actual/predicted ratios: dose x "
                        f"[{model.interval_ratio[0]:.3f}, {model.interval_ratio[1]:.3f}]",
            "random_state": model.info["random_state"],
            "library_versions": library_versions(),
        },
        "data": {"citation": drug.data_citation, "cohort": evaluation["cohort"]},
        "features": [{"name": f.name, "kind": f.kind, "doc": f.doc} for f in drug.spec.features],
        "feature_notes": list(drug.spec.notes),
        "metrics": {
            "heldout_n": held["n"],
            "heldout": heldout,
            "versus": {name: ci[f"model_minus_{name}"] for name in (drug.published_reference, drug.refitted_reference)},
            "published_reference": drug.published_reference,
            "interval_coverage": held["methods"]["model"]["interval_coverage"],
            "targets": held["targets"],
            "reliability": held["methods"]["model"]["calibration"]["curve"],
            "subgroup": held["subgroup"],
            "by_subgroup": held["by_subgroup"],
            "validation": validation,
        },
        "intended_use": drug.intended_use,
        "limitations": list(drug.limitations),
    }


def write_card(model: DoseModel, evaluation: dict, out_dir: str | Path) -> tuple[Path, Path]:
    """model_card.json and model_card.html in `out_dir`."""
    out_dir = Path(out_dir)
    card = build_card(model, evaluation)
    json_path = out_dir / "model_card.json"
    json_path.write_text(json.dumps(card, indent=2, sort_keys=False) + "\n")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    html_path = out_dir / "model_card.html"
    html_path.write_text(env.from_string(_TEMPLATE).render(card=card))
    return json_path, html_path
