"""`python -m pgx_pipeline.report`: the report commands without the main CLI."""

from .cli import report

report()
