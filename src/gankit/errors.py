"""The one exception type whose message the CLI prints as a single line, without a traceback."""


class GankitError(Exception):
    """A problem the user can fix: the message names what is wrong and how to fix it."""
