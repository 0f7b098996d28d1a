"""A real worker (`manage.py qcluster`) for the benchmarks that go through the task queue, and
a sampler of its process tree's memory.

The cluster runs with the settings' Q_CLUSTER (WORKERS=2 by default, the ORM broker on the
database, or Redis when a Redis URL is given). It is started in its own session, so stopping it
signals exactly the processes it started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.env import ROOT, TMP, django_env


class Cluster:
    def __init__(self, database_url: str, *, redis_url: str = "", workers: int = 2, tag: str = "cluster"):
        TMP.mkdir(parents=True, exist_ok=True)
        self.log_path = TMP / f"{tag}-{os.getpid()}-{time.time_ns()}.log"
        self._log = open(self.log_path, "w")
        env = django_env(database_url, redis_url=redis_url, extra={"WORKERS": str(workers)})
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "qcluster"], cwd=ROOT, env=env,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.pid = self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return Path(self.log_path).read_text()[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM the cluster (it stops its workers), then SIGKILL its session if it lingers."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        try:  # anything of this cluster's session still alive (the session id is the cluster's pid)
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.alive():
            self.proc.wait(10)
        self._log.close()
        try:
            os.remove(self.log_path)
        except OSError:
            pass


# -- memory -------------------------------------------------------------------------------------


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def process_tree(root: int) -> list[int]:
    children = _children_map()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _status_kb(pid: int, fields=("VmRSS", "VmHWM")) -> dict[str, int]:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key = line.split(":", 1)[0]
                if key in fields:
                    out[key] = int(line.split()[1])
    except OSError:
        pass
    return out


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class MemorySampler:
    """Samples the RSS and PSS of a process tree every `interval` seconds, in a thread.

    RSS counts pages shared between the forked workers once per process (an overstatement of
    the tree's footprint); PSS divides shared pages among the processes sharing them (their sum
    is the tree's real footprint). Both peaks are reported, with each process's own peak RSS
    (VmHWM, kept by the kernel between samples).
    """

    # Each sample walks /proc (~5 ms of CPU for a cluster): every 0.1 s that took ~5% of a core
    # from the workers being measured. Peaks per process come from VmHWM, which the kernel keeps.
    def __init__(self, root_pid: int, interval: float = 0.5):
        self.root = root_pid
        self.interval = interval
        self.peak_rss_kb = 0
        self.peak_pss_kb = 0
        self.peak_processes = 0
        self.hwm_kb: dict[int, int] = {}
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="memory-sampler", daemon=True)

    def start(self) -> "MemorySampler":
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        pids = process_tree(self.root)
        rss = pss = 0
        for pid in pids:
            status = _status_kb(pid)
            rss += status.get("VmRSS", 0)
            if "VmHWM" in status:
                self.hwm_kb[pid] = max(self.hwm_kb.get(pid, 0), status["VmHWM"])
            pss += _pss_kb(pid)
        self.samples += 1
        self.peak_rss_kb = max(self.peak_rss_kb, rss)
        self.peak_pss_kb = max(self.peak_pss_kb, pss)
        self.peak_processes = max(self.peak_processes, len(pids))

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        return {
            "peak_tree_rss_mb": self.peak_rss_kb / 1024,
            "peak_tree_pss_mb": self.peak_pss_kb / 1024,
            "max_process_peak_rss_mb": max(self.hwm_kb.values(), default=0) / 1024,
            "processes": self.peak_processes,
            "samples": self.samples,
            "interval_s": self.interval,
        }
