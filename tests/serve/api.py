#!/usr/bin/python3
"""POST /api/predict answers exactly what digitnet-score --images --json says of
the same file: digit, probability, top classes, uncertain and the pixels the
network saw; with ?read=1 the same number and digits; a file the scorer refuses
is a 400 with the scorer's message. GET /api/model describes the checkpoint.
Usage: api.py BIN_DIR MNIST_DIR MODEL_DIR"""
import gzip
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_lib import Server, fail, newest_checkpoint  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FUZZ_IMAGES = os.path.join(ROOT, "tests", "fuzz", "regressions", "image")
NUMBERS = {"paper-number.png", "strip-600x20.png", "colour-number.jpg"}


def mnist_pngs(mnist_dir, out, count):
    """The first `count` MNIST test digits as PNG files, as tests/e2e/make_images.py writes them."""
    path = os.path.join(mnist_dir, "t10k-images-idx3-ubyte")
    data = open(path, "rb").read() if os.path.exists(path) else gzip.open(path + ".gz").read()
    images = np.frombuffer(data, np.uint8, offset=16).reshape(-1, 28, 28)
    files = []
    for i in range(count):
        files.append(os.path.join(out, "mnist-%05d.png" % i))
        Image.fromarray(images[i]).save(files[-1])
    # The same digit as a photo would be: dark ink on light paper, 5x larger, as JPEG.
    big = Image.fromarray(255 - images[0]).resize((140, 140), Image.BILINEAR)
    files.append(os.path.join(out, "mnist-00000-paper.jpg"))
    big.save(files[-1], quality=90)
    return files


def scored(bin_dir, checkpoint, path, read):
    """digitnet-score's JSON of one file: (its image entry, or None with its error)."""
    cmd = [os.path.join(bin_dir, "digitnet-score"), checkpoint, "--images", path, "--json"] + (["--read"] if read else [])
    out = subprocess.run(cmd, capture_output=True, text=True)
    j = json.loads(out.stdout)
    if j["errors"]:
        return None, j["errors"][0]["error"]
    return j["results"][0]["images"][0], None


def same_digit(api, score, what):
    if api["digit"] != score["predicted"] or api["probability"] != score["probability"]:
        fail("%s: API %s (%r), scorer %s (%r)" % (what, api["digit"], api["probability"], score["predicted"], score["probability"]))
    top = [[t["class"], t["probability"]] for t in score["top"]]
    if api["top"][:len(top)] != top or len(api["top"]) != 10:
        fail("%s: API top %s, scorer top %s" % (what, api["top"][:3], top))
    if api["pixels"] != score["pixels"]:
        fail("%s: the network saw other pixels through the API" % what)


def compare(server, bin_dir, checkpoint, path):
    read = os.path.basename(path) in NUMBERS
    score, error = scored(bin_dir, checkpoint, path, read)
    status, api = server.predict(open(path, "rb").read(), read)
    name = os.path.basename(path) + (" (read)" if read else "")
    if error is not None:
        if status != 400 or not api["error"].endswith(error):
            fail("%s: the scorer refuses it (%s), the API answered %d %s" % (name, error, status, api))
        return "%s: refused by both (%s)" % (name, error)
    if status != 200:
        fail("%s: API status %d: %s" % (name, status, api))
    if api["uncertain"] != score["uncertain"]:
        fail("%s: uncertain %s (API) vs %s (scorer)" % (name, api["uncertain"], score["uncertain"]))
    if read:
        if api["number"] != score["number"] or len(api["digits"]) != len(score["digits"]):
            fail("%s: API read %s, scorer %s" % (name, api["number"], score["number"]))
        for k, (a, s) in enumerate(zip(api["digits"], score["digits"])):
            same_digit(a, s, "%s digit %d" % (name, k))
        return "%s: %s, as the scorer" % (name, api["number"])
    same_digit(api, score, name)
    return "%s: %d (%.4f), as the scorer" % (name, api["digit"], api["probability"])


def check_model(server, checkpoint):
    status, m = server.request("GET", "/api/model")
    if status != 200 or m["rows"] != 28 or m["cols"] != 28 or m["classes"] != 10 or not m["model"].startswith("784-"):
        fail("GET /api/model: %d %s" % (status, m))
    if not 0.9 < m["test_accuracy"] <= 1 or m["step"] <= 0 or m["checkpoint"] != checkpoint:
        fail("GET /api/model: step or recorded test accuracy wrong: %s" % m)
    print("ok: GET /api/model: %s" % json.dumps(m))


def check_loopback_only(port):
    """By default the server listens on 127.0.0.1 only (/proc/net/tcp: local address 0100007F, state 0A)."""
    listening = [line.split()[1] for name in ("/proc/net/tcp", "/proc/net/tcp6") for line in open(name).readlines()[1:]
                 if line.split()[3] == "0A" and int(line.split()[1].split(":")[1], 16) == port]
    if listening != ["0100007F:%04X" % port]:
        fail("port %d is listened on at %s, expected 127.0.0.1 only" % (port, listening))
    print("ok: listening on 127.0.0.1:%d only" % port)


def main():
    bin_dir, mnist_dir, model_dir = sys.argv[1:4]
    checkpoint = newest_checkpoint(model_dir)
    with tempfile.TemporaryDirectory(prefix="digitnet-api.") as tmp:
        files = mnist_pngs(mnist_dir, tmp, 12) + sorted(os.path.join(FUZZ_IMAGES, f) for f in os.listdir(FUZZ_IMAGES))
        open(os.path.join(tmp, "text.png"), "w").write("not an image at all\n")
        Image.new("L", (300, 200), 230).save(os.path.join(tmp, "blank.jpg"))
        files += [os.path.join(tmp, "text.png"), os.path.join(tmp, "blank.jpg")]
        server = Server(bin_dir, model_dir)  # a directory: its newest checkpoint
        try:
            check_loopback_only(server.port)
            check_model(server, checkpoint)
            for path in files:
                print("ok: " + compare(server, bin_dir, checkpoint, path))
        finally:
            status = server.stop()
        if status != 0:
            fail("digitnet-serve exited %s on SIGTERM" % status)
    print("ok: %d files: the API answered as digitnet-score --images --json" % len(files))


main()
