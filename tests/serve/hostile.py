#!/usr/bin/python3
"""digitnet-serve against hostile requests: truncated files, huge declared
dimensions, decompression bombs, random bytes, empty bodies, wrong content
types, bodies over the limit, chunked and unframed bodies, long and endless
headers, idle connections. Each gets its status code with a one-line JSON error; the server
stays alive; its memory does not grow from round to round; more requests than
--max-in-flight get 503.
Usage: hostile.py BIN_DIR MNIST_DIR MODEL_DIR"""
import io
import json
import os
import socket
import struct
import sys
import tempfile
import threading
import time
import zlib

from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_lib import Server, fail, newest_checkpoint  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SEVEN = open(os.path.join(ROOT, "tests/fuzz/regressions/image/paper-7.png"), "rb").read()
SEVEN_JPEG = open(os.path.join(ROOT, "tests/fuzz/regressions/image/paper-7.jpg"), "rb").read()
MIB = 1 << 20


def png_header_only(width, height):
    """A PNG whose IHDR declares width x height (valid CRCs), with one tiny IDAT."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    idat = zlib.compress(b"\0" * 64)
    chunk += struct.pack(">I", len(idat)) + b"IDAT" + idat + struct.pack(">I", zlib.crc32(b"IDAT" + idat))
    return b"\x89PNG\r\n\x1a\n" + chunk + struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))


def jpeg_with_size(width, height):
    """A real JPEG whose frame header (SOF0) is rewritten to declare width x height."""
    data = bytearray(SEVEN_JPEG)
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def bmp_header(width, height):
    return b"BM" + struct.pack("<IHHI", 54, 0, 0, 54) + struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 0, 0, 0, 0)


def bomb(fmt, **save):
    """A 7900 x 7900 white page (62 megapixels, under the 64-megapixel limit): small file, large decode."""
    out = io.BytesIO()
    Image.new("L", (7900, 7900), 255).save(out, fmt, **save)
    return out.getvalue()


def hostile_bodies():
    """(name, body, headers, expected status) of POST /api/predict."""
    rnd = os.urandom(1 << 20)
    octets = {"Content-Type": "application/octet-stream"}
    return [
        ("empty body", b"", octets, 400),
        ("16 random bytes", rnd[:16], octets, 400),
        ("1 MiB of random bytes", rnd, octets, 400),
        ("random bytes as image/png", rnd[:5000], {"Content-Type": "image/png"}, 400),
        ("random bytes after a PNG signature", b"\x89PNG\r\n\x1a\n" + rnd[:5000], octets, 400),
        ("PNG cut at 100 bytes", SEVEN[:100], octets, 400),
        ("PNG cut in half", SEVEN[:len(SEVEN) // 2], octets, 400),
        ("JPEG cut in half", SEVEN_JPEG[:len(SEVEN_JPEG) // 2], octets, 400),
        ("PNG declaring 100000 x 100000", png_header_only(100000, 100000), octets, 400),
        ("PNG declaring 2^31-1 x 2^31-1", png_header_only(2**31 - 1, 2**31 - 1), octets, 400),
        ("JPEG declaring 65000 x 65000", jpeg_with_size(65000, 65000), octets, 400),
        ("BMP declaring 60000 x 60000", bmp_header(60000, 60000), octets, 400),
        ("blank 62-megapixel PNG", bomb("PNG"), octets, 400),
        ("blank 62-megapixel progressive JPEG", bomb("JPEG", progressive=True), octets, 400),
        ("random bytes, ?read=1", rnd[:3000], octets, 400),
        ("a PNG sent as text/plain", SEVEN, {"Content-Type": "text/plain"}, 200),
        ("a PNG sent as application/json", SEVEN, {"Content-Type": "application/json"}, 200),
        ("a PNG as multipart/form-data", SEVEN, {"Content-Type": "multipart/form-data; boundary=x"}, 415),
        ("a PNG with Content-Encoding: gzip", SEVEN, {"Content-Encoding": "gzip"}, 415),
        ("8 MiB + 1 byte", b"\0" * (8 * MIB + 1), octets, 413),
    ]


def raw(port, data, timeout=30):
    """Sends raw bytes on a new connection; (status, body) of the answer, (0, b'') if none.
    The sender never half-closes: cpp-httplib takes a half-closed connection for a dead one."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        answer = b""
        try:
            while True:
                part = s.recv(65536)
                if not part:
                    break
                answer += part
        except (ConnectionResetError, socket.timeout):
            pass
    if not answer.startswith(b"HTTP/1.1 "):
        return 0, b""
    return int(answer[9:12]), answer.split(b"\r\n\r\n", 1)[-1]


def raw_requests(port):
    """(name, raw request bytes, expected status): framing a client library would not send.
    Each ends where the server answers, so that it leaves nothing unread."""
    head = b"POST /api/predict HTTP/1.1\r\nHost: x\r\n"
    garbage = bytes(b % 94 + 33 for b in os.urandom(3000))
    return [
        ("chunked body", head + b"Transfer-Encoding: chunked\r\n\r\n", 411),
        ("body without Content-Length", head + b"\r\n", 411),
        ("Content-Length: -1", head + b"Content-Length: -1\r\n\r\n", 400),
        ("Content-Length: abc", head + b"Content-Length: abc\r\n\r\n", 400),
        ("announced 100 GB with Expect: 100-continue", head + b"Content-Length: 100000000000\r\nExpect: 100-continue\r\n\r\n", 413),
        ("a 64 KiB header line", b"GET / HTTP/1.1\r\nX-Long: " + b"a" * 65536 + b"\r\n", 431),
        ("20 KiB of headers", b"GET / HTTP/1.1\r\n" + b"X-Many: a\r\n" * 2000 + b"\r\n", 431),
        ("a 9 KiB request line", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 414),
        ("GET /api/predict", b"GET /api/predict HTTP/1.1\r\n\r\n", 404),
        ("POST /api/model with a body", b"POST /api/model HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 404),
        ("PUT /api/predict", b"PUT /api/predict HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 404),
        ("an unknown page", b"GET /etc/passwd HTTP/1.1\r\n\r\n", 404),
        ("a path escaping the root", b"GET /../../etc/passwd HTTP/1.1\r\n\r\n", 404),
        ("a head that is not HTTP", garbage + b"\r\n\r\n", 400),
    ]


def check_error_body(name, status, body):
    """An error is one line of JSON with an "error"."""
    if status >= 400:
        lines = body.decode("utf-8", "replace").strip().split("\n")
        if len(lines) != 1 or "error" not in json.loads(lines[0]):
            fail("%s: %d with a body that is not one line of JSON: %r" % (name, status, body[:200]))


def one_round(server, bodies, verbose):
    for name, body, headers, want in bodies:
        path = "/api/predict?read=1" if "read=1" in name else "/api/predict"
        try:
            status, answer = server.request("POST", path, body, headers)
        except (BrokenPipeError, ConnectionResetError):
            status, answer = 0, {}
        if status != want:
            fail("%s: status %d, expected %d (%s)" % (name, status, want, answer))
        check_error_body(name, status, json.dumps(answer).encode() if isinstance(answer, dict) else answer)
        if verbose:
            print("ok: %-44s -> %d %s" % (name, status, answer.get("error", "digit %s" % answer.get("digit"))))
        if not server.alive():
            fail("the server died on: " + name)
    for name, data, want in raw_requests(server.port):
        status, body = raw(server.port, data)
        if status != want:
            fail("%s: status %d, expected %d" % (name, status, want))
        check_error_body(name, status, body)
        if verbose:
            print("ok: %-44s -> %d %s" % (name, status, body.decode().strip()))
        if not server.alive():
            fail("the server died on: " + name)


def endless_header(server):
    """A header line that never ends: cut off at 16 KiB, and the server's memory does not follow it."""
    before, sent = server.rss_mib(), 0
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        try:
            s.sendall(b"GET / HTTP/1.1\r\nX-Endless: ")
            while sent < 256 * MIB:
                s.sendall(b"a" * 65536)
                sent += 65536
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            pass
    after = server.rss_mib()
    print("ok: an endless header line: cut off after %.1f MiB sent; RSS %.0f -> %.0f MiB" % (sent / MIB, before, after))
    if sent >= 64 * MIB or after > before + 16 or not server.alive():
        fail("an endless header line was read on: %d bytes sent, RSS %.0f -> %.0f MiB" % (sent, before, after))


def idle_connections(server, count):
    """Connections that send half a request and wait: they are timed out, and the server still answers."""
    socks = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(b"POST /api/predict HTTP/1.1\r\nContent-Length: 100\r\n")
        socks.append(s)
    started = time.time()
    status, answer = server.predict(SEVEN)
    waited = time.time() - started
    for s in socks:
        s.close()
    if status != 200 or answer["digit"] != 7:
        fail("with %d idle connections open, a real request got %d %s" % (count, status, answer))
    print("ok: %d idle half-sent connections: a real request still answered (after %.1f s)" % (count, waited))


def over_in_flight(bin_dir, checkpoint, bomb_png):
    """--threads 1 --max-in-flight 2 and 12 slow requests at once: 503 beyond the bound, nothing else fails."""
    server = Server(bin_dir, checkpoint, "--threads", "1", "--max-in-flight", "2")
    statuses = []
    lock = threading.Lock()

    def send():
        status, _ = server.predict(bomb_png)
        with lock:
            statuses.append(status)
    threads = [threading.Thread(target=send) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after, answer = server.predict(SEVEN)
    server.stop()
    counts = {s: statuses.count(s) for s in sorted(set(statuses))}
    print("ok: 12 slow requests at once with --max-in-flight 2: statuses %s; then %d" % (counts, after))
    if set(statuses) - {400, 503} or counts.get(503, 0) < 1 or counts.get(400, 0) < 2 or after != 200:
        fail("expected 400 (blank page) for the admitted ones and 503 for the others, then 200")


def main():
    bin_dir, _, model_dir = sys.argv[1:4]
    checkpoint = newest_checkpoint(model_dir)
    bodies = hostile_bodies()
    server = Server(bin_dir, checkpoint)
    try:
        status, _ = server.predict(SEVEN)
        rss = [server.rss_mib()]
        rounds = 3
        for r in range(rounds):
            one_round(server, bodies, verbose=r == 0)
            rss.append(server.rss_mib())
        endless_header(server)
        idle_connections(server, 25)
        rss.append(server.rss_mib())
        print("RSS (MiB) after a first request, after each of %d rounds of %d hostile requests, after idle connections: %s"
              % (rounds, len(bodies) + len(raw_requests(0)), " ".join("%.0f" % x for x in rss)))
        if not server.alive():
            fail("the server died")
        # Decoding a 62-megapixel page takes memory once; repeating must not take more.
        if rss[-1] > rss[2] + 16 or max(rss) > 512:
            fail("memory grows: %.0f MiB after the second round, %.0f MiB at the end" % (rss[2], rss[-1]))
    finally:
        status = server.stop()
    if status != 0:
        fail("digitnet-serve exited %s on SIGTERM" % status)
    over_in_flight(bin_dir, checkpoint, bodies[12][1])
    print("ok: every hostile request answered with its status, the server alive, its memory bounded")


main()
