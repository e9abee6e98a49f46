from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from conftest import wait_for

from seedcore import Client, PermanentError

PKG = str(Path(__file__).resolve().parents[1])


def status_of(db, tid):
    return db.execute("SELECT status::text AS s, attempts, error, result FROM tasks WHERE id = %s", (tid,)).fetchone()


def test_runs_tasks_and_stores_results(db, dsn, start_worker):
    seen = []

    def echo(task, ctx):
        seen.append((task.id, task.attempts, ctx.cancelled.is_set()))
        return {"echo": task.params["n"]}

    w = start_worker({"echo": echo}, concurrency=4)
    with Client(dsn) as c:
        ids = [c.submit("echo", {"n": i})["id"] for i in range(20)]
        rows = [c.wait(i) for i in ids]
    assert [r["status"] for r in rows] == ["completed"] * 20
    assert [r["result"] for r in rows] == [{"echo": i} for i in range(20)]
    assert sorted(x[0] for x in seen) == sorted(ids), "each task ran exactly once"
    assert all(a == 1 and not cancelled for _, a, cancelled in seen)
    # Registered while running, as its registry instance; dead after the drain.
    inst = w.worker.instance_id
    assert db.execute("SELECT status::text AS s FROM registry_instance WHERE instance_id = %s", (inst,)).fetchone()["s"] == "alive"
    w.stop()
    assert db.execute("SELECT status::text AS s FROM registry_instance WHERE instance_id = %s", (inst,)).fetchone()["s"] == "dead"


def test_failures_retry_then_fail_at_max_attempts_and_permanent_errors_fail_at_once(db, dsn, start_worker):
    calls = {"boom": 0, "bad": 0}

    def boom(task, ctx):
        calls["boom"] += 1
        raise RuntimeError(f"boom {task.attempts}")

    def bad(task, ctx):
        calls["bad"] += 1
        raise PermanentError("bad input")

    start_worker({"boom": boom, "bad": bad}, max_attempts=2)
    with Client(dsn) as c:
        a = c.submit("boom")
        b = c.submit("bad")
        ra = c.wait(a["id"], timeout=20)
        rb = c.wait(b["id"])
    assert (ra["status"], ra["attempts"], ra["error"]) == ("failed", 2, "RuntimeError: boom 2")
    assert (rb["status"], rb["attempts"]) == ("failed", 1)
    assert calls == {"boom": 2, "bad": 1}


def test_cancel_reaches_a_running_handler_and_its_outcome_is_discarded(db, dsn, start_worker):
    started = threading.Event()
    reasons = []

    def slow(task, ctx):
        started.set()
        ctx.cancelled.wait(20)
        reasons.append(ctx.cancel_reason)
        return {"finished": True}

    # Renewals every 20 s: within the wait below only the NOTIFY can deliver the cancel.
    w = start_worker({"slow": slow}, lease_seconds=60, heartbeat_seconds=20)
    assert w.worker.listening.wait(10)
    with Client(dsn) as c:
        t = c.submit("slow")
        assert started.wait(10)
        assert c.cancel(t["id"]) is True
        wait_for(lambda: reasons, timeout=10, what="the handler to see the cancel")
        assert reasons == ["cancelled"], "delivered by NOTIFY seedcore_task_cancel"
        time.sleep(0.2)
        r = c.get(t["id"])
    assert r["status"] == "cancelled" and r["result"] is None


def test_heartbeat_timeout_and_lease_loss(db, dsn, start_worker):
    beats = []
    lost = threading.Event()

    def beating(task, ctx):
        beats.append(ctx.heartbeat())
        # Another worker takes the task over (as recovery would): the next renewal fails.
        db.execute("UPDATE tasks SET owner_id = 'someone-else' WHERE id = %s", (task.id,))
        ctx.cancelled.wait(10)
        beats.append(ctx.cancel_reason)
        lost.set()
        return {"late": True}

    def sleepy(task, ctx):
        ctx.cancelled.wait(10)
        return {"never": "stored"}

    start_worker({"beating": beating, "sleepy": sleepy}, lease_seconds=3)
    with Client(dsn) as c:
        t = c.submit("beating")
        assert lost.wait(10)
        assert beats == [True, "lease lost or task cancelled"]
        wait_for(lambda: c.get(t["id"])["status"] == "running" and c.get(t["id"])["owner_id"] == "someone-else")
        s = c.submit("sleepy", timeout_seconds=0.3, max_attempts=1)
        r = c.wait(s["id"])
    assert (r["status"], r["error"]) == ("failed", "timeout after 0.3 s")


def test_fenced_instance_reregisters_and_cancels_its_handlers(db, dsn, start_worker):
    started = threading.Event()
    reasons = []

    def hold(task, ctx):
        started.set()
        ctx.cancelled.wait(20)
        reasons.append(ctx.cancel_reason)
        return None

    w = start_worker({"hold": hold, "quick": lambda task, ctx: 1}, registry_heartbeat_seconds=0.3)
    with Client(dsn) as c:
        c.submit("hold")
        assert started.wait(10)
        old = w.worker.instance_id
        db.execute("SELECT set_instance_status(%s::uuid, 'dead')", (old,))
        wait_for(lambda: reasons, what="the fenced instance's handler to be cancelled")
        assert reasons[0] == f"instance {old} fenced"
        new = wait_for(lambda: w.worker.instance_id != old and w.worker.instance_id, what="re-registration")
        q = c.submit("quick")
        assert c.wait(q["id"])["status"] == "completed"
    row = db.execute("SELECT owner_id FROM tasks WHERE id = %s", (q["id"],)).fetchone()
    assert row["owner_id"] is None
    assert db.execute("SELECT status::text AS s FROM registry_instance WHERE instance_id = %s", (new,)).fetchone()["s"] == "alive"


def test_module_cli_drains_on_sigterm(db, dsn, tmp_path):
    handlers = tmp_path / "handlers.py"
    handlers.write_text(
        "import time\n"
        "def slow(task, ctx):\n"
        "    time.sleep(task.params['s'])\n"
        "    return {'slept': task.params['s']}\n"
        "handlers = {'slow': slow}\n"
    )
    env = dict(os.environ, DATABASE_URL=dsn, PYTHONPATH=PKG)
    proc = subprocess.Popen(
        [sys.executable, "-m", "seedcore.worker", "--handlers", str(handlers), "--concurrency", "2"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        with Client(dsn) as c:
            t = c.submit("slow", {"s": 1.0})
            wait_for(lambda: c.get(t["id"])["status"] == "running", what="the task to start")
            inst = c.get(t["id"])["owner_id"]
            queued = c.submit("slow", {"s": 0}, delay_seconds=0.5)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=20) == 0
            r = c.get(t["id"])
            assert (r["status"], r["result"]) == ("completed", {"slept": 1.0}), "the running task finished"
            assert c.get(queued["id"])["status"] == "queued", "nothing new was claimed after SIGTERM"
        assert db.execute("SELECT status::text AS s FROM registry_instance WHERE instance_id = %s", (inst,)).fetchone()["s"] == "dead"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
