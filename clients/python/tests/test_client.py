from __future__ import annotations

import pytest

from seedcore import Client, SeedCoreError


def test_submit_get_with_fields(db, dsn):
    with Client(dsn) as c:
        t = c.submit("echo", {"x": 1}, priority="high", queue="q1", max_attempts=5, timeout_seconds=2.5, description="d")
        assert t["status"] == "queued"
        got = c.get(t["id"])
        assert got is not None
        assert (got["type"], got["params"], got["priority"], got["queue"], got["max_attempts"], got["timeout_seconds"]) == (
            "echo",
            {"x": 1},
            "high",
            "q1",
            5,
            2.5,
        )
        assert c.get("00000000-0000-4000-8000-000000000000") is None


@pytest.mark.parametrize(
    "kw,field",
    [
        ({"type": ""}, "type"),
        ({"type": "t", "priority": "urgent"}, "priority"),
        ({"type": "t", "queue": ""}, "queue"),
        ({"type": "t", "max_attempts": 0}, "max_attempts"),
        ({"type": "t", "timeout_seconds": -1}, "timeout_seconds"),
        ({"type": "t", "params": [1, 2]}, "params"),
        ({"type": "t", "depends_on": ["not-a-uuid"]}, "depends_on"),
    ],
)
def test_bad_input_writes_nothing(db, dsn, kw, field):
    with Client(dsn) as c:
        with pytest.raises(SeedCoreError) as e:
            c.submit(**kw)
        assert e.value.code == "SEEDCORE_INVALID_INPUT"
        assert e.value.details.get("field") == field
    assert db.execute("SELECT count(*) AS n FROM tasks").fetchone()["n"] == 0


def test_dedup_returns_the_live_task(db, dsn):
    with Client(dsn) as c:
        a = c.submit("t", dedup_key="k1")
        b = c.submit("t", {"other": True}, dedup_key="k1")
        assert a["id"] == b["id"]
        assert db.execute("SELECT count(*) AS n FROM tasks").fetchone()["n"] == 1


def test_depends_on_and_cancel_cascade(db, dsn):
    with Client(dsn) as c:
        dep = c.submit("t")
        child = c.submit("t", depends_on=[dep["id"]])
        assert child["status"] == "created"
        with pytest.raises(SeedCoreError) as e:
            c.submit("t", depends_on=["00000000-0000-4000-8000-000000000000"])
        assert e.value.code == "SEEDCORE_NOT_FOUND"
        assert c.cancel(dep["id"]) is True
        assert c.cancel(dep["id"]) is False, "already ended"
        assert c.get(child["id"])["status"] == "cancelled"
        assert "dependency" in c.get(child["id"])["error"]
