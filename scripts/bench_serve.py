#!/usr/bin/python3
"""Load test of digitnet-serve, on this machine only (loopback): CLIENTS threads
each send REQUESTS POST /api/predict requests, one after the other, each on a
new connection (the server closes every connection after its answer); prints
p50 and p99 latency and requests per second, and exits 1 if any request failed.
The body is a 7 drawn as network input (28x28 PNG), or with --drawing as the page
sends it (448x280: the whole preprocessing runs), or --image FILE. It stops by itself: CLIENTS x REQUESTS requests, 60 s at most each.

  scripts/bench_serve.py --url http://127.0.0.1:8080           # a running server
  scripts/bench_serve.py --serve build/digitnet-serve CKPT     # starts one on a free port, stops it after
"""
import argparse
import http.client
import io
import re
import subprocess
import sys
import threading
import time
import urllib.parse


def digit_png(drawing):
    """A hand-drawn 7: by default already network input (28x28, white on black, as an MNIST
    digit: preprocessing passes it through); with drawing, as the page's canvas.toBlob
    gives it (448x280, dark on white: the whole preprocessing runs)."""
    from PIL import Image, ImageDraw
    size, ink, paper, width, points = (((448, 280), 17, 255, 18, [(175, 50), (275, 50), (205, 235)]) if drawing else
                                       ((28, 28), 255, 0, 2, [(9, 6), (19, 6), (12, 22)]))
    img = Image.new("L", size, paper)
    ImageDraw.Draw(img).line(points, fill=ink, width=width, joint="curve")
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def start_server(serve, checkpoint):
    proc = subprocess.Popen([serve, checkpoint, "--port", "0"], stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:
        found = re.search(r"listening on (http://127\.0\.0\.1:\d+)/", line)
        if found:
            return proc, found.group(1)
    sys.exit("bench_serve: digitnet-serve exited before listening")


def client(host, port, body, count, latencies, errors):
    headers = {"Content-Type": "image/png"}
    for _ in range(count):
        started = time.perf_counter()
        try:
            conn = http.client.HTTPConnection(host, port, timeout=60)
            conn.request("POST", "/api/predict", body, headers)
            res = conn.getresponse()
            answer = res.read()
            conn.close()
            ok = res.status == 200 and b'"digit"' in answer
        except (OSError, http.client.HTTPException):
            ok = False
        latencies.append(time.perf_counter() - started)
        if not ok:
            errors.append(1)


def percentile(sorted_values, q):
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="a running server (loopback only)")
    ap.add_argument("--serve", nargs=2, metavar=("DIGITNET_SERVE", "CHECKPOINT"), help="start a server for the test")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=500, help="per client")
    ap.add_argument("--image", help="the body to send (default: a drawn 7 as a 28x28 PNG)")
    ap.add_argument("--drawing", action="store_true", help="send a 448x280 drawing, as the page does")
    args = ap.parse_args()
    proc = None
    if args.serve:
        proc, url = start_server(*args.serve)
    elif args.url:
        url = args.url
    else:
        ap.error("--url or --serve is required")
    target = urllib.parse.urlparse(url)
    if target.hostname not in ("127.0.0.1", "localhost", "::1"):
        ap.error("the load test only targets this machine (127.0.0.1, localhost, ::1)")
    body = open(args.image, "rb").read() if args.image else digit_png(args.drawing)
    latencies, errors = [], []
    threads = [threading.Thread(target=client, args=(target.hostname, target.port, body, args.requests, latencies, errors))
               for _ in range(args.clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if proc:
        proc.terminate()
        proc.wait(timeout=20)
    latencies.sort()
    print("bench_serve: %d clients x %d requests (%d-byte PNG): %d errors, p50 %.2f ms, p99 %.2f ms, %.0f requests/s (%.2f s)"
          % (args.clients, args.requests, len(body), len(errors), 1000 * percentile(latencies, 0.5),
             1000 * percentile(latencies, 0.99), len(latencies) / elapsed, elapsed))
    return 1 if errors else 0


sys.exit(main())
