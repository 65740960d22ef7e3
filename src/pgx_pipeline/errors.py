"""The one error type a user can hit; the CLI prints its message, never a traceback."""


class PgxInputError(Exception):
    """Bad input or configuration: the message names the file/line/sample and what to do."""

    def __init__(self, message: str, *, path: object = None, sample: str | None = None) -> None:
        prefix = []
        if path is not None:
            prefix.append(str(path))
        if sample is not None:
            prefix.append(f"sample {sample!r}")
        self.path = path
        self.sample = sample
        super().__init__(": ".join(prefix + [message]) if prefix else message)


def user_errors(func):
    """CLI decorator: a PgxInputError is printed as one line (no traceback) and the command exits 2."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        import sys

        import click

        try:
            return func(*args, **kwargs)
        except PgxInputError as exc:
            click.echo(f"pgx-pipeline: error: {exc}", err=True)
            sys.exit(2)

    return wrapper
