"""The one exception type whose message the CLI prints as a single line, without a traceback."""


class GankitError(Exception):
    """A problem the user can fix: the message names what is wrong and how to fix it."""


def first_line(err: BaseException, limit: int = 100) -> str:
    """The first line of an exception's message (its type name when it has none), shortened."""
    lines = str(err).splitlines()
    return (lines[0] if lines else type(err).__name__)[:limit]
