#!/usr/bin/python3
"""A scaling model for digitnet's data-parallel training, fitted to scripts/bench-cluster.sh.

    scripts/scaling_model.py runs/bench-cluster.json [--exchange rs-ag|allreduce]
        [--hosts 2,4,...,512] [--rates 10,25,100] [--alpha-us US]

One training step on W hosts takes compute + communication:
- compute(W) = forward+backward x (local batch / global batch) + Adam / (W if Adam is
  sharded, else 1) + the rest. The 1-host runs give the whole step (the fitted compute);
  digitnet-bench-gemm splits it into forward+backward and Adam; the rest (data, loss,
  the test set at the end of each epoch) is kept fixed per step, which errs on the slow side.
- communication(W) = messages x alpha + bytes x wire overhead / beta, for the
  algorithm that runs (openmpi_tuned.py: a ring reduce-scatter + allgather, or what
  Open MPI 4.1 picks for MPI_Allreduce or for MPI_Reduce_scatter + MPI_Allgatherv).
- alpha, the latency per message, is a TCP ping-pong between two namespace hosts. This
  kernel has no netem, so it is veth's and the TCP stack's own latency, far below a
  real network's. beta, each link's rate, is fitted: the 2-host runs' exchange time
  per step, less the latency, over the bytes the algorithm sends on its critical path.
  The runs on more hosts are held out and checked.
- Predictions at 10, 25 and 100 Gbit/s use beta = the rate x the efficiency the shaped
  links reached (TCP over tbf), and the measured alpha (or --alpha-us).

Strong scaling keeps the global batch (128): the local batch is ceil(128 / W), one
sample from W = 128 on, and beyond that ranks sit idle. Weak scaling keeps 128 samples
per rank, so the global batch grows to 128 W: fewer, larger steps per epoch (which
changes the training itself). Exit status 2 with a one-line message on a bad file.
"""
import argparse
from dataclasses import dataclass
import json
import math
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import openmpi_tuned as mpi  # noqa: E402  (beside this file)

GBIT = 1e9


class InputError(Exception):
    pass


# ---- the measurements ----

@dataclass
class Run:
    link: str                 # shm, none (unshaped veth), or a tbf rate such as 10gbit
    hosts: int
    seconds_per_epoch: float
    comm_ms_per_step: float   # the trainer's allreduce time per step (waiting included)
    max_tx_bytes_per_step: float | None


@dataclass
class Measurements:
    params: int
    global_batch: int
    samples_per_epoch: int
    steps_per_epoch: int
    exchange: str             # what the measured trainer did: allreduce or rs-ag
    threads: int
    cores: int
    load_average: str         # at the start of the benchmark, as /proc/loadavg gives it
    compute: dict             # local batch -> (forward+backward ms, Adam ms)
    latency_us: dict          # link -> one-way latency
    runs: list

    @property
    def gradient_bytes(self):
        return 4 * self.params


def _number(obj, key, kind=float, minimum=0):
    value = obj.get(key) if isinstance(obj, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < minimum:
        raise InputError(f"'{key}' must be a number >= {minimum}, got {value!r}")
    return kind(value)


def _list(obj, key):
    value = obj.get(key)
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise InputError(f"'{key}' must be a list of objects")
    return value


def _run(r):
    link = r.get("link")
    if not isinstance(link, str) or not link:
        raise InputError(f"a run without a link name: {r!r}")
    tx = r.get("max_tx_bytes_per_step")
    return Run(link, _number(r, "hosts", int, 1), _number(r, "seconds_per_epoch", float, 1e-9),
               _number(r, "allreduce_ms_per_step"), None if tx is None else _number(r, "max_tx_bytes_per_step"))


def load(path):
    """Reads and checks bench-cluster.sh's JSON; raises InputError saying what is wrong."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(str(e)) from None
    if not isinstance(doc, dict):
        raise InputError("not a JSON object")
    for key in ("model", "machine", "latency_us"):
        if not isinstance(doc.get(key), dict):
            raise InputError(f"'{key}' must be an object")
    model = doc["model"]
    compute = {_number(c, "local_batch", int, 1): (_number(c, "forward_backward"), _number(c, "adam"))
               for c in _list(doc, "compute_ms_per_step")}
    exchange = doc.get("exchange")
    if exchange not in ("allreduce", "rs-ag"):
        raise InputError(f"'exchange' must be allreduce or rs-ag, got {exchange!r}")
    latency = {str(k): _number(doc["latency_us"], k) for k in doc["latency_us"]}
    m = Measurements(_number(model, "params", int, 1), _number(model, "global_batch", int, 1),
                     _number(model, "samples_per_epoch", int, 1), _number(model, "steps_per_epoch", int, 1),
                     exchange, _number(doc, "threads_per_host", int, 1), _number(doc["machine"], "cores", int, 1),
                     str(doc["machine"].get("load_average_start", "?")), compute, latency, [_run(r) for r in _list(doc, "runs")])
    if m.global_batch not in m.compute:
        raise InputError(f"no compute measurement at the global batch {m.global_batch}")
    if not any(r.hosts == 1 for r in m.runs):
        raise InputError("no 1-host run to fit the compute to")
    return m


def link_rate_bps(link):
    """The nominal rate of a tbf-shaped link name (10gbit -> 1e10), None for shm and none."""
    units = {"gbit": 1e9, "mbit": 1e6, "kbit": 1e3, "bit": 1}
    for unit, scale in units.items():
        if link.endswith(unit) and link[:-len(unit)].isdigit():
            return int(link[:-len(unit)]) * scale
    return None


# ---- the fitted model ----

@dataclass
class Compute:
    """Seconds per step on one host, split by how each part scales."""
    step: float       # the whole step, fitted: the median of the 1-host runs
    fwd_bwd: float    # shrinks with the local batch
    adam: float       # shrinks with W when Adam is sharded (ZeRO-1)
    rest: float       # fixed per step

    batch_curve: dict = None  # local batch -> forward+backward relative to the global batch's, if measured

    def per_step(self, w, global_batch, local_batch, sharded):
        return self.rest + self.fwd_bwd * self.batch_share(local_batch, global_batch) + self.adam / (w if sharded else 1)

    def batch_share(self, local_batch, global_batch):
        """forward+backward at local_batch as a share of its time at global_batch: proportional,
        or measured (digitnet-bench-gemm) where the curve has that batch."""
        if self.batch_curve and local_batch in self.batch_curve:
            return self.batch_curve[local_batch]
        return local_batch / global_batch


@dataclass
class Link:
    name: str
    alpha: float      # seconds per message
    beta: float       # bytes per second
    fitted_hosts: int


@dataclass
class Model:
    meas: Measurements
    compute: Compute
    links: dict       # name -> Link, the namespace links
    wire_overhead: float
    alpha: float      # for the predictions
    efficiency: float  # beta / nominal rate on the shaped links


EXCHANGES = {  # exchange -> (Open MPI's collectives, Adam sharded?)
    "allreduce": (mpi.openmpi_allreduce, False),
    "rs-ag": (mpi.openmpi_reduce_scatter_allgatherv, True),
}


def fit_compute(meas, measured_curve=False):
    one_host = [r.seconds_per_epoch / meas.steps_per_epoch for r in meas.runs if r.hosts == 1]
    step = statistics.median(one_host)
    fwd_bwd, adam = (ms / 1e3 for ms in meas.compute[meas.global_batch])
    if fwd_bwd + adam > step:  # measured apart under other load: keep their ratio
        scale = step / (fwd_bwd + adam)
        fwd_bwd, adam = fwd_bwd * scale, adam * scale
    full = meas.compute[meas.global_batch][0]
    curve = {b: fb / full for b, (fb, _) in meas.compute.items()} if measured_curve and full > 0 else None
    return Compute(step, fwd_bwd, adam, step - fwd_bwd - adam, curve)


def link_runs(meas):
    """The namespace runs that exchange gradients, by link."""
    by_link = {}
    for r in meas.runs:
        if r.link != "shm" and r.hosts >= 2:
            by_link.setdefault(r.link, []).append(r)
    return by_link


def fit_wire_overhead(meas):
    """Bytes on the wire per payload byte: the busiest host's link counter against the algorithm's bytes."""
    collective = EXCHANGES[meas.exchange][0]
    ratios = [r.max_tx_bytes_per_step / collective(r.hosts, meas.gradient_bytes)[1].tx_bytes
              for runs in link_runs(meas).values() for r in runs if r.max_tx_bytes_per_step]
    return statistics.median(ratios) if ratios else 1.0


def fit_link(meas, name, runs, overhead):
    run = min(runs, key=lambda r: r.hosts)
    alpha = meas.latency_us.get(name, statistics.median(meas.latency_us.values()) if meas.latency_us else 0) / 1e6
    cost = EXCHANGES[meas.exchange][0](run.hosts, meas.gradient_bytes)[1]
    wire_time = run.comm_ms_per_step / 1e3 - cost.messages * alpha
    if wire_time <= 0:
        raise InputError(f"link {name}: {run.hosts}-host exchange of {run.comm_ms_per_step} ms/step "
                         f"is below its latency alone ({cost.messages:g} x {alpha * 1e6:.0f} us)")
    return Link(name, alpha, cost.path_bytes * overhead / wire_time, run.hosts)


def fit(meas, alpha_us=None, measured_curve=False):
    links_runs = link_runs(meas)
    if not links_runs:
        raise InputError("no namespace run on 2 or more hosts to fit a link to")
    overhead = fit_wire_overhead(meas)
    links = {name: fit_link(meas, name, runs, overhead) for name, runs in links_runs.items()}
    shaped = [link.beta * 8 / link_rate_bps(name) for name, link in links.items() if link_rate_bps(name)]
    alpha = alpha_us / 1e6 if alpha_us is not None else statistics.median(link.alpha for link in links.values())
    return Model(meas, fit_compute(meas, measured_curve), links, overhead, alpha, statistics.median(shaped) if shaped else 1.0)


# ---- predictions ----

@dataclass
class Prediction:
    w: int
    local_batch: int
    compute: float    # seconds per step
    comm: float       # seconds per step
    algorithm: str
    epoch: float      # seconds
    samples_per_second: float
    efficiency: float  # speed-up over 1 host / W
    tx_bytes: float   # the busiest host's payload bytes per step


def predict(model, w, alpha, beta, collective, sharded, weak=False):
    """One host count: `collective(w, bytes)` is an openmpi_tuned (name, Cost) function;
    weak keeps the local batch at the global batch of the measurements."""
    m = model.meas
    local = m.global_batch if weak else math.ceil(m.global_batch / w)
    # weak: an epoch as S / (B W) steps, as if it were larger (60,000 samples run out at W = 469)
    steps = m.samples_per_epoch / (m.global_batch * w) if weak else m.steps_per_epoch
    compute = model.compute.per_step(w, m.global_batch, local, sharded)
    name, cost = collective(w, m.gradient_bytes)
    comm = cost.seconds(alpha, beta, model.wire_overhead)
    epoch = steps * (compute + comm)
    one_host = (m.samples_per_epoch / m.global_batch if weak else m.steps_per_epoch) * model.compute.step
    return Prediction(w, local, compute, comm, name, epoch, m.samples_per_epoch / epoch,
                      one_host / epoch / w, cost.tx_bytes)


def diagnostic_alpha(meas, overhead):
    """alpha and beta from the runs alone (two host counts per link, solved exactly), to show
    why the latency is measured apart: the 3-host runs share 2 cores and wait for CPU."""
    collective = EXCHANGES[meas.exchange][0]
    out = {}
    for name, runs in link_runs(meas).items():
        if len({r.hosts for r in runs}) < 2:
            continue
        a, b = sorted(runs, key=lambda r: r.hosts)[:2]
        ca, cb = collective(a.hosts, meas.gradient_bytes)[1], collective(b.hosts, meas.gradient_bytes)[1]
        det = ca.messages * cb.path_bytes - cb.messages * ca.path_bytes
        if det:
            out[name] = (a.comm_ms_per_step * cb.path_bytes - b.comm_ms_per_step * ca.path_bytes) / det * 1e3
    return out


# ---- printing ----

def gbit(bytes_per_second):
    return bytes_per_second * 8 / GBIT


def _busy(meas):
    try:
        return float(meas.load_average.split()[0]) > meas.cores
    except (ValueError, IndexError):
        return False


def print_fit(model):
    m, c = model.meas, model.compute
    ms = lambda s: f"{1e3 * s:.2f} ms"  # noqa: E731
    print(f"== fitted: {m.params:,} parameters ({m.gradient_bytes / 1e6:.2f} MB of f32 "
          f"gradient), global batch {m.global_batch}, {m.steps_per_epoch} steps/epoch, "
          f"{m.threads} thread(s) per host; measured exchange: {m.exchange}")
    print(f"measured on {m.cores} cores at load average {m.load_average}"
          + (" -- a busy machine: every time below is inflated" if _busy(m) else ""))
    print(f"compute per step, 1 host: {ms(c.step)} (median of the 1-host runs) = forward+backward {ms(c.fwd_bwd)} "
          f"(x local batch/{m.global_batch}) + Adam {ms(c.adam)} (/W when sharded) + rest {ms(c.rest)} (fixed)")
    print(f"wire overhead: {model.wire_overhead:.3f} bytes on the wire per gradient byte (link counters)")
    for link in model.links.values():
        nominal = link_rate_bps(link.name)
        share = f" = {100 * link.beta * 8 / nominal:.0f}% of {link.name}" if nominal else " (unshaped veth)"
        print(f"link {link.name:>7}: alpha {1e6 * link.alpha:5.1f} us (TCP ping-pong), beta {gbit(link.beta):6.2f} Gbit/s"
              f"{share} (fitted to the {link.fitted_hosts}-host run)")
    solved = diagnostic_alpha(model.meas, model.wire_overhead)
    if solved:
        print("alpha solved from the runs alone (2 and 3 hosts, no ping-pong): " +
              ", ".join(f"{k} {v:.0f} us" for k, v in solved.items()) +
              " -- not a latency: the 3-host runs share 2 cores, so they also wait for CPU")


def print_compute_curve(model):
    m = model.meas
    fb_full = m.compute[m.global_batch][0]
    cells = [f"{b}: {fb:.3f}/{fb_full * b / m.global_batch:.3f}" for b, (fb, _) in sorted(m.compute.items(), reverse=True)]
    print("forward+backward ms/step by local batch, measured/proportional (digitnet-bench-gemm): " + ", ".join(cells))


def print_check(model):
    m = model.meas
    collective, sharded = EXCHANGES[m.exchange]
    print(f"\n== check: predicted vs measured on the namespace hosts ({m.exchange}, Open MPI's choice; "
          f"the {'/'.join(str(l.fitted_hosts) for l in model.links.values())}-host runs fitted beta, the rest held out)")
    print(f"{'link':>7} {'hosts':>5} {'algorithm':>14} | {'s/epoch pred':>12} {'meas':>7} {'error':>7} | "
          f"{'comm ms/step pred':>17} {'meas':>7} | {'MB/step tx pred':>15} {'meas':>6} | note")
    rows = sorted(m.runs, key=lambda r: (r.link, r.hosts))
    for r in rows:
        if r.link == "shm":
            continue
        link = model.links.get(r.link)
        if link is None:  # a link measured on 1 host only
            continue
        p = predict(model, r.hosts, link.alpha, link.beta, collective, sharded)
        err = 100 * (p.epoch - r.seconds_per_epoch) / r.seconds_per_epoch
        note = "beta fitted here" if r.hosts == link.fitted_hosts else ""
        if r.hosts == 1:
            note = "the compute fit is the median of the 1-host runs"
        if r.hosts * m.threads > m.cores:
            note = f"{r.hosts} ranks x {m.threads} thread(s) on {m.cores} cores: they wait for CPU"
        tx = f"{p.tx_bytes * model.wire_overhead / 1e6:.2f}" if r.hosts > 1 else "-"
        tx_meas = f"{r.max_tx_bytes_per_step / 1e6:.2f}" if r.max_tx_bytes_per_step and r.hosts > 1 else "-"
        print(f"{r.link:>7} {r.hosts:>5} {p.algorithm:>14} | {p.epoch:12.2f} {r.seconds_per_epoch:7.2f} {err:+6.1f}% | "
              f"{1e3 * p.comm:17.2f} {r.comm_ms_per_step:7.2f} | {tx:>15} {tx_meas:>6} | {note}")


def print_predictions(model, hosts, rates, exchange, weak):
    collective, sharded = EXCHANGES[exchange]
    m = model.meas
    what = (f"weak scaling: {m.global_batch} samples per rank, global batch {m.global_batch} x W" if weak else
            f"strong scaling: global batch {m.global_batch}, local batch ceil({m.global_batch}/W)")
    adam = "Adam sharded (/W)" if sharded else "Adam on every rank"
    ompi = "MPI_Reduce_scatter + MPI_Allgatherv" if exchange == "rs-ag" else "MPI_Allreduce"
    ring = "ring reduce-scatter + allgather" if exchange == "rs-ag" else "ring allreduce"
    for rate in rates:
        beta = rate * GBIT / 8 * model.efficiency
        print(f"\n== {rate:g} Gbit/s (beta {gbit(beta):.1f} Gbit/s, alpha {1e6 * model.alpha:.0f} us), {what}; {adam}")
        print(f"{'hosts':>5} {'local':>5} {'compute':>8} | {ring:^36} | {'Open MPI 4.1: ' + ompi:^70}".rstrip())
        print(f"{'':>5} {'batch':>5} {'ms/step':>8} | {'comm ms':>8} {'s/epoch':>8} {'samples/s':>10} {'eff':>7} | "
              f"{'algorithms':>33} {'comm ms':>8} {'s/epoch':>8} {'samples/s':>10} {'eff':>7}")
        for w in hosts:
            r = predict(model, w, model.alpha, beta, mpi.ring_reduce_scatter_allgather, sharded, weak)
            o = predict(model, w, model.alpha, beta, collective, sharded, weak)
            idle = " (idle ranks)" if not weak and w > m.global_batch else ""
            print(f"{w:5d} {r.local_batch:5d} {1e3 * r.compute:8.3f} | {1e3 * r.comm:8.3f} {r.epoch:8.3f} "
                  f"{r.samples_per_second:10.0f} {100 * r.efficiency:6.1f}% | {o.algorithm:>33} {1e3 * o.comm:8.3f} "
                  f"{o.epoch:8.3f} {o.samples_per_second:10.0f} {100 * o.efficiency:6.1f}%{idle}")


def int_list(text):
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got '{text}'") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("host counts must be at least 1")
    return values


def float_list(text):
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got '{text}'") from None
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError("rates must be positive")
    return values


def nonnegative(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError("must be a number >= 0")
    return value


def main(argv=None):
    ap = argparse.ArgumentParser(description="Scaling model fitted to scripts/bench-cluster.sh's measurements.")
    ap.add_argument("measurements", help="the JSON file bench-cluster.sh wrote (OUT, runs/bench-cluster.json)")
    ap.add_argument("--exchange", choices=sorted(EXCHANGES), default="rs-ag",
                    help="the exchange to predict: rs-ag = reduce-scatter + allgather with sharded Adam (default), "
                         "allreduce = one allreduce, Adam on every rank")
    ap.add_argument("--hosts", type=int_list, default=[1] + [2 ** k for k in range(1, 10)],
                    help="host counts to predict (default 1,2,4,...,512)")
    ap.add_argument("--rates", type=float_list, default=[10, 25, 100], help="link rates in Gbit/s (default 10,25,100)")
    ap.add_argument("--measured-batch-curve", action="store_true",
                    help="forward+backward at a local batch as digitnet-bench-gemm measured it (small batches run "
                         "less efficiently) instead of proportional to the batch")
    ap.add_argument("--alpha-us", type=nonnegative, help="latency per message for the predictions (default: the measured one)")
    args = ap.parse_args(argv)
    try:
        model = fit(load(args.measurements), args.alpha_us, args.measured_batch_curve)
    except InputError as e:
        print(f"scaling_model.py: {args.measurements}: {e}", file=sys.stderr)
        return 2
    print_fit(model)
    print_compute_curve(model)
    print_check(model)
    print_predictions(model, args.hosts, args.rates, args.exchange, weak=False)
    print_predictions(model, args.hosts, args.rates, args.exchange, weak=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
