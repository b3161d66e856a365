#!/usr/bin/python3
"""The scaling model (scripts/scaling_model.py, scripts/openmpi_tuned.py) on a real
measurement of scripts/bench-cluster.sh kept in tests/fixtures: the fit reproduces what
it was fitted to, predictions are sane, Open MPI's rules and costs match what the link
counters saw, and bad files get a one-line error.

usage: scaling_model_test.py SCRIPTS_DIR MEASUREMENTS.json   (CTest: scaling_model, label unit)
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import unittest

SCRIPTS, FIXTURE = sys.argv[1], sys.argv[2]
sys.path.insert(0, SCRIPTS)
import openmpi_tuned as mpi  # noqa: E402
import scaling_model as sm  # noqa: E402

HOSTS = [1, 2, 3, 4, 8, 16, 32, 64, 128, 256, 512]
RATES_BPS = [10e9 / 8, 25e9 / 8, 100e9 / 8]


class Fitted(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(FIXTURE, encoding="utf-8") as f:
            cls.raw = json.load(f)
        cls.model = sm.fit(sm.load(FIXTURE))

    def predictions(self, collective, sharded, weak=False):
        for beta in RATES_BPS:
            yield beta, [sm.predict(self.model, w, self.model.alpha, beta, collective, sharded, weak) for w in HOSTS]

    def test_one_host_is_the_fitted_compute(self):
        one_host = [r["seconds_per_epoch"] for r in self.raw["runs"] if r["hosts"] == 1]
        steps = self.raw["model"]["steps_per_epoch"]
        self.assertAlmostEqual(self.model.compute.step, statistics.median(one_host) / steps, places=12)
        for collective, sharded in sm.EXCHANGES.values():
            for _, rows in self.predictions(collective, sharded):
                self.assertEqual(rows[0].comm, 0)
                self.assertAlmostEqual(rows[0].epoch, statistics.median(one_host), places=9)
                self.assertAlmostEqual(rows[0].efficiency, 1, places=12)

    def test_compute_parts_add_up(self):
        c = self.model.compute
        self.assertGreaterEqual(c.rest, 0)
        self.assertGreater(c.fwd_bwd, 0)
        self.assertAlmostEqual(c.rest + c.fwd_bwd + c.adam, c.step, places=12)

    def test_efficiency_at_most_one(self):
        for collective, sharded in list(sm.EXCHANGES.values()) + [(mpi.ring_reduce_scatter_allgather, True)]:
            for beta, rows in self.predictions(collective, sharded):
                for p in rows:
                    self.assertLessEqual(p.efficiency, 1 + 1e-12, f"W={p.w} at {beta * 8 / 1e9:g} Gbit/s")
                    self.assertGreater(p.efficiency, 0)

    def test_ring_efficiency_falls_with_hosts(self):
        # (not weak scaling with sharded Adam: each rank's step is cheaper than 1 host's, so
        # its efficiency rises above 1 where the network is fast)
        for sharded, weak in ((True, False), (False, False), (False, True)):
            for beta, rows in self.predictions(mpi.ring_reduce_scatter_allgather, sharded, weak):
                effs = [p.efficiency for p in rows]
                self.assertEqual(effs, sorted(effs, reverse=True), f"{beta * 8 / 1e9:g} Gbit/s weak={weak}")

    def test_faster_links_never_slower(self):
        collective, sharded = sm.EXCHANGES["rs-ag"]
        by_rate = [rows for _, rows in self.predictions(collective, sharded)]
        for slow, fast in zip(by_rate, by_rate[1:]):
            for a, b in zip(slow, fast):
                self.assertLessEqual(b.epoch, a.epoch)

    def test_fit_reproduces_the_run_it_was_fitted_to(self):
        collective, sharded = sm.EXCHANGES[self.model.meas.exchange]
        for name, link in self.model.links.items():
            run = next(r for r in self.model.meas.runs if r.link == name and r.hosts == link.fitted_hosts)
            p = sm.predict(self.model, run.hosts, link.alpha, link.beta, collective, sharded)
            self.assertAlmostEqual(1e3 * p.comm, run.comm_ms_per_step, places=9)

    def test_algorithm_bytes_match_the_link_counters(self):
        # Open MPI's choice for the measured exchange predicts what the busiest host sent,
        # within 5%, on every namespace run (3 hosts: Rabenseifner's rank 0 sends 2.5 vectors)
        collective = sm.EXCHANGES[self.model.meas.exchange][0]
        checked = 0
        for r in self.model.meas.runs:
            if r.link != "shm" and r.hosts >= 2 and r.max_tx_bytes_per_step:
                predicted = collective(r.hosts, self.model.meas.gradient_bytes)[1].tx_bytes
                self.assertLess(abs(r.max_tx_bytes_per_step / predicted - 1), 0.05, f"{r.link} x {r.hosts}")
                checked += 1
        self.assertGreater(checked, 0)


class OpenMpiRules(unittest.TestCase):
    N = 669706 * 4  # the 784-512-512-10 gradient

    def test_gradient_allreduce_is_rabenseifner(self):
        for w in (2, 3, 4, 7, 8, 100, 512):
            self.assertEqual(mpi.openmpi_allreduce(w, self.N)[0], "Rabenseifner")

    def test_small_messages(self):
        self.assertEqual(mpi.decide(mpi.ALLREDUCE_RULES, 2, 4), 4)
        self.assertEqual(mpi.decide(mpi.ALLREDUCE_RULES, 2, 100), 3)
        self.assertEqual(mpi.decide(mpi.ALLREDUCE_RULES, 3, 200000), 5)
        self.assertEqual(mpi.decide(mpi.ALLREDUCE_RULES, 300, 1000), 2)
        self.assertEqual(mpi.decide(mpi.REDUCE_SCATTER_RULES, 64, self.N), 4)
        self.assertEqual(mpi.decide(mpi.REDUCE_SCATTER_RULES, 32, self.N), 3)
        self.assertEqual(mpi.decide(mpi.ALLGATHERV_RULES, 2, self.N // 2), 5)
        self.assertEqual(mpi.decide(mpi.ALLGATHERV_RULES, 5000, 10), 2)

    def test_ring_cost_is_the_textbook_formula(self):
        alpha, beta, n = 20e-6, 1.25e9, 8 * 1000
        for w in (2, 4, 8):
            expected = 2 * (w - 1) * alpha + 2 * (w - 1) / w * n / beta
            self.assertAlmostEqual(mpi.ring_reduce_scatter_allgather(w, n)[1].seconds(alpha, beta), expected, places=15)

    def test_bandwidth_term_never_below_the_lower_bound(self):
        # every rank must send at least (W-1)/W of the vector twice over (reduce, then share)
        for w in range(2, 600):
            for name, cost in (mpi.openmpi_allreduce(w, self.N), mpi.openmpi_reduce_scatter_allgatherv(w, self.N)):
                self.assertGreaterEqual(cost.path_bytes, 2 * (w - 1) / w * self.N * (1 - 1e-9), f"{name}, W={w}")
                self.assertGreater(cost.messages, 0)


class CommandLine(unittest.TestCase):
    def run_model(self, *args):
        return subprocess.run([sys.executable, os.path.join(SCRIPTS, "scaling_model.py"), *args],
                              capture_output=True, text=True, timeout=60)

    def test_prints_the_fit_the_check_and_the_tables(self):
        r = self.run_model(FIXTURE)
        self.assertEqual(r.returncode, 0, r.stderr)
        for text in ("== fitted", "== check", "== 10 Gbit/s", "== 25 Gbit/s", "== 100 Gbit/s", "weak scaling",
                     "Rabenseifner", "  512 "):
            self.assertIn(text, r.stdout)

    def test_bad_files_get_one_line(self):
        with open(FIXTURE, encoding="utf-8") as f:
            good = json.load(f)
        no_one_host = dict(good, runs=[r for r in good["runs"] if r["hosts"] != 1])
        bad_hosts = dict(good, runs=good["runs"] + [dict(good["runs"][0], hosts="two")])
        with tempfile.TemporaryDirectory() as tmp:
            cases = {"truncated": json.dumps(good)[:100], "array": "[]", "no-one-host": json.dumps(no_one_host),
                     "bad-hosts": json.dumps(bad_hosts)}
            for name, text in cases.items():
                path = os.path.join(tmp, name + ".json")
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text)
                r = self.run_model(path)
                self.assertEqual(r.returncode, 2, name)
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, f"{name}: {r.stderr}")
                self.assertIn("scaling_model.py:", r.stderr)
            r = self.run_model(os.path.join(tmp, "missing.json"))
            self.assertEqual(r.returncode, 2)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
