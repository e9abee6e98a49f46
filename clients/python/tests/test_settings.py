"""Connection settings: timeouts and keepalive, named and defaulted as in the TypeScript library."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from seedcore import ConnectionSettings, ReplyTimeout, SeedCoreError, Worker, resolve_settings
from seedcore._db import Pool

from conftest import wait_for

ENV = ("SEEDCORE_QUERY_TIMEOUT_MS", "SEEDCORE_STATEMENT_TIMEOUT_MS", "SEEDCORE_CONNECT_TIMEOUT_MS", "SEEDCORE_KEEPALIVE_MS", "SEEDCORE_LISTEN_URL")


@pytest.fixture()
def clean_env(monkeypatch):
    for k in ENV:
        monkeypatch.delenv(k, raising=False)
    return monkeypatch


def test_defaults_environment_and_arguments(clean_env):
    assert resolve_settings() == ConnectionSettings(query_timeout_ms=60_000, statement_timeout_ms=0, connect_timeout_ms=10_000, keepalive_ms=10_000, listen_url=None)
    clean_env.setenv("SEEDCORE_QUERY_TIMEOUT_MS", "1500")
    clean_env.setenv("SEEDCORE_STATEMENT_TIMEOUT_MS", "700")
    clean_env.setenv("SEEDCORE_KEEPALIVE_MS", "0")
    clean_env.setenv("SEEDCORE_LISTEN_URL", "postgres://direct/db")
    s = resolve_settings()
    assert (s.query_timeout_ms, s.statement_timeout_ms, s.keepalive_ms, s.listen_url) == (1500, 700, 0, "postgres://direct/db")
    # An argument wins over the environment.
    assert resolve_settings(query_timeout_ms=0, statement_timeout_ms=9).query_timeout_ms == 0
    assert resolve_settings(statement_timeout_ms=9).statement_timeout_ms == 9
    kw = resolve_settings().connect_kwargs()
    assert kw["options"] == "-c statement_timeout=700" and kw["keepalives"] == 0 and kw["connect_timeout"] == 10
    assert "options" not in resolve_settings(statement_timeout_ms=0).connect_kwargs()


@pytest.mark.parametrize("value", ["abc", "-1", "1.5"])
def test_a_bad_environment_value_is_invalid_input_naming_it(clean_env, value):
    clean_env.setenv("SEEDCORE_STATEMENT_TIMEOUT_MS", value)
    with pytest.raises(SeedCoreError) as e:
        resolve_settings()
    assert e.value.code == "SEEDCORE_INVALID_INPUT"
    assert "SEEDCORE_STATEMENT_TIMEOUT_MS" in e.value.message


@pytest.mark.parametrize("value", [-1, 1.5, True, "10"])
def test_a_bad_argument_is_invalid_input_naming_it(clean_env, value):
    with pytest.raises(SeedCoreError) as e:
        resolve_settings(query_timeout_ms=value)  # type: ignore[arg-type]
    assert e.value.code == "SEEDCORE_INVALID_INPUT" and "query_timeout_ms" in e.value.message


def test_statement_timeout_is_the_servers_statement_timeout(clean_env, dsn):
    # Control: without the setting the server's own (0 here) applies and a short sleep passes.
    plain = Pool(dsn, 1)
    try:
        assert plain.query("SHOW statement_timeout")[0]["statement_timeout"] == "0"
        plain.query("SELECT pg_sleep(0.3)")
    finally:
        plain.close()
    clean_env.setenv("SEEDCORE_STATEMENT_TIMEOUT_MS", "250")
    pool = Pool(dsn, 1)
    try:
        assert pool.query("SHOW statement_timeout")[0]["statement_timeout"] == "250ms"
        t0 = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            pool.query("SELECT pg_sleep(3)")
        assert time.monotonic() - t0 < 2.5
        # A cancelled statement is an answer, not a broken connection: the pool keeps working.
        assert pool.query("SELECT 1 AS x") == [{"x": 1}]
    finally:
        pool.close()


def test_query_timeout_gives_up_on_a_missing_reply_and_discards_the_connection(clean_env, dsn):
    pool = Pool(dsn, 1, settings=resolve_settings(query_timeout_ms=300))
    try:
        pool.query("SELECT pg_sleep(0.05)")  # control: a reply within the limit
        t0 = time.monotonic()
        with pytest.raises(ReplyTimeout) as e:
            pool.query("SELECT pg_sleep(3)")
        took = time.monotonic() - t0
        assert 0.25 <= took < 2.0, took
        assert "SEEDCORE_QUERY_TIMEOUT_MS" in str(e.value)
        # A connection-class error: the outcome writer and the pool treat it as the network's fault.
        assert isinstance(e.value, psycopg.OperationalError)
        with pool.connection() as conn:
            pid = conn.info.backend_pid
        assert pool.query("SELECT 1 AS x") == [{"x": 1}]
    finally:
        pool.close()
    # The timed-out connection is gone from the server's view too (its sleep ended with it).
    with psycopg.connect(dsn, autocommit=True) as admin:
        wait_for(
            lambda: admin.execute("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(3)' AND pid <> %s", (pid,)).fetchone()[0] == 0,
            10,
            "the abandoned statement's backend to end",
        )


def test_worker_takes_its_settings_from_the_environment(clean_env, db, dsn, start_worker):
    clean_env.setenv("SEEDCORE_QUERY_TIMEOUT_MS", "5000")
    clean_env.setenv("SEEDCORE_STATEMENT_TIMEOUT_MS", "4000")
    r = start_worker({"t": lambda task, ctx: {"ok": True}})
    assert (r.worker.settings.query_timeout_ms, r.worker.settings.statement_timeout_ms) == (5000, 4000)
    db.execute("INSERT INTO tasks (type, params, status) VALUES ('t', '{}', 'queued')")
    wait_for(lambda: db.execute("SELECT status::text AS s FROM tasks").fetchone()["s"] == "completed", 15, "the task to complete")


def test_worker_refuses_a_bad_setting_before_writing_anything(clean_env, db, dsn, tmp_path):
    clean_env.setenv("SEEDCORE_QUERY_TIMEOUT_MS", "soon")
    with pytest.raises(SeedCoreError) as e:
        Worker(dsn, {"t": lambda task, ctx: None})
    assert "SEEDCORE_QUERY_TIMEOUT_MS" in e.value.message
    assert db.execute("SELECT count(*) AS n FROM registry_instance").fetchone()["n"] == 0
    # The command line says so and exits 2.
    handlers = tmp_path / "handlers.py"
    handlers.write_text("handlers = {'t': lambda task, ctx: None}\n")
    pkg = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "DATABASE_URL": dsn, "SEEDCORE_QUERY_TIMEOUT_MS": "soon", "PYTHONPATH": pkg}
    p = subprocess.run([sys.executable, "-m", "seedcore.worker", "--handlers", str(handlers)], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2, p.stderr
    assert "SEEDCORE_QUERY_TIMEOUT_MS must be a whole number of milliseconds" in p.stderr
