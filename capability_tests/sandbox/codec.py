"""Plain data across the sandbox's process boundary: tagged JSON, nothing executable.

The candidate's process and the tester's process exchange arguments and return values only as
values of a few built-in types (None, bool, int, float, complex, str, bytes, list, tuple, dict,
set, frozenset). A subclass crosses as its base type, any other object is refused: an object
whose `__eq__` always says True never reaches the test. Messages are one JSON line each, bounded
in size and depth. This file is also sent as source text into the sandbox (it imports only the
standard library).
"""

import json
import math

MAX_MESSAGE_BYTES = 64 << 20
MAX_DEPTH = 200


class CodecError(ValueError):
    """A value that cannot cross, or a message that is not one of ours."""


def encode(value, depth=0):
    if depth > MAX_DEPTH:
        raise CodecError("value nested too deeply")
    if value is None or value is True or value is False:
        return value
    if isinstance(value, bool):  # a bool subclass cannot exist; kept for clarity
        return bool(value)
    if isinstance(value, int):
        return {"i": str(int(value))} if abs(int(value)) >= 2**53 else int(value)
    if isinstance(value, float):
        value = float(value)
        return value if math.isfinite(value) else {"f": repr(value)}
    if isinstance(value, str):
        return {"s": str(value)}
    if isinstance(value, complex):
        return {"c": [encode(value.real, depth + 1), encode(value.imag, depth + 1)]}
    if isinstance(value, (bytes, bytearray)):
        return {"b": bytes(value).hex()}
    if isinstance(value, list):
        return [encode(v, depth + 1) for v in value]
    if isinstance(value, tuple):
        return {"t": [encode(v, depth + 1) for v in value]}
    if isinstance(value, dict):
        return {"d": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    if isinstance(value, frozenset):
        return {"fs": [encode(v, depth + 1) for v in value]}
    if isinstance(value, set):
        return {"set": [encode(v, depth + 1) for v in value]}
    raise CodecError(f"cannot pass a {type(value).__name__} across the sandbox")


def decode(data, depth=0):
    if depth > MAX_DEPTH:
        raise CodecError("value nested too deeply")
    if data is None or isinstance(data, (bool, int, float)):
        return data
    if isinstance(data, list):
        return [decode(v, depth + 1) for v in data]
    if isinstance(data, dict) and len(data) == 1:
        (tag, body), = data.items()
        if tag == "s" and isinstance(body, str):
            return body
        if tag == "i" and isinstance(body, str):
            return int(body)
        if tag == "f" and body in ("nan", "inf", "-inf"):
            return float(body)
        if tag == "c" and isinstance(body, list) and len(body) == 2:
            return complex(decode(body[0], depth + 1), decode(body[1], depth + 1))
        if tag == "b" and isinstance(body, str):
            return bytes.fromhex(body)
        if tag == "t" and isinstance(body, list):
            return tuple(decode(v, depth + 1) for v in body)
        if tag == "d" and isinstance(body, list):
            out = {}
            for pair in body:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise CodecError("bad dict entry")
                out[decode(pair[0], depth + 1)] = decode(pair[1], depth + 1)
            return out
        if tag == "fs" and isinstance(body, list):
            return frozenset(decode(v, depth + 1) for v in body)
        if tag == "set" and isinstance(body, list):
            return set(decode(v, depth + 1) for v in body)
    raise CodecError("not a value of the sandbox's codec")


def write_message(fd, message):
    import os

    data = (json.dumps(message, separators=(",", ":")) + "\n").encode()
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class LineReader:
    """Reads newline-terminated JSON messages from a file descriptor, each bounded in size."""

    def __init__(self, fd):
        self.fd = fd
        self.buffer = b""

    def read(self):
        import os

        while b"\n" not in self.buffer:
            if len(self.buffer) > MAX_MESSAGE_BYTES:
                raise CodecError("message too large")
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                raise EOFError("the other side closed the channel")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):
            raise CodecError("message is not JSON") from None
        if not isinstance(message, dict):
            raise CodecError("message is not an object")
        return message
