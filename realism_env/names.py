"""The rule for the names one registers: doctrines, scenarios and (in :mod:`agents`) policies.

Each name stands on command lines (``--doctrine``, ``--scenario``, ``--background``), in comma-separated lists and
``KEY=VALUE`` or ``name:count`` specs (``--teachers power=offensive_realist``, ``--population``), in results columns
(``security:return``) and in file names. So one rule for all: letters, digits, ``_``, ``.`` and ``-``, led by a letter,
digit or ``_`` (a leading ``-`` reads as an option); ``,``, ``=``, ``:``, ``/`` and spaces are out. A kind of name may
allow a few characters more (a policy's, ``+``: a learned policy's name holds its run's doctrine mix).
"""

from __future__ import annotations

import re

#: The rule in words, for error messages.
NAME_RULE = "ASCII letters, digits, '_', '.' and '-', starting with a letter, digit or '_'"


def valid_name(name: object, also: str = "") -> bool:
    """Whether ``name`` is a string that follows the rule (:data:`NAME_RULE`), with the characters of ``also`` allowed
    after the first."""
    return isinstance(name, str) and re.fullmatch(rf"\w[\w.{re.escape(also)}-]*", name, flags=re.ASCII) is not None
