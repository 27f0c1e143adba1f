"""Run a suite's declared runs: dependencies first, independent runs in parallel, a half-done suite resumed.

Backends: ``"local"`` (``jobs`` worker processes, each with a ``threads`` budget:
``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` and ``torch.set_num_threads``; ``jobs=1`` runs in
this process; ``threads=None`` leaves one process's setting as it is, and gives each of
``jobs`` processes ``cpu_count // jobs``) and ``"ray"`` (each run a Ray task asking for ``threads`` CPUs, at most
``jobs`` at a time; ``pip install 'harkd[ray]'``; ``address`` or ``RAY_ADDRESS`` names a
cluster, else a local instance is started).

GPUs: with ``gpus`` (device indices, e.g. ``[0, 1]``) the local backend packs several runs per GPU: ``jobs``
worker processes (started fresh, never forked from a process that may hold a CUDA context), worker ``i`` seeing
only GPU ``gpus[i % len(gpus)]`` through ``CUDA_VISIBLE_DEVICES``; each run's ``train.device: auto`` is then
that GPU. ``jobs=6, gpus=[0, 1]`` trains three runs at once on each of two GPUs.

Resuming: when a run's job returns, its result is written to ``state_dir/<name>.json``
with the run's settings. Run again, a run whose settings are unchanged (and whose run
directory still exists) is read from there; every other run is started, and its run directory resumes a killed run from
``last.pt`` (a finished one trains no further). A failing run stops new runs; the
running ones finish and are recorded, then the error is raised.
"""

from __future__ import annotations

import json
import os
import sys
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from harkd.errors import ConfigError, unknown_key_message
from harkd.suites.plan import RunSpec, dependency_order

__all__ = ["BACKENDS", "RAY_MISSING", "gpu_slots", "run_suite", "set_thread_budget", "train_run"]

BACKENDS = ("local", "ray")
RAY_MISSING = "--backend ray needs the optional 'ray' package: pip install 'harkd[ray]' (or use --backend local)"

Job = Callable[[RunSpec], Any]


def set_thread_budget(threads: int) -> None:
    """This process's thread budget: the OpenMP/MKL variables (for libraries loaded later) and torch's pool."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    import torch

    torch.set_num_threads(threads)


def train_run(spec: RunSpec) -> Path:
    """Train (or resume) one declared run into its run directory."""
    from harkd.recipes import run_config

    return run_config(Path(spec.config), Path(spec.run_dir), kind=spec.kind, overrides=list(spec.overrides),
                      stage=spec.option("stage"), log=lambda m: None, progress=False, select_on=spec.select_on)


def _claim_gpu(slots) -> None:
    """Worker initializer: see only the next GPU of the shared ``slots`` queue."""
    os.environ["CUDA_VISIBLE_DEVICES"] = str(slots.get())


def gpu_slots(gpus: Sequence, jobs: int) -> list[str]:
    """The GPU each of ``jobs`` workers sees: round-robin over ``gpus`` (a per-GPU budget of ceil(jobs / len))."""
    names = [str(g).strip() for g in gpus]
    if not names or any(not n.isdigit() for n in names):
        raise ConfigError(f"--gpus must list GPU indices (e.g. 0,1), got {','.join(map(str, gpus)) or 'nothing'}")
    return [names[i % len(names)] for i in range(jobs)]


def _execute(job: Job, spec: RunSpec, threads: int):
    set_thread_budget(threads)
    return job(spec)


def _check_count(flag: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{flag} must be an integer >= 1, got {value!r}")
    return value


def _state_file(state_dir: Path, name: str) -> Path:
    return state_dir / ("".join(c if c.isalnum() or c in "-_." else "_" for c in name) + ".json")


def _read_state(state_dir: Path | None, spec: RunSpec):
    """(True, result) when ``spec`` finished before with the same settings, else (False, None)."""
    path = None if state_dir is None else _state_file(state_dir, spec.name)
    if path is None or not path.is_file() or not Path(spec.run_dir).exists():
        return False, None
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return False, None  # a state file cut short by a kill: run (resume) it again
    if saved.get("spec") != spec.to_dict():
        return False, None
    return True, saved.get("result")


def _write_state(state_dir: Path | None, spec: RunSpec, result):
    """Record a finished run; returns its result as a rerun reads it back (JSON: paths become strings)."""
    if state_dir is None:
        return result
    state_dir.mkdir(parents=True, exist_ok=True)
    path = _state_file(state_dir, spec.name)
    text = json.dumps({"spec": spec.to_dict(), "result": result}, indent=1, default=str) + "\n"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return json.loads(text)["result"]


def run_suite(runs: Iterable[RunSpec], job: Job = train_run, *, jobs: int = 1, threads: int | None = 1,
              backend: str = "local", state_dir: str | Path | None = None, external: Sequence[str] = (),
              address: str | None = None, log: Callable[[str], None] | None = None,
              gpus: Sequence = ()) -> dict[str, Any]:
    """Run ``job(spec)`` for every run, each after the runs it needs; returns ``{name: result}``.

    ``job`` must be picklable for ``jobs > 1``, ``gpus`` or Ray (a module-level function) and return
    JSON-able results when ``state_dir`` is given. ``external``: dependency names satisfied
    outside the suite. ``gpus``: pack the ``jobs`` workers over these GPUs (local backend).
    """
    jobs = _check_count("--jobs", jobs)
    if threads is not None:
        _check_count("--threads", threads)
    elif jobs > 1 or backend == "ray":
        threads = max(1, (os.cpu_count() or 1) // jobs)
    if backend not in BACKENDS:
        raise ConfigError(unknown_key_message("backend", backend, BACKENDS))
    if gpus:
        gpu_slots(gpus, jobs)  # checked before anything runs
        if backend == "ray":
            raise ConfigError("--gpus packs runs on this machine's GPUs (the local backend); Ray places runs itself")
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    order = dependency_order(runs, external)
    state = None if state_dir is None else Path(state_dir)
    results: dict[str, Any] = {}
    for spec in order:
        finished, result = _read_state(state, spec)
        if finished:
            results[spec.name] = result
    if results:
        log(f"suite: {len(results)} of {len(order)} runs finished before (read from {state})")
    todo = [spec for spec in order if spec.name not in results]
    if not todo:
        return results
    if backend == "ray":
        _run_ray(todo, job, jobs, threads, state, address, results, log)
    elif jobs == 1 and not gpus:
        if threads is not None:
            set_thread_budget(threads)
        for spec in todo:
            results[spec.name] = _write_state(state, spec, job(spec))
    else:
        with _pool(jobs, gpus) as pool:
            def submit(spec):
                return pool.submit(_execute, job, spec, threads)

            def finished(handles):
                done, _ = wait(handles, return_when=FIRST_COMPLETED)
                return [(h, h.result) for h in done]

            _schedule(todo, submit, finished, jobs, state, results, log)
    return results


def _pool(jobs: int, gpus: Sequence) -> ProcessPoolExecutor:
    """``jobs`` worker processes; with ``gpus``, spawned ones that each claim a GPU slot."""
    if not gpus:
        return ProcessPoolExecutor(jobs)
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    slots = context.Queue()
    for slot in gpu_slots(gpus, jobs):
        slots.put(slot)
    return ProcessPoolExecutor(jobs, mp_context=context, initializer=_claim_gpu, initargs=(slots,))


def _schedule(todo: list[RunSpec], submit, finished, limit: int, state, results: dict, log) -> None:
    """Submit each run once the runs it needs have results, at most ``limit`` at a time."""
    waiting = list(todo)
    in_suite = {s.name for s in todo}  # a need outside these is satisfied already (finished before, or external)
    pending: dict[Any, RunSpec] = {}
    failure = None
    while waiting or pending:
        if failure is None:
            for spec in list(waiting):
                if len(pending) >= limit:
                    break
                if all(n in results or n not in in_suite for n in spec.needs):
                    pending[submit(spec)] = spec
                    waiting.remove(spec)
        if not pending:
            break
        for handle, outcome in finished(list(pending)):
            spec = pending.pop(handle)
            try:
                result = outcome()
            except Exception as err:  # noqa: BLE001 - re-raised below, after the running runs finish
                log(f"suite: run {spec.name!r} failed: {err}")
                failure = failure or err
                continue
            results[spec.name] = _write_state(state, spec, result)
    if failure is not None:
        raise failure


def _run_ray(todo, job, jobs, threads, state, address, results, log) -> None:
    try:
        import ray
    except ImportError:
        raise ConfigError(RAY_MISSING) from None
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    try:
        module = sys.modules.get(getattr(job, "__module__", "") or "")
        if module is not None and module.__name__ != "__main__" and not module.__name__.startswith("harkd."):
            # a benchmark script's module need not be importable on the workers: send its code along
            ray.cloudpickle.register_pickle_by_value(module)
        remote = ray.remote(num_cpus=threads)(_execute)

        def submit(spec):
            return remote.remote(job, spec, threads)

        def finished(handles):
            done, _ = ray.wait(handles, num_returns=1)
            return [(h, lambda h=h: ray.get(h)) for h in done]

        _schedule(todo, submit, finished, jobs, state, results, log)
    finally:
        if started:
            ray.shutdown()
