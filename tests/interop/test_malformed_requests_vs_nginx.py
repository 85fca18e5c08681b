"""Differential test: each raw request of the corpus goes through real nginx and through
`hotdeploy lb` (same configuration, each with its own recording backend); the client's status
line and what reaches the backend (request line, headers, body) must be the same.

Normalized: the order of the proxy_set_header lines, X-Forwarded-*/X-Real-IP (wire_harness).
KNOWN_DIFFERENCES are cases where llhttp cannot be made to accept what nginx accepts: there
hotdeploy must refuse (forward nothing more than nginx), never forward something nginx does not.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import wire_harness as w
from wire_corpus import CASES

pytestmark = pytest.mark.skipif(not Path(w.NGINX).exists(),
                                reason=f"needs real nginx at {w.NGINX} (apt install nginx-light)")

KNOWN_DIFFERENCES = {
    "bare_lf_chunked": "llhttp needs CRLF after a chunk size (nginx takes a lone LF): 400",
    "upstream_bare_cr": "nginx passes an upstream head with lone CRs as an HTTP/0.9 body; "
                        "hotdeploy answers 502 (invalid header)",
    "ctl_in_value": "llhttp refuses control bytes in values (nginx forwards all but NUL): 400",
    "del_in_value": "as ctl_in_value, for DEL",
    "invalid_name_char": "llhttp refuses '@' in a name; nginx drops the line "
                         "(ignore_invalid_headers): 400",
    "name_obs_text": "as invalid_name_char, for obs-text in a name",
    "no_colon": "nginx forwards a header line without a colon as an empty header; llhttp: 400",
    "version_two_digit": "llhttp reads one-digit versions only (nginx up to 999): 400",
    "http09_simple": "HTTP/0.9 simple requests are not served (nginx answers without a head)",
    "method_unknown": "llhttp knows only registered methods (nginx any upper-case token): 400",
    "method_underscore": "as method_unknown",
    "uri_obs_text": "llhttp refuses bytes >= 0x80 in the target (nginx forwards them): 400",
}


@pytest.fixture(scope="module")
def proxies(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wire")
    nginx = w.start("nginx", tmp)
    try:
        hotdeploy = w.start("hotdeploy", tmp)
    except Exception:
        nginx.stop()
        raise
    yield nginx, hotdeploy
    hotdeploy.stop()
    nginx.stop()


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_outcome_as_nginx(proxies, case):
    nginx, hotdeploy = proxies
    expected = w.outcome(nginx, CASES[case])
    got = w.outcome(hotdeploy, CASES[case])
    if case in KNOWN_DIFFERENCES:
        # Refusing more than nginx is tolerated; forwarding more never is.
        assert got["upstream"] in ([], expected["upstream"]), KNOWN_DIFFERENCES[case]
        return
    assert got == expected
