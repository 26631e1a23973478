"""How `fetch --engine ray` spreads URLs over actors (``KeyedBatches``, pure, no Ray): a host
sticks to one actor, its in-flight batches are capped, and a lost actor's batches go back,
whole and first in line, to the actor its host moves to."""

from __future__ import annotations

from collections import Counter

import pytest

from faceledger.engines.ray_engine import KeyedBatches


def _drain(plan: KeyedBatches[str, int, str]) -> list[tuple[str, str, list[int]]]:
    jobs = []
    while (job := plan.take()) is not None:
        jobs.append(job)
    return jobs


def test_a_host_stays_on_the_actor_it_was_first_given_to() -> None:
    plan: KeyedBatches[str, int, str] = KeyedBatches(["a", "b"], batch=2, per_key=1, per_actor=4)
    for i in range(12):
        plan.put(f"h{i % 3}", i)
    owners: dict[str, set[str]] = {}
    while plan.waiting:
        for actor, key, items in _drain(plan):
            owners.setdefault(key, set()).add(actor)
            assert len(items) <= 2 and all(f"h{i % 3}" == key for i in items)
            plan.finished(actor, key)
    assert all(len(actors) == 1 for actors in owners.values())
    assert {next(iter(a)) for a in owners.values()} == {"a", "b"}, "hosts spread over actors"


def test_in_flight_batches_are_capped_per_host_and_per_actor() -> None:
    plan: KeyedBatches[str, int, str] = KeyedBatches(["a", "b"], batch=3, per_key=2, per_actor=3)
    for i in range(30):
        plan.put("big", i)
    for i in range(30, 36):
        plan.put(f"small{i % 3}", i)
    jobs = _drain(plan)
    per_key = Counter(key for _, key, _ in jobs)
    per_actor = Counter(actor for actor, _, _ in jobs)
    assert per_key["big"] == 2, "a host never has more than per_key batches out"
    assert max(per_actor.values()) <= 3
    assert plan.waiting == 36 - sum(len(items) for _, _, items in jobs)
    first = [items for _, key, items in jobs if key == "big"]
    assert first == [[0, 1, 2], [3, 4, 5]], "oldest items first"


def test_a_lost_actors_batch_goes_back_first_and_its_hosts_move() -> None:
    plan: KeyedBatches[str, int, str] = KeyedBatches(["a", "b"], batch=2, per_key=1, per_actor=2)
    for i in range(8):
        plan.put(f"h{i % 2}", i)
    jobs = {key: (actor, items) for actor, key, items in _drain(plan)}
    lost_actor, lost_items = jobs["h0"]
    plan.lose(lost_actor)
    plan.put_back("h0", lost_items)
    survivor, items = jobs["h1"]
    plan.finished(survivor, "h1")
    taken = _drain(plan)
    assert taken[0] == (survivor, "h0", lost_items), "the lost batch, whole, on the survivor"
    assert all(actor == survivor for actor, _, _ in taken)
    seen = Counter(i for _, _, batch in taken for i in batch)
    assert max(seen.values()) == 1


def test_nothing_is_taken_when_every_actor_is_busy() -> None:
    plan: KeyedBatches[str, int, str] = KeyedBatches(["a"], batch=1, per_key=5, per_actor=1)
    plan.put("h", 1)
    plan.put("g", 2)
    (job,) = _drain(plan)
    assert plan.take() is None
    plan.finished(job[0], job[1])
    assert plan.take() is not None


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        KeyedBatches(["a"], batch=0, per_key=1, per_actor=1)
