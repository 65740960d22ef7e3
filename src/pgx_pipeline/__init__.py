"""pgx-pipeline: batch pharmacogenomics from VCF to clinician report."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pgx-pipeline")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+source"
