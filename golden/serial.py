"""The board link: framed requests and answers over a UART, and what the board must answer.

This is the reference of the serial protocol that :mod:`hdl.serial` implements and
:mod:`host.run` speaks; the tests compare the hardware's bytes with :func:`board_reply`.

Framing (SLIP, RFC 1055)
------------------------
Every frame is ``END`` + escaped body + ``END`` with ``END = 0xC0``; inside a body ``0xC0``
is sent as ``0xDB 0xDC`` and ``0xDB`` as ``0xDB 0xDD``, so ``END`` never occurs inside a
frame and a receiver finds the next frame boundary whatever was lost or added before it.
The last two bytes of every body are its CRC-16 (CRC-16/CCITT-FALSE: polynomial
``x^16 + x^12 + x^5 + 1``, 0x1021, initial value 0xFFFF, no reflection, no final XOR),
high byte first, over the bytes before them; so the CRC of a whole good body is 0. Two
bytes, not one: a dropped and an added byte in one frame keep its length, and a CRC-8
would pass one such body in 256.

Request body (host -> board): ``seq`` (one byte, any value), then the image's input: the
first layer's input *bits* packed 8 per byte when the model binarizes its input
(feature ``k`` in bit ``k % 8`` of byte ``k // 8``, pad bits 0), else the 8-bit pixels,
one byte each (the board applies the model's input table, if any). Then the CRC.

Answer body (board -> host): ``seq`` (the request's), the label byte, every class score
as a signed little-endian integer of ``ceil(score_width / 8)`` bytes, then the CRC.

The board answers exactly the requests whose body has the right length and CRC, in order,
and drops every other frame (a lost, added or corrupted byte, a UART framing error or a
break costs the frame it hit, and nothing else). Consecutive frames may share one ``END``.

Flow control: the line has none, so a host keeps at most :func:`frames_in_flight` requests
unanswered (the board buffers that many payloads); then no frame is ever dropped for lack
of room, whether the line or the network is the slower. A frame that arrives when the
buffer is full is dropped like a damaged one.
"""

import numpy as np

from .errors import ModelError
from .model import BINARY
from .network import run
from .packing import score_width

__all__ = ["END", "ESC", "CRC_BYTES", "crc16", "crc_bytes", "crc_ok", "flash_payload", "escape",
           "frames",
           "payload_bytes", "frames_in_flight", "request_payload", "request_frame",
           "answer_body", "answer_frame", "board_reply", "link_figures"]

END, ESC, ESC_END, ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD
POLY = 0x1021
CRC_INIT = 0xFFFF
CRC_BYTES = 2


def _crc_table():
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ POLY) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
        table.append(crc)
    return table


CRC_TABLE = _crc_table()


def crc16(data, crc=CRC_INIT):
    """CRC-16/CCITT-FALSE of ``data`` continuing from ``crc``."""
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ CRC_TABLE[(crc >> 8) ^ byte]
    return crc


def crc_bytes(body):
    """The two CRC bytes that end a body (high byte first)."""
    return crc16(body).to_bytes(CRC_BYTES, "big")


def flash_payload(image):
    """What the board's flash holds for SPRAM weights: the load ``image``
    (:func:`golden.packing.spram_image`) and its CRC-16 (:func:`crc_bytes`), which the
    board checks before it answers any request."""
    return bytes(image) + crc_bytes(image)


def crc_ok(body):
    """A body (its CRC included) checks: the CRC over all of it is 0."""
    return len(body) > CRC_BYTES and crc16(body) == 0


def escape(body):
    out = bytearray()
    for byte in body:
        if byte == END:
            out += bytes((ESC, ESC_END))
        elif byte == ESC:
            out += bytes((ESC, ESC_ESC))
        else:
            out.append(byte)
    return bytes(out)


def frames(stream):
    """The unescaped bodies between ``END`` bytes of ``stream`` (empty bodies skipped); a
    body with a bad escape sequence comes back as None. Bytes after the last ``END`` are an
    unfinished frame and are not returned."""
    out, body, bad = [], bytearray(), False
    escaped = False
    for byte in stream:
        if byte == END:
            if body or bad:
                out.append(None if bad or escaped else bytes(body))
            body, bad, escaped = bytearray(), False, False
        elif escaped:
            if byte == ESC_END:
                body.append(END)
            elif byte == ESC_ESC:
                body.append(ESC)
            else:
                bad = True
            escaped = False
        elif byte == ESC:
            escaped = True
        else:
            body.append(byte)
    return out


def payload_bytes(network):
    """Bytes of one request's image input (without seq and CRC)."""
    features = network.input.features
    return -(-features // 8) if network.input.encoding == BINARY else features


def frames_in_flight(network):
    """Request payloads the board buffers: at least 3, more while they fit one 512-byte
    block RAM."""
    return max(3, 512 // payload_bytes(network))


def request_payload(network, image):
    """The input bytes of one image (uint8 pixels of the model's input shape)."""
    image = np.asarray(image)
    if image.shape != network.input.shape:
        raise ModelError(f"an image has shape {image.shape}, the model takes "
                         f"{network.input.shape}")
    if network.input.encoding == BINARY:
        bits = network.input(image[None])[0]
        return np.packbits(bits, bitorder="little").tobytes()
    return np.asarray(image, np.uint8).reshape(-1).tobytes()


def request_frame(network, seq, image):
    body = bytes((seq & 0xFF,)) + request_payload(network, image)
    return bytes((END,)) + escape(body + crc_bytes(body)) + bytes((END,))


def answer_body(network, seq, label, scores):
    nbytes = -(-score_width(network) // 8)
    body = bytearray((seq & 0xFF, int(label)))
    for s in scores:
        body += int(s).to_bytes(nbytes, "little", signed=True)
    return bytes(body) + crc_bytes(body)


def answer_frame(network, seq, label, scores):
    return bytes((END,)) + escape(answer_body(network, seq, label, scores)) + bytes((END,))


def _image_of(network, payload):
    """Pixels (or bits, for a binarized input) of a request payload."""
    if network.input.encoding == BINARY:
        bits = np.unpackbits(np.frombuffer(payload, np.uint8), bitorder="little")
        return bits[:network.input.features]
    return np.frombuffer(payload, np.uint8).reshape(network.input.shape)


def board_reply(network, stream, bad=()):
    """The bytes the board sends for the request bytes ``stream``: one answer frame per
    valid request frame, in order. ``bad``: positions in ``stream`` of bytes that reach the
    board damaged (a UART framing error or a break): the frame holding one is dropped."""
    stream = bytes(stream)
    bad = set(bad)
    out = bytearray()
    expect = 1 + payload_bytes(network) + CRC_BYTES
    start = 0
    positions = [k for k, b in enumerate(stream) if b == END]
    for end in positions:
        chunk = stream[start:end]
        damaged = any(start <= k < end for k in bad)
        start = end + 1
        if not chunk:
            continue
        bodies = frames(bytes((END,)) + chunk + bytes((END,)))
        body = bodies[0] if bodies else None
        if damaged or body is None or len(body) != expect or not crc_ok(body):
            continue
        payload = body[1:-CRC_BYTES]
        image = _image_of(network, payload)
        if network.input.encoding == BINARY:
            trace = run(network, bits=image[None])
        else:
            trace = run(network, image[None])
        out += answer_frame(network, body[0], trace.labels[0], trace.scores[0])
    return bytes(out)


def link_figures(network, baud, answer_baud=None):
    """Bytes per request and answer frame (no escapes; one shared ``END`` per frame), the
    requests a host keeps in flight, and the line-limited images/s (8N1: 10 bits per
    byte). Requests arrive at the host's ``baud``; answers leave at ``answer_baud`` (the
    board's clock over its divisor, within 2 % of ``baud``; default ``baud``): the
    receiver re-times every byte on its start edge, so it takes bytes at the host's rate."""
    answer_baud = baud if answer_baud is None else answer_baud
    request = 1 + 1 + payload_bytes(network) + CRC_BYTES
    answer = 1 + 1 + 1 + len(network.classes) * -(-score_width(network) // 8) + CRC_BYTES
    return {"baud": baud, "request_bytes": request, "answer_bytes": answer,
            "in_flight": frames_in_flight(network),
            "images_per_second": round(min(baud / (10 * request),
                                           answer_baud / (10 * answer)), 1)}
