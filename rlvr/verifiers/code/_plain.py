"""Plain data between the program's process and the judge's: encoding and the line channel.

Plain data is None, bool, int, float, complex, str, bytes, and lists, tuples, dicts, sets and
frozensets of plain data. It travels as one line of JSON per message, each value tagged so
that its exact type survives: JSON's null, true/false, numbers and strings stand for
themselves; `{"I": hex}` is an int too long for a JSON number, `{"c": [re, im]}`, `{"b": hex}`,
`{"l": [...]}`, `{"t": [...]}`, `{"s": [...]}`, `{"f": [...]}`, `{"d": [[key, value], ...]}`
the other types, and `{"h": n}` an object that stays behind in its process (a handle).

`decode` is the judge's only way of turning the program's bytes into objects: it builds
exact builtin types (never a subclass, never an object of the program's making), so a value
the judge compares has the builtins' `__eq__` and `__hash__`, whatever the program defined.
`encode` reduces an instance of a subclass of these types (a namedtuple, a Counter, an
IntEnum member, a str subclass) to the builtin value it holds, read with the base type's own
methods, so overridden methods play no part; anything else goes to `ref` for a handle.
"""
import json
import os

MAX_DEPTH = 100
"""Deeper values are not plain data (and a self-containing list is infinitely deep)."""
_BIG = 1 << 3000  # about 900 digits; longer ints travel as hex (str-to-int caps decimals at 4300)
_BASES = (int, float, complex, str, bytes, list, tuple, dict, set, frozenset)  # bool: no subclasses
_FLAT = (type(None), bool, int, float, str)  # exact types that are their own JSON (ints below _BIG)


def encode(value, ref, depth=0):
    """A JSON-ready form of `value`; `ref(obj)` gives the handle number of a non-plain object
    (or raises TypeError where such objects may not travel)."""
    kind = type(value)
    if value is None or kind is bool or kind is str or (kind is int and -_BIG < value < _BIG) or kind is float:
        return value
    base = next((b for b in _BASES if issubclass(kind, b)), None)
    if base is None or depth >= MAX_DEPTH:
        return {"h": ref(value)}
    if base is int:
        value = int.__int__(value)  # an exact int whatever the subclass's __int__ or __index__
        return value if -_BIG < value < _BIG else {"I": hex(value)}
    if base is float:
        return float.__float__(value)
    if base is str:
        return str.__str__(value)
    if base is complex:
        return {"c": [complex.real.__get__(value), complex.imag.__get__(value)]}
    if base is bytes:
        return {"b": bytes.hex(value)}
    if base is dict:
        return {"d": [[encode(k, ref, depth + 1), encode(v, ref, depth + 1)] for k, v in dict.items(value)]}
    items = list(base.__iter__(value))
    if not all(type(v) in _FLAT for v in items) or any(type(v) is int and not -_BIG < v < _BIG for v in items):
        items = [encode(v, ref, depth + 1) for v in items]  # else they are their own JSON, as they are
    return {{list: "l", tuple: "t", set: "s", frozenset: "f"}[base]: items}


def decode(data, deref, depth=0):
    """The value `data` (as `json.loads` returns it) stands for; `deref(n)` gives the object
    of handle n. Anything out of the format raises ValueError (or TypeError: an unhashable
    set member or dict key)."""
    kind = type(data)
    if data is None or kind in (bool, int, float, str):
        return data
    if kind is not dict or len(data) != 1 or depth >= MAX_DEPTH:
        raise ValueError("not plain data")
    (tag, body), = data.items()
    kind = type(body)
    if tag == "h" and kind is int:
        return deref(body)
    if tag == "I" and kind is str:
        return int(body, 16)
    if tag == "b" and kind is str:
        return bytes.fromhex(body)
    if tag == "c" and kind is list and len(body) == 2 and all(type(x) in (int, float) for x in body):
        return complex(*body)
    if kind is not list:
        raise ValueError("not plain data")
    if tag == "d":
        if not all(type(kv) is list and len(kv) == 2 for kv in body):
            raise ValueError("not plain data")
        return {decode(k, deref, depth + 1): decode(v, deref, depth + 1) for k, v in body}
    make = {"l": list, "t": tuple, "s": set, "f": frozenset}.get(tag)
    if make is None:
        raise ValueError("not plain data")
    if all(type(x) in _FLAT for x in body):  # a million numbers decode in C, not one by one
        return make(body)
    return make(decode(x, deref, depth + 1) for x in body)


class Link:
    """Messages (JSON lines) over a pair of pipe descriptors; a line longer than `max_bytes`
    raises ValueError, the other side's end closing raises EOFError."""

    def __init__(self, read_fd, write_fd, max_bytes=8 << 20):
        self.read_fd, self.write_fd, self.max_bytes = read_fd, write_fd, max_bytes
        self.buffer = bytearray()
        # bound now: the program may replace os.read or json.dumps later, but only in its own copy
        self._read, self._write, self._dumps, self._loads = os.read, os.write, json.dumps, json.loads

    def send(self, message):
        data = memoryview((self._dumps(message, separators=(",", ":")) + "\n").encode("ascii"))
        while data:
            data = data[self._write(self.write_fd, data):]

    def recv(self):
        scanned = 0  # no newline before this offset: a long line is searched once, not per chunk
        while True:
            end = self.buffer.find(b"\n", scanned)
            if end >= 0:
                line = bytes(self.buffer[:end])
                del self.buffer[:end + 1]
                return self._loads(line)
            scanned = len(self.buffer)
            if scanned > self.max_bytes:
                raise ValueError("message too long")
            chunk = self._read(self.read_fd, 1 << 16)
            if not chunk:
                raise EOFError("the other side closed the pipe")
            self.buffer += chunk
