"""Spreading a benchmark's pairs over worker processes (``--workers N``) or Ray actors (``--engine ray``).

Every worker holds its own copy of the backbone, attribute models and explainers (a
:class:`~s2w_toolkit.bench.runner.PairRunner`) and returns result rows; the calling process
alone writes them to ``results.jsonl``, as they arrive, so locking, ``--resume`` and the summary
work as in a serial run, and the rows are the same (in another order).

Pairs travel in the groups that share metric batches (``--batch-pairs``), the same groups
as a serial run forms, so the numbers do not depend on the engine.

* ``local``: ``N`` processes started with ``spawn``, each with its own pipe; a worker is sent
  one group of pairs at a time and streams its rows back. With ``cuda`` and at least ``N`` GPUs, worker
  ``i`` sees GPU ``i`` alone (``CUDA_VISIBLE_DEVICES``); otherwise the CPU threads are split
  between the workers (torch's intra-op threads and ROAD's solver threads, ``S2W_THREADS``).
* ``ray``: ``N`` actors (``num_gpus=1`` each on ``cuda``) on the cluster at ``address`` (a new
  local one when none is given and none is running); the driver sends groups of pairs and
  collects each group's rows with ``ray.wait``.

A worker that dies (``kill -9``, out of memory) costs only the rows it had not sent: its group
goes back to the queue once, for the other workers; when no worker is left, the run stops with
a one-line error, and ``--resume`` finishes it without repeating a written row.

Example:
    >>> split_threads(4, available=16)
    4
    >>> split_threads(3, available=2)
    1
"""

from __future__ import annotations

import os
import signal
from collections import deque
from typing import Any, Callable

from ..errors import S2WError

THREADS_ENV = "S2W_THREADS"


def cores() -> int:
    """CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def split_threads(workers: int, available: int | None = None) -> int:
    """CPU threads for each of ``workers`` processes sharing ``available`` cores (default: this
    process's), at least one."""
    return max(1, (available or cores()) // max(1, workers))


def _device_plan(work: Any, workers: int) -> list[dict[str, str]]:
    """Per worker, the environment it starts with: one GPU each when there are enough."""
    device = str(work.backbone.device)
    threads = split_threads(workers)
    if device.startswith("cuda"):
        import torch

        if torch.cuda.device_count() >= workers:
            return [{"CUDA_VISIBLE_DEVICES": str(i), THREADS_ENV: str(threads)} for i in range(workers)]
    return [{THREADS_ENV: str(threads)} for _ in range(workers)]


def _setup(work: Any, device: str, threads: int | None = None) -> Any:
    """In a worker: threads (``threads``, else ``S2W_THREADS``), models on ``device``, a runner."""
    import torch

    from .runner import PairRunner

    threads = threads or int(os.environ.get(THREADS_ENV) or 0)
    if threads:
        os.environ[THREADS_ENV] = str(threads)  # ROAD's solver threads too
        torch.set_num_threads(threads)
    if device.startswith("cuda"):
        device = "cuda" if os.environ.get("CUDA_VISIBLE_DEVICES") else device
    work.backbone = work.backbone.to(device)
    if work.attributes is not None:
        work.attributes = work.attributes.to(device)
    return PairRunner(work)


def _local_worker(conn: Any, work: Any, device: str) -> None:
    """A local worker's loop: set up, then explain the groups of pairs it is sent until it is sent None."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    try:
        runner = _setup(work, device)
    except BaseException as exc:  # noqa: BLE001 - reported to the driver, which stops the run
        conn.send(("fatal", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", os.getpid()))
    while True:
        group = conn.recv()
        if group is None:
            return
        for row in runner.group_rows(group):
            conn.send(("row", row))
        conn.send(("done", None))


class _Lost(Exception):
    """A worker is gone; ``item`` is what it had not finished (or None)."""


def run_parallel(work: Any, groups: list[list], write: Callable[[dict, Any], None], *, workers: int = 2,
                 engine: str = "local", address: str | None = None,
                 on_event: Callable[[str], None] | None = None) -> None:
    """Run ``groups`` (lists of ``(spec, explainer names)``) on ``workers`` workers;
    ``write(row, spec)`` each row in this process. Raises :class:`S2WError` when every worker
    is lost."""
    if not groups:
        return
    if engine == "ray":
        return _run_ray(work, groups, write, workers=workers, address=address, on_event=on_event)
    _run_local(work, groups, write, workers=max(1, workers), on_event=on_event)


def _run_local(work: Any, groups: list, write: Callable, *, workers: int, on_event: Callable | None) -> None:
    import multiprocessing as mp
    from multiprocessing.connection import wait

    context = mp.get_context("spawn")
    device = str(work.backbone.device)
    moved = device.startswith("cuda")
    if moved:  # CUDA tensors do not travel between processes that see different GPUs
        work.backbone.cpu()
        if work.attributes is not None:
            work.attributes.cpu()
    procs, conns = [], []
    try:
        for env in _device_plan(work, min(workers, len(groups))):
            parent, child = context.Pipe()
            saved = {k: os.environ.get(k) for k in env}
            os.environ.update(env)
            try:
                proc = context.Process(target=_local_worker, args=(child, work, device), daemon=True)
                proc.start()
            finally:
                for k, v in saved.items():
                    os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
            child.close()
            procs.append(proc)
            conns.append(parent)
    finally:
        if moved:
            work.backbone.to(device)
            if work.attributes is not None:
                work.attributes.to(device)
    queue, retried = deque(groups), set()
    busy: dict[int, list] = {}  # worker -> its group: (spec, explainers without a row yet)
    alive = set(range(len(procs)))
    ready: set[int] = set()
    written = 0
    try:
        while queue or busy:
            for i in sorted(ready - set(busy)):
                if queue:
                    busy[i] = list(queue.popleft())
                    conns[i].send(busy[i])
            waiting = {conns[i]: i for i in alive} | {procs[i].sentinel: i for i in alive}
            for handle in wait(list(waiting)):
                i = waiting[handle]
                if i not in alive:
                    continue
                try:
                    if handle is procs[i].sentinel and not conns[i].poll():
                        raise _Lost()
                    kind, payload = conns[i].recv()
                except (_Lost, EOFError, OSError):
                    alive.discard(i)
                    ready.discard(i)
                    lost = busy.pop(i, None)
                    procs[i].join(1)
                    code = procs[i].exitcode
                    how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                    if on_event:
                        on_event(f"worker {i + 1} (pid {procs[i].pid}) died ({how})")
                    lost = [(spec, todo) for spec, todo in lost or () if todo]
                    if lost:
                        key = lost[0][0].key
                        if key in retried or not alive:
                            raise S2WError(f"worker {i + 1} (pid {procs[i].pid}) died ({how}) on pair {key}; "
                                           f"{written} rows were written; run again with --resume to finish "
                                           "(nothing written is repeated)") from None
                        retried.add(key)
                        queue.appendleft(lost)
                    if not alive:
                        raise S2WError(f"every worker died ({how}); {written} rows were written; run again with "
                                       "--resume to finish") from None
                    continue
                if kind == "fatal":
                    raise S2WError(f"worker {i + 1} could not start: {payload}")
                if kind == "ready":
                    ready.add(i)
                    if on_event:
                        on_event(f"worker {i + 1} (pid {payload}) ready")
                elif kind == "row":
                    at = next(n for n, (spec, _) in enumerate(busy[i]) if spec.key == payload["key"])
                    spec, todo = busy[i][at]
                    write(payload, spec)
                    written += 1
                    busy[i][at] = (spec, [n for n in todo if n != payload["explainer"]])
                elif kind == "done":
                    busy.pop(i, None)
    finally:
        for i in alive:
            try:
                conns[i].send(None)
            except OSError:
                pass
        for proc in procs:
            proc.join(5)
            if proc.is_alive():
                proc.terminate()
                proc.join(5)


class RayWorker:
    """The body of a Ray actor: one :class:`~s2w_toolkit.bench.runner.PairRunner`.

    Example:
        >>> RayWorker.rows.__doc__
        'The rows of a group of ``(spec, explainer names)``.'
    """

    def __init__(self, work: Any, device: str, threads: int | None = None) -> None:
        self.runner = _setup(work, device, threads)

    def pid(self) -> int:
        return os.getpid()

    def rows(self, group: list) -> list[dict]:
        """The rows of a group of ``(spec, explainer names)``."""
        return self.runner.group_rows(group)


def _actor_count(ray: Any, workers: int, groups: int, gpus: int, on_event: Callable | None) -> int:
    """Actors to start: ``workers``, no more than the groups of pairs, nor than the cluster can place (one CPU,
    and one GPU on ``cuda``, each); more would wait for resources for ever."""
    resources = ray.cluster_resources()
    kind, room = ("GPU", int(resources.get("GPU", 0))) if gpus else ("CPU", int(resources.get("CPU", 0)))
    if room < 1:
        raise S2WError(f"the Ray cluster has no {kind} for a worker")
    count = max(1, min(workers, groups, room))
    if count < min(workers, groups) and on_event:
        on_event(f"the Ray cluster has {room} {kind}s: {count} actors instead of {workers}")
    return count


def _run_ray(work: Any, groups: list, write: Callable, *, workers: int, address: str | None,
             on_event: Callable | None) -> None:
    try:
        import ray
    except ImportError:
        raise S2WError('--engine ray needs Ray: pip install "s2w-toolkit[ray]"') from None
    if not ray.is_initialized():
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
        except Exception as exc:  # noqa: BLE001 - a cluster that cannot be reached is one line
            raise S2WError(f"cannot start or reach a Ray cluster at {address or 'a new local one'}: {exc}") from None
    device = str(work.backbone.device)
    gpus = 1 if device.startswith("cuda") else 0
    if gpus:
        work.backbone.cpu()
        if work.attributes is not None:
            work.attributes.cpu()
    try:
        shared = ray.put(work)
    finally:
        if gpus:
            work.backbone.to(device)
            if work.attributes is not None:
                work.attributes.to(device)
    count = _actor_count(ray, workers, len(groups), gpus, on_event)
    actor = ray.remote(num_cpus=1, num_gpus=gpus, max_restarts=0)(RayWorker)
    actors = [actor.remote(shared, "cuda" if gpus else device, 1) for _ in range(count)]
    try:
        _ray_loop(ray, actors, groups, write, on_event)
    finally:
        for a in actors:
            ray.kill(a)


def _ray_loop(ray: Any, actors: list, groups: list, write: Callable, on_event: Callable | None) -> None:
    """Send groups of pairs to idle actors; write each group's rows when ``ray.wait`` returns it."""
    from ray.exceptions import RayActorError, RayTaskError

    try:
        pids = dict(zip(actors, ray.get([a.pid.remote() for a in actors])))
    except (RayActorError, RayTaskError) as exc:
        raise S2WError(f"a Ray actor could not start: {_first_line(exc)}") from None
    for n, pid in enumerate(pids.values()):
        if on_event:
            on_event(f"ray actor {n + 1} (pid {pid}) ready")
    queue = deque(groups)
    retried: set[int] = set()
    running: dict[Any, tuple[Any, list]] = {}
    idle, alive, written = list(actors), set(actors), 0
    while queue or running:
        while idle and queue:
            chosen, chunk = idle.pop(), queue.popleft()
            running[chosen.rows.remote(chunk)] = (chosen, chunk)
        (future,), _ = ray.wait(list(running), num_returns=1)
        chosen, chunk = running.pop(future)
        try:
            rows = ray.get(future)
        except RayTaskError as exc:  # the runner turns a plugin's failure into rows: this is ours
            raise S2WError(f"a Ray actor failed on pair {chunk[0][0].key}: {_first_line(exc)}") from None
        except RayActorError:
            alive.discard(chosen)
            if on_event:
                on_event(f"ray actor (pid {pids[chosen]}) died")
            if id(chunk) in retried or not alive:
                raise S2WError(f"a Ray actor (pid {pids[chosen]}) died on pair {chunk[0][0].key}; {written} rows "
                               "were written; run again with --resume to finish (nothing written is repeated)") from None
            retried.add(id(chunk))
            queue.appendleft(chunk)
            continue
        specs = {spec.key: spec for spec, _ in chunk}
        for row in rows:
            write(row, specs[row["key"]])
            written += 1
        idle.append(chosen)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__
