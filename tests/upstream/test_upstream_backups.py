"""Backups (active-passive): used only while no primary is eligible; balanced vs ordered."""

from __future__ import annotations

from hotdeploy.upstream.attempt import Attempt

PRIMARY = {"max_fails": 3, "fail_timeout": 30}
BACKUP = {"max_fails": 3, "fail_timeout": 30, "backup": True}


def knock_out(group, peer, now=0.0):
    for i in range(peer.max_fails):
        peer.conns += 1
        group.release(peer, True, now + i)


def test_backups_idle_while_a_primary_is_up(make_group, seq):
    group = make_group(PRIMARY, BACKUP, BACKUP)
    assert seq(group, 10) == "a" * 10


def test_balanced_backups_share_traffic_like_nginx(make_group, seq):
    group = make_group(PRIMARY, BACKUP, BACKUP)
    knock_out(group, group.peers[0])
    assert seq(group, 6, now=5.0) == "bcbcbc"


def test_ordered_backups_send_everything_to_the_first_available(make_group, seq):
    group = make_group(PRIMARY, BACKUP, BACKUP, backup_mode="ordered")
    knock_out(group, group.peers[0])
    assert seq(group, 6, now=5.0) == "bbbbbb"
    knock_out(group, group.peers[1], now=5.0)
    assert seq(group, 4, now=9.0) == "cccc"


def test_failed_primary_request_is_retried_on_a_backup(make_group):
    group = make_group(PRIMARY, BACKUP)
    attempt = Attempt()
    first = group.select(attempt, 0.0)
    group.release(first, True, 0.0)
    second = group.select(attempt, 0.0)
    assert second is group.peers[1] and attempt.on_backups
    assert group.max_tries == 2


def test_primary_takes_traffic_back_after_a_successful_probe(make_group, seq):
    group = make_group(PRIMARY, BACKUP, backup_mode="ordered")
    knock_out(group, group.peers[0])  # last failure at t=2
    assert seq(group, 5, now=20.0) == "bbbbb"
    assert seq(group, 1, now=32.5) == "a"  # the probe succeeds
    assert seq(group, 5, now=33.0) == "aaaaa"


def test_primary_failing_its_probe_leaves_backup_in_charge(make_group, seq):
    group = make_group(PRIMARY, BACKUP)
    a = group.peers[0]
    knock_out(group, a)
    probe = group.select(Attempt(), 32.5)
    assert probe is a
    group.release(probe, True, 32.5)
    assert seq(group, 5, now=40.0) == "bbbbb"


def test_nothing_eligible_resets_primaries_and_backups(make_group):
    group = make_group(PRIMARY, BACKUP)
    for peer in group.peers:
        knock_out(group, peer)
    assert group.select(Attempt(), 5.0) is None
    assert [p.fails for p in group.peers] == [0, 0]


def test_request_already_on_backups_resets_only_backups(make_group):
    group = make_group(PRIMARY, BACKUP)
    a, b = group.peers
    knock_out(group, a)
    attempt = Attempt()
    peer = group.select(attempt, 5.0)
    assert peer is b
    group.release(peer, True, 5.0)
    assert group.select(attempt, 5.0) is None  # b tried, a still out
    assert a.fails == 3  # nginx resets the list the request was on: the backups
