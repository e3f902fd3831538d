"""Errors a user can cause and fix: a path, an annotation, a video, a value.

Raised where the input enters, each with one line naming the offending file
or value. The command-line tools print that line alone (no traceback) and
exit with status 2; anything else is a bug and keeps its traceback.
"""


class InputError(Exception):
    """Bad user input; the message names the file or value at fault."""
