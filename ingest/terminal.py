"""Attacker-controlled text made safe for a terminal (host, account, service and file names, problems).

Log fields and file or zip-member names are data written by whoever controlled the logged machine.
Printed raw, an ESC sequence can clear the screen, set the window title or hide text, a carriage
return or newline can forge report lines, and a bidirectional override can reorder what the
analyst reads. :func:`term_safe` shows every such character visibly as a Python-style escape
(``\\x1b``, ``\\n``, ``\\u202e``); everything the CLI prints goes through it (the commands in
``app/commands`` and :meth:`ingest.report.IngestReport.format_text`). :func:`json_safe` does the same
for JSON printed to a terminal (JSON already escapes C0 controls; C1 controls and bidi overrides are
escaped as ``\\u`` escapes, so the JSON stays valid and decodes to the same strings).
"""

from __future__ import annotations

import re

#: C0 controls, DEL, C1 controls, bidirectional overrides/isolates and the line/paragraph separators.
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
#: What JSON leaves raw inside strings (it escapes C0 controls itself; its own newlines are layout).
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def term_safe(text: object) -> str:
    """``str(text)`` with control and reordering characters shown as visible escapes.

    Examples:
        >>> term_safe("WS01\\x1b]0;pwned\\x07")
        'WS01\\\\x1b]0;pwned\\\\x07'
        >>> term_safe("evil\\nlatgraph: 0 problem(s)")
        'evil\\\\nlatgraph: 0 problem(s)'
        >>> term_safe("admin\\u202egpj.exe")
        'admin\\\\u202egpj.exe'
        >>> term_safe("PC01 é ☃")
        'PC01 é ☃'
    """
    s = text if isinstance(text, str) else str(text)
    return UNSAFE.sub(_escape, s) if UNSAFE.search(s) else s


def term_lines(text: str) -> str:
    """Multi-line output built by the program: each line made safe, the program's own newlines kept."""
    return "\n".join(term_safe(line) for line in text.split("\n"))


def json_safe(text: str) -> str:
    """JSON text (from ``json.dumps(..., ensure_ascii=False)``) with C1 controls, bidi overrides and
    line separators written as ``\\uXXXX`` escapes (they can only occur inside JSON strings).

    Examples:
        >>> json_safe('{"host": "A\\u009b2J"}')
        '{"host": "A\\\\u009b2J"}'
    """
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text) if _JSON_UNSAFE.search(text) else text
