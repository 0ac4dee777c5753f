"""Fair shares between organisations: a chunk's queue message says only that there is
work, and the claim picks the chunk — the organisation with the fewest chunks in
flight, then the one served least recently — under a per-organisation cap whose
waiting chunks are claimed later, never lost. On every engine."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from huey.storage import MemoryStorage

from loadbay.auth import issue_token
from loadbay.catalog.fields import parse_fields
from loadbay.catalog.models import DataType, Hub
from loadbay.db import Database, get_database
from loadbay.ids import utcnow
from loadbay.imports import pipeline, state
from loadbay.imports.models import ImportChunk, ImportJob
from loadbay.queue import huey
from loadbay.settings import Settings
from tests.imports.conftest import OUTLET_FIELDS, Uploader, csv_bytes

API = "/api/v3"


@dataclass
class Org:
    id: str
    auth: dict[str, str]
    upload: Callable[[bytes], str]  # a CSV of outlets → the job id


@pytest.fixture
def orgs(
    db: Database,
    app_client: TestClient,
    upload: Uploader,
    org_id: str,
    make_org: Callable[[str], str],
    token_for: Callable[..., str],
) -> tuple[Org, Org]:
    """Organisation A (the tests' usual one) and B, each with an outlet data type."""

    def uploaded_by(send: Callable[[bytes], Any]) -> Callable[[bytes], str]:
        def _send(content: bytes) -> str:
            response = send(content)
            assert response.status_code == 200, response.text
            return str(response.json()["data"]["_id"])

        return _send

    b_id = make_org("beta")
    b_auth = {"Authorization": f"Bearer {issue_token(b_id, 'ops@beta.test', ['import'])}"}
    with db.write() as session:
        hub = Hub(organization_id=b_id, name="Bandung")
        outlet = DataType(
            organization_id=b_id,
            name="Outlet",
            common_data=False,
            fields=[s.as_dict() for s in parse_fields(OUTLET_FIELDS)],
        )
        session.add_all([hub, outlet])
        session.flush()
        form = {"dataTypeId": outlet.id, "hubId": hub.id}

    def send_b(content: bytes) -> Any:
        return app_client.post(
            f"{API}/data/import", headers=b_auth, data=form, files={"file": ("b.csv", content)}
        )

    a_admin = {"Authorization": f"Bearer {token_for(perms='import,admin')}"}
    return Org(org_id, a_admin, uploaded_by(upload)), Org(b_id, b_auth, uploaded_by(send_b))


def outlets(n: int, prefix: str) -> bytes:
    return csv_bytes(
        [["Outlet Code", "Name"]] + [[f"{prefix}{i}", f"Outlet {i}"] for i in range(n)]
    )


@contextmanager
def held_queue() -> Iterator[None]:
    """Messages stay queued (in memory) until the test runs them: as a busy queue."""
    saved, store = huey.immediate, huey.storage
    huey.immediate = False
    huey.storage = MemoryStorage("fair")
    try:
        yield
    finally:
        huey.immediate, huey.storage = saved, store


def drain() -> int:
    """Run every queued message, as one worker would; answers how many ran."""
    ran = 0
    while (task := huey.dequeue()) is not None:
        huey.execute(task)
        ran += 1
    return ran


def planned(org: Org, rows: int, prefix: str) -> tuple[str, list[str]]:
    """An upload of `rows` outlets, planned: its chunks wait, their messages queued."""
    job_id = org.upload(outlets(rows, prefix))
    pipeline.plan_job(job_id)
    with get_database().read() as session:
        ids = session.scalars(
            sa.select(ImportChunk.id).where(ImportChunk.job_id == job_id).order_by(ImportChunk.seq)
        ).all()
    return job_id, list(ids)


def chunk_states(job_id: str) -> list[tuple[str, str | None]]:
    with get_database().read() as session:
        return [
            (r.state, r.lease_owner)
            for r in session.execute(
                sa.select(ImportChunk.state, ImportChunk.lease_owner)
                .where(ImportChunk.job_id == job_id)
                .order_by(ImportChunk.seq)
            )
        ]


def done(job_id: str) -> int:
    return sum(s == "done" for s, _ in chunk_states(job_id))


def hold(chunk_id: str, owner: str = "elsewhere:1:x") -> None:
    """Another worker is writing this chunk (its lease is live)."""
    with get_database().write() as session:
        session.execute(
            sa.update(ImportChunk)
            .where(ImportChunk.id == chunk_id)
            .values(lease_owner=owner, lease_expires=utcnow() + timedelta(minutes=5), attempts=1)
        )


@pytest.fixture
def small_chunks(worker_for: Callable[..., Settings]) -> Callable[..., Settings]:
    """This process set up as a worker with chunks of two rows (and what a test adds)."""
    worker_for(chunk_size=2)
    return worker_for


def test_the_organisation_served_least_recently_goes_first(
    orgs: tuple[Org, Org], small_chunks: Any
) -> None:
    a, b = orgs
    with held_queue():
        a_job, a_chunks = planned(a, 20, "A")
        b_job, _ = planned(b, 2, "B")
        assert len(a_chunks) == 10
        # The queue hands out A's messages first (they were sent first): A's first chunk
        # is claimed, then B's, though the message is A's.
        pipeline.run_chunk(a_chunks[0])
        assert (done(a_job), done(b_job)) == (1, 0)
        pipeline.run_chunk(a_chunks[1])
        assert (done(a_job), done(b_job)) == (1, 1)
        pipeline.run_chunk(a_chunks[2])  # B has nothing left: A goes on, in order
        assert [s for s, _ in chunk_states(a_job)][:3] == ["done", "done", "pending"]


def test_an_organisation_with_fewer_chunks_in_flight_is_claimed_next(
    orgs: tuple[Org, Org], small_chunks: Any
) -> None:
    a, b = orgs
    with held_queue():
        a_job, a_chunks = planned(a, 20, "A")
        hold(a_chunks[0])  # another worker writes A's first chunk
        b_job, _ = planned(b, 4, "B")
        pipeline.run_chunk(a_chunks[1])
        assert (done(a_job), done(b_job)) == (0, 1)
        # B's last chunk waits too; A (1 in flight) and B (none) — B again.
        pipeline.run_chunk(a_chunks[2])
        assert (done(a_job), done(b_job)) == (0, 2)
        pipeline.run_chunk(a_chunks[3])  # then A, from its first chunk not held
        assert chunk_states(a_job)[:3] == [
            ("pending", "elsewhere:1:x"),
            ("done", None),
            ("pending", None),
        ]


def test_the_cap_holds_an_organisation_back_and_its_own_setting_wins(
    orgs: tuple[Org, Org], small_chunks: Callable[..., None], app_client: TestClient
) -> None:
    a, b = orgs
    small_chunks(chunk_size=2, max_concurrent_chunks_per_org=1)
    with held_queue():
        a_job, a_chunks = planned(a, 6, "A")
        hold(a_chunks[0])
        assert pipeline.run_chunk(a_chunks[1]) == 0
        assert chunk_states(a_job) == [("pending", "elsewhere:1:x")] + [("pending", None)] * 2
        b_job, _ = planned(b, 2, "B")  # the cap is A's: B's chunk is claimed
        pipeline.run_chunk(a_chunks[1])
        assert done(b_job) == 1 and done(a_job) == 0
        response = app_client.put(
            f"{API}/organization/settings", headers=a.auth, json={"maxConcurrentChunks": 2}
        )
        assert response.status_code == 200, response.text
        pipeline.run_chunk(a_chunks[1])  # A's own setting: two at once
        assert [s for s, _ in chunk_states(a_job)] == ["pending", "done", "pending"]
        pipeline.run_chunk(a_chunks[2])
        assert done(a_job) == 2


def test_no_chunk_is_lost_under_the_cap(
    orgs: tuple[Org, Org], small_chunks: Callable[..., None], db: Database
) -> None:
    """Worker 1 writes A's first chunk while worker 2 runs every other message: each
    finds A at its cap and does nothing. A's chunks are still all written, one after
    another, and the sweeper does not take the waiting ones for lost messages."""
    a, _ = orgs
    small_chunks(chunk_size=2, max_concurrent_chunks_per_org=1)
    with held_queue():
        a_job, a_chunks = planned(a, 12, "A")
        first = pipeline.claim_next()  # worker 1
        assert first is not None and first.chunk.id == a_chunks[0]
        assert drain() >= len(a_chunks)  # worker 2: the plan's messages, all at the cap
        assert chunk_states(a_job)[1:] == [("pending", None)] * 5
        with db.write() as session:  # long enough waiting for a sweep to look at them
            session.execute(
                sa.update(ImportChunk)
                .where(ImportChunk.job_id == a_job, ImportChunk.lease_owner.is_(None))
                .values(lease_expires=utcnow() - timedelta(seconds=1))
            )
        with db.read() as session:
            assert state.count_unclaimed(session, utcnow()) == 0
        pipeline.run_claimed(first)  # its end sends a message on for the next chunk
        drain()
        with db.read() as session:
            job = session.get(ImportJob, a_job)
            assert job is not None
            assert (job.phase, job.status, job.created_count) == ("done", "success", 12)


def test_a_message_lost_under_the_cap_is_swept(
    orgs: tuple[Org, Org], small_chunks: Callable[..., None], db: Database
) -> None:
    """Between a capped chunk's end and its message the waiting chunks are not lost (no
    sweep re-enqueues them); when that message is lost, the sweep after a lease with no
    chunk of the organisation moving re-enqueues them, and the import ends."""
    from loadbay.worker.sweeper import sweep

    a, _ = orgs
    small_chunks(chunk_size=2, max_concurrent_chunks_per_org=1)
    with held_queue():
        a_job, _ = planned(a, 8, "A")
        first = pipeline.claim_next()
        assert first is not None
        drain()  # every message finds A at its cap
        with db.write() as session:
            session.execute(
                sa.update(ImportChunk)
                .where(ImportChunk.job_id == a_job, ImportChunk.lease_owner.is_(None))
                .values(lease_expires=utcnow() - timedelta(seconds=1))
            )
        pipeline.run_claimed(first)
        with db.read() as session:  # its message is on its way: nothing is lost
            assert state.count_unclaimed(session, utcnow()) == 0
        huey.storage.flush_queue()  # ... and is lost
        with db.write() as session:  # a lease later, nothing of A has moved
            then = utcnow() - timedelta(seconds=state.lease_seconds() + 1)
            session.execute(
                sa.update(ImportChunk)
                .where(ImportChunk.job_id == a_job, ImportChunk.claimed_at.is_not(None))
                .values(claimed_at=then, done_time=then)
            )
        assert sweep()["chunks"] >= 1
        drain()
        with db.read() as session:
            job = session.get(ImportJob, a_job)
            assert job is not None
            assert (job.phase, job.status, job.created_count) == ("done", "success", 8)


def test_racing_claims_respect_the_cap_and_never_share_a_chunk(
    orgs: tuple[Org, Org], small_chunks: Callable[..., None], db: Database
) -> None:
    a, _ = orgs
    small_chunks(chunk_size=2, max_concurrent_chunks_per_org=3)
    with held_queue():
        a_job, _ = planned(a, 20, "A")
    claims: list[Any] = []
    errors: list[BaseException] = []
    gate = threading.Barrier(8)

    def claim(n: int) -> None:
        try:
            gate.wait()
            with db.write() as session:
                claims.append(state.claim_chunk(session, f"racer:{n}"))
        except BaseException as exc:  # reported below, in the test's own thread
            errors.append(exc)

    racers = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
    for t in racers:
        t.start()
    for t in racers:
        t.join(30)
    assert not errors, errors
    taken = [c.chunk_id for c in claims if c is not None]
    assert len(taken) == 3 and len(set(taken)) == 3
    assert sum(owner is not None for _, owner in chunk_states(a_job)) == 3


def test_an_organisation_plans_one_upload_at_a_time(
    orgs: tuple[Org, Org], small_chunks: Any, db: Database
) -> None:
    """Two big uploads of A must not hold both workers in their plans while B's small
    upload waits: A's second plan waits for its first, B's is planned at once; when
    A's first plan ends, its second is enqueued, and both end."""
    a, b = orgs
    with held_queue():
        first = a.upload(outlets(6, "A"))
        second = a.upload(outlets(6, "Z"))
        with db.write() as session:  # a worker elsewhere reads A's first file
            session.execute(
                sa.update(ImportJob)
                .where(ImportJob.id == first)
                .values(
                    phase="planning",
                    lease_owner="elsewhere:1:x",
                    lease_expires=utcnow() + timedelta(minutes=5),
                    attempts=1,
                )
            )
        pipeline.plan_job(second)
        b_job = b.upload(outlets(2, "B"))
        pipeline.plan_job(b_job)
        with db.write() as session:
            assert session.get(ImportJob, second).phase == "queued"  # type: ignore[union-attr]
            assert session.get(ImportJob, b_job).phase == "running"  # type: ignore[union-attr]
            # Waiting for A's plan, not for a message: no sweep takes it for lost.
            session.execute(
                sa.update(ImportJob)
                .where(ImportJob.id == second)
                .values(lease_expires=utcnow() - timedelta(seconds=1))
            )
        with db.read() as session:
            assert state.count_unclaimed(session, utcnow()) == 0
        with db.write() as session:  # the first plan's worker is gone: its plan is taken over
            session.execute(
                sa.update(ImportJob)
                .where(ImportJob.id == first)
                .values(lease_expires=utcnow() - timedelta(seconds=1))
            )
        pipeline.plan_job(first)
        drain()  # the chunks, A's second plan (sent on by the first), the finalizes
        with db.read() as session:
            ends = {
                j.id: (j.phase, j.status, j.created_count)
                for j in session.scalars(sa.select(ImportJob))
            }
    assert ends == {
        first: ("done", "success", 6),
        second: ("done", "success", 6),
        b_job: ("done", "success", 2),
    }


def test_a_plan_taken_over_also_waits_for_the_organisations_live_plan(
    orgs: tuple[Org, Org], small_chunks: Any, db: Database
) -> None:
    """A retried or swept plan whose lease ran out is not claimed while another upload
    of the same organisation is being planned: one plan at a time holds for takeovers."""
    a, _ = orgs
    with held_queue():
        first = a.upload(outlets(6, "A"))
        second = a.upload(outlets(6, "Z"))
        now = utcnow()
        with db.write() as session:
            for job, expires in (
                (first, now - timedelta(seconds=1)),
                (second, now + timedelta(minutes=5)),
            ):
                session.execute(
                    sa.update(ImportJob)
                    .where(ImportJob.id == job)
                    .values(phase="planning", lease_owner="elsewhere:1:x", lease_expires=expires, attempts=1)
                )  # fmt: skip
        with db.write() as session:
            assert not state.claim_job(session, first, "here:1:y", "planning")
        with db.write() as session:  # the live plan ends (its lease runs out): now it may
            session.execute(
                sa.update(ImportJob).where(ImportJob.id == second).values(lease_expires=now)
            )
        with db.write() as session:
            assert state.claim_job(session, first, "here:1:y", "planning")
