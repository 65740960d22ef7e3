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
