"""The per-(check, peer) health state machine: fails/passes thresholds, mandatory, several checks.

Driven with a fake clock against a real PeerGroup (which also records the calls it got).
"""

from hotdeploy.config.model import HealthCheckConfig, ServerSpec, UpstreamConfig
from hotdeploy.upstream.group import PeerGroup
from hotdeploy.upstream.health import HealthBook
from hotdeploy.upstream.peer import Peer


class Sink:
    """A real PeerGroup that also records what it was told (wrapped, not subclassed: the
    group may be a compiled class)."""

    def __init__(self, mandatory=False):
        self.group = PeerGroup(UpstreamConfig(name="b", servers=()), mandatory=mandatory)
        self.calls = []

    def set_health(self, peer, state, now):
        self.calls.append((peer.address, state, now))
        self.group.set_health(peer, state, now)

    def __getattr__(self, name):
        return getattr(self.group, name)


def make_peer(port=8081, group=None):
    spec = ServerSpec(name=f"127.0.0.1:{port}", host="127.0.0.1", port=port)
    if group is not None:
        return group.add(spec, 0.0)
    return Peer.from_spec(spec, port)


def run(book, key, check, peer, sink, results, start=0.0):
    for i, passed in enumerate(results):
        book.record(key, check, peer, sink, passed, start + i)


def test_unhealthy_after_fails_consecutive_failures_only():
    check = HealthCheckConfig(upstream="b", fails=3, passes=1)
    book, sink, peer = HealthBook(), Sink(), make_peer()
    book.track("c", check, peer, sink, 0.0)
    run(book, "c", check, peer, sink, [False, False, True, False, False])
    assert peer.health == "healthy"  # the pass reset the count: never 3 in a row
    book.record("c", check, peer, sink, False, 10.0)
    assert peer.health == "unhealthy"
    assert sink.calls == [("127.0.0.1:8081", "unhealthy", 10.0)]
    assert (peer.hc_checks, peer.hc_fails, peer.hc_unhealthy) == (6, 5, 1)
    assert peer.hc_last_passed is False


def test_back_to_healthy_after_passes_consecutive_passes():
    check = HealthCheckConfig(upstream="b", fails=1, passes=3)
    book, sink, peer = HealthBook(), Sink(), make_peer()
    book.track("c", check, peer, sink, 0.0)
    run(book, "c", check, peer, sink, [False, True, True, False, True, True])
    assert peer.health == "unhealthy"
    book.record("c", check, peer, sink, True, 20.0)
    assert peer.health == "healthy"
    assert sink.calls[-1] == ("127.0.0.1:8081", "healthy", 20.0)
    assert peer.hc_unhealthy == 1  # became unhealthy once, even with a second failure inside
    assert peer.hc_last_passed is True


def test_defaults_one_failure_out_one_pass_back():
    check = HealthCheckConfig(upstream="b")
    book, sink, peer = HealthBook(), Sink(), make_peer()
    book.track("c", check, peer, sink, 0.0)
    book.record("c", check, peer, sink, False, 1.0)
    assert peer.health == "unhealthy"
    book.record("c", check, peer, sink, True, 2.0)
    assert peer.health == "healthy"


def test_mandatory_starts_checking_and_first_result_decides():
    check = HealthCheckConfig(upstream="b", mandatory=True, passes=3, fails=3)
    book, sink = HealthBook(), Sink(mandatory=True)
    good, bad = make_peer(8081, sink), make_peer(8082, sink)
    for peer in (good, bad):
        book.track("c", check, peer, sink, 0.0)
        assert sink.state_of(peer, 0.0) == "checking"
        assert not sink.is_available(peer, 0.0)  # no client traffic yet
    book.record("c", check, good, sink, True, 1.0)
    book.record("c", check, bad, sink, False, 1.0)
    assert sink.state_of(good, 1.0) == "up"  # first pass is enough, whatever `passes` says
    assert sink.is_available(good, 1.0)
    assert sink.state_of(bad, 1.0) == "unhealthy"  # first failure is enough, whatever `fails`
    run(book, "c", check, bad, sink, [True, True], start=2.0)
    assert bad.health == "unhealthy"
    book.record("c", check, bad, sink, True, 5.0)
    assert bad.health == "healthy"


def test_non_mandatory_peer_is_healthy_before_any_check():
    check = HealthCheckConfig(upstream="b")
    book, sink, peer = HealthBook(), Sink(), make_peer()
    assert book.track("c", check, peer, sink, 0.0) is None
    assert peer.health == "healthy" and sink.calls == []


def test_one_failing_check_makes_the_server_unhealthy():
    a = HealthCheckConfig(upstream="b", uri="/a")
    b = HealthCheckConfig(upstream="b", uri="/b", passes=2)
    book, sink, peer = HealthBook(), Sink(), make_peer()
    book.track("a", a, peer, sink, 0.0)
    book.track("b", b, peer, sink, 0.0)
    book.record("a", a, peer, sink, True, 1.0)
    book.record("b", b, peer, sink, False, 1.0)
    assert peer.health == "unhealthy"
    book.record("a", a, peer, sink, True, 2.0)
    book.record("b", b, peer, sink, True, 2.0)
    assert peer.health == "unhealthy"  # check b needs two passes
    book.record("b", b, peer, sink, True, 3.0)
    assert peer.health == "healthy"


def test_unhealthy_beats_checking_across_checks():
    a = HealthCheckConfig(upstream="b", mandatory=True)
    b = HealthCheckConfig(upstream="b")
    book, sink, peer = HealthBook(), Sink(), make_peer()
    book.track("a", a, peer, sink, 0.0)
    book.track("b", b, peer, sink, 0.0)
    assert peer.health == "checking"
    book.record("b", b, peer, sink, False, 1.0)
    assert peer.health == "unhealthy"
    book.record("b", b, peer, sink, True, 2.0)
    assert peer.health == "checking"  # still waiting for the mandatory check's first result


def test_removing_the_failing_check_restores_the_server():
    check = HealthCheckConfig(upstream="b")
    book, sink, peer = HealthBook(), Sink(), make_peer()
    book.track("c", check, peer, sink, 0.0)
    book.record("c", check, peer, sink, False, 1.0)
    change = book.forget("c", peer, sink, 2.0)
    assert peer.health == "healthy"
    assert (change.was, change.state) == ("unhealthy", "healthy")


def test_a_rebuilt_book_keeps_what_earlier_checks_found():
    """A checker rebuilt on reload must not make an unhealthy server healthy, nor put a server
    already found healthy back into "checking" (reloads keep observed state)."""
    plain = HealthCheckConfig(upstream="b")
    sink, sick, well = Sink(), make_peer(8081), make_peer(8082)
    old = HealthBook()
    old.track("c", plain, sick, sink, 0.0)
    old.track("c", plain, well, sink, 0.0)
    old.record("c", plain, sick, sink, False, 1.0)
    old.record("c", plain, well, sink, True, 1.0)
    new = HealthBook()
    new.track("c", plain, sick, sink, 2.0)
    assert sick.health == "unhealthy"
    mandatory = HealthCheckConfig(upstream="b", mandatory=True)
    new.track("m", mandatory, well, sink, 2.0)
    assert well.health == "healthy"
    never_checked = make_peer(8083)
    new.track("m", mandatory, never_checked, sink, 2.0)
    assert never_checked.health == "checking"
    # `persistent`: a health the group inherited for a known address is trusted.
    inherited = make_peer(8084)
    new.track("p", HealthCheckConfig(upstream="b", mandatory=True, persistent=True), inherited,
              sink, 2.0)
    assert inherited.health == "healthy"
