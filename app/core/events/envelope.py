"""Split a JSON array envelope into its elements' byte spans, without decoding them.

Used when the whole message does not parse: a bad byte or a syntax error inside one
element then costs that element only. The scanner knows strings (with escapes) and
brackets and nothing else; whatever lies between two top-level commas is one element,
decoded and validated on its own.

>>> raw = b' [{"a": "x,]"}, 7 ,\\xff] '
>>> [raw[s:e] for s, e in split_array(raw)]
[b'{"a": "x,]"}', b' 7 ', b'\\xff']
>>> split_array(b'[1, 2'), split_array(b'[1] [2]'), split_array(b'[{]}')
(None, None, None)
"""

from __future__ import annotations

import re

__all__ = ["split_array"]

_STRING = rb'"(?:[^"\\]++|\\.)*+"'
#: A bracket, or a run of anything else (complete strings included), or a lone quote
#: (an unterminated string). Runs keep the token count near a few per element.
_COARSE = re.compile(rb"[\[\]{}]|(?:[^\"\[\]{}]++|" + _STRING + rb")++|\"", re.DOTALL)
#: Inside a run at depth 1: the commas that are not inside a string.
_COMMA = re.compile(_STRING + rb"|,", re.DOTALL)
_OPEN = {ord("["): ord("]"), ord("{"): ord("}")}
_CLOSE = frozenset(_OPEN.values())
_QUOTE = ord('"')
_WS = b" \t\r\n"


def split_array(raw: bytes) -> list[tuple[int, int]] | None:
    """``(start, end)`` of each top-level element of a JSON array, or None.

    None: ``raw`` is not one delimitable array (no opening bracket, unbalanced or
    mismatched brackets, an unterminated string, or content around the array).
    Elements are not checked: an empty or malformed span is the caller's to report.
    """
    stack: list[int] = []
    spans: list[tuple[int, int]] = []
    start = 0
    closed = False
    for m in _COARSE.finditer(raw):
        s, e = m.span()
        c = raw[s]
        if c == _QUOTE and e - s == 1:
            return None  # unterminated string
        if not stack:
            if not closed and c == ord("["):
                stack.append(ord("]"))
                start = e
            elif raw[s:e].strip(_WS):
                return None  # content before or after the array
            continue
        if c in _OPEN:
            stack.append(_OPEN[c])
        elif c in _CLOSE:
            if stack.pop() != c:
                return None
            if not stack:
                spans.append((start, s))
                closed = True
        elif len(stack) == 1:  # a run between top-level elements (or a scalar element)
            for comma in _COMMA.finditer(raw, s, e):
                if comma.end() - comma.start() == 1 and raw[comma.start()] == ord(","):
                    spans.append((start, comma.start()))
                    start = comma.end()
    return spans if closed else None
