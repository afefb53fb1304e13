"""The command's one error type."""


class UsageError(Exception):
    """A problem with the command line or the input: one line, exit code 2."""
