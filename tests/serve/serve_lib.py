"""Shared helpers of the digitnet-serve tests: start the real server on a free
loopback port, talk to it over real sockets, read its memory from /proc."""
import http.client
import json
import os
import re
import subprocess
import sys
import time


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


class Server:
    """digitnet-serve CHECKPOINT --port 0 [args]; the port is read off its banner."""

    def __init__(self, bin_dir, checkpoint, *args):
        self.proc = subprocess.Popen([os.path.join(bin_dir, "digitnet-serve"), checkpoint, "--port", "0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.banner = []
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                fail("digitnet-serve exited before listening: " + "".join(self.banner))
            self.banner.append(line)
            found = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", line)
            if found:
                self.port = int(found.group(1))
                self.url = "http://127.0.0.1:%d" % self.port
                return
        fail("digitnet-serve did not say where it listens")

    def request(self, method, path, body=None, headers=None, timeout=60):
        """(status, parsed JSON or raw bytes) of one request on a new connection."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            res = conn.getresponse()
            data = res.read()
        finally:
            conn.close()
        if res.getheader("Content-Type", "").startswith("application/json"):
            return res.status, json.loads(data)
        return res.status, data

    def predict(self, image_bytes, read=False):
        return self.request("POST", "/api/predict" + ("?read=1" if read else ""), image_bytes,
                            {"Content-Type": "application/octet-stream"})

    def alive(self):
        return self.proc.poll() is None

    def rss_mib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
        return 0.0

    def stop(self):
        """SIGTERM; the server must stop cleanly with status 0."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                fail("digitnet-serve did not stop on SIGTERM")
        return self.proc.returncode


def newest_checkpoint(model_dir):
    files = sorted(f for f in os.listdir(model_dir) if re.fullmatch(r"ckpt-\d{8}\.pb", f))
    if not files:
        fail("no checkpoint in " + model_dir)
    return os.path.join(model_dir, files[-1])
