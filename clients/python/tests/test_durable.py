"""ctx.step / sleep_for / await_event / spawn + await_tasks on the stored functions of migration 018."""

from __future__ import annotations

import threading
import time

import pytest
from conftest import wait_for

from seedcore import Client, SeedCoreError


def test_a_completed_step_is_not_run_again_on_retry(db, dsn, start_worker):
    calls = {"a": 0, "b": 0, "runs": 0}

    def flaky(task, ctx):
        calls["runs"] += 1
        a = ctx.step("a", lambda: calls.__setitem__("a", calls["a"] + 1) or {"paid": "model call"})
        none = ctx.step("none", lambda: None)
        if calls["runs"] == 1:
            raise RuntimeError("crash after step a")
        b = ctx.step("b", lambda: calls.__setitem__("b", calls["b"] + 1) or 2)
        return {"a": a, "b": b, "none": none}

    start_worker({"flaky": flaky})
    with Client(dsn) as c:
        t = c.submit("flaky")
        db.execute("UPDATE tasks SET run_after = NULL WHERE id = %s", (t["id"],))
        # The retry is due ~1 s later (backoff).
        r = c.wait(t["id"], timeout=20)
    assert r["status"] == "completed"
    assert r["result"] == {"a": {"paid": "model call"}, "b": 2, "none": None}
    assert calls == {"a": 1, "b": 1, "runs": 2}
    names = [x["name"] for x in db.execute("SELECT name FROM task_checkpoints WHERE task_id = %s ORDER BY name", (t["id"],))]
    assert names == ["a", "b", "none"]


def test_sleep_for_frees_the_slot_and_resumes_without_using_an_attempt(db, dsn, start_worker):
    order = []

    def sleeper(task, ctx):
        order.append("sleeper start")
        ctx.sleep_for(1.0)
        order.append("sleeper resumed")
        return "rested"

    def quick(task, ctx):
        order.append("quick")
        return 1

    start_worker({"sleeper": sleeper, "quick": quick}, concurrency=1)
    with Client(dsn) as c:
        s = c.submit("sleeper")
        wait_for(lambda: c.get(s["id"])["status"] == "queued" and "sleeper start" in order, what="the sleeper to suspend")
        assert c.get(s["id"])["attempts"] == 0, "suspending gives the attempt back"
        q = c.submit("quick")
        assert c.wait(q["id"])["status"] == "completed", "another task runs during the sleep (concurrency 1)"
        r = c.wait(s["id"], timeout=15)
    assert (r["status"], r["result"], r["attempts"]) == ("completed", "rested", 1)
    assert order == ["sleeper start", "quick", "sleeper start", "sleeper resumed"]


def test_await_event_emitted_after_before_and_timeout(db, dsn, start_worker):
    got = []

    def waiter(task, ctx):
        try:
            got.append(ctx.await_event(task.params["event"], timeout=task.params.get("timeout")))
        except SeedCoreError as e:
            got.append(e.code)
            raise
        return got[-1]

    start_worker({"waiter": waiter})
    with Client(dsn) as c:
        early = "ev-before"
        assert c.emit_event(early, {"n": 1}) is True
        assert c.emit_event(early, {"n": 2}) is False, "first emit wins"
        a = c.submit("waiter", {"event": early})
        assert c.wait(a["id"])["result"] == {"n": 1}
        b = c.submit("waiter", {"event": "ev-after"})
        wait_for(lambda: c.get(b["id"])["status"] == "queued" and c.get(b["id"])["attempts"] == 0 and len(got) == 1, what="the wait")
        time.sleep(0.1)
        assert c.emit_event("ev-after", ["payload"]) is True
        assert c.wait(b["id"])["result"] == ["payload"]
        t = c.submit("waiter", {"event": "never", "timeout": 0.5}, max_attempts=1)
        r = c.wait(t["id"], timeout=15)
    assert r["status"] == "failed"
    assert "SEEDCORE_EVENT_TIMEOUT" in got
    assert "was not emitted within 0.5 s" in r["error"]


def test_spawn_children_and_resume_once_with_their_results(db, dsn, start_worker):
    runs = []

    def parent(task, ctx):
        runs.append(task.id)
        ids = [ctx.spawn("child", {"i": i}) for i in range(5)]
        return {"results": ctx.await_tasks(ids)}

    def child(task, ctx):
        if task.params["i"] == 99:
            raise ValueError("bad child")
        return task.params["i"] * 10

    def bad_parent(task, ctx):
        ids = [ctx.spawn("child", {"i": 99}, max_attempts=1)]
        return ctx.await_tasks(ids)

    start_worker({"parent": parent, "child": child, "bad_parent": bad_parent}, concurrency=4)
    with Client(dsn) as c:
        p = c.submit("parent")
        r = c.wait(p["id"], timeout=20)
        assert r["status"] == "completed"
        assert r["result"] == {"results": [0, 10, 20, 30, 40]}
        assert len(runs) == 2, "the parent ran, suspended, and resumed once"
        kids = db.execute("SELECT count(*) AS n FROM tasks WHERE parent_id = %s", (p["id"],)).fetchone()["n"]
        assert kids == 5, "re-running the parent spawned no new children"
        bp = c.submit("bad_parent", max_attempts=1)
        rb = c.wait(bp["id"], timeout=20)
    assert rb["status"] == "failed"
    assert "SeedCoreError" in rb["error"] and "bad child" in rb["error"]


def test_step_after_lease_loss_is_not_stored(db, dsn, start_worker):
    out = []
    done = threading.Event()

    def stolen(task, ctx):
        db.execute("UPDATE tasks SET owner_id = 'other' WHERE id = %s", (task.id,))
        try:
            ctx.step("s", lambda: 1)
        except SeedCoreError as e:
            out.append(e.code)
        done.set()
        return None

    start_worker({"stolen": stolen})
    with Client(dsn) as c:
        t = c.submit("stolen")
        assert done.wait(10)
    assert out == ["SEEDCORE_CONFLICT"]
    assert db.execute("SELECT count(*) AS n FROM task_checkpoints WHERE task_id = %s", (t["id"],)).fetchone()["n"] == 0


@pytest.mark.parametrize("bad", ["", "$x", "x" * 401])
def test_bad_step_names_are_refused(db, dsn, start_worker, bad):
    codes = []

    def h(task, ctx):
        try:
            ctx.step(bad, lambda: 1)
        except SeedCoreError as e:
            codes.append(e.code)
        return None

    start_worker({"h": h})
    with Client(dsn) as c:
        c.wait(c.submit("h")["id"])
    assert codes == ["SEEDCORE_INVALID_INPUT"]
