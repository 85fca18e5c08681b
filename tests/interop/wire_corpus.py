"""Malformed and edge-case requests, as raw bytes, for the nginx differential test."""

from __future__ import annotations

H = b"Host: a\r\n"

CASES: dict[str, bytes] = {
    # line endings (RFC 9112 §2.2: a lone LF may be accepted; a bare CR may not)
    "ok": b"GET / HTTP/1.1\r\n" + H + b"\r\n",
    "bare_lf_request": b"GET /lf HTTP/1.0\nHost: a\n\n",
    "bare_lf_mixed": b"GET /lf HTTP/1.1\r\nHost: a\nX-A: 1\r\n\n",
    "bare_cr_request_line": b"GET / HTTP/1.1\rHost: a\r\n\r\n",
    "bare_cr_in_header": b"GET / HTTP/1.1\r\nHost: a\rX-A: 1\r\n\r\n",
    "bare_cr_in_value": b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r2\r\n\r\n",
    "bare_lf_chunked": b"POST /c HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\n\n"
                       b"3\nabc\n0\n\n",
    "upstream_bare_lf": b"GET /resp/lf HTTP/1.1\r\n" + H + b"\r\n",
    "upstream_bare_cr": b"GET /resp/cr HTTP/1.1\r\n" + H + b"\r\n",
    "upstream_obs_text": b"GET /resp/obs HTTP/1.1\r\n" + H + b"\r\n",
    # Host
    "two_hosts": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "two_hosts_same": b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
    "no_host_11": b"GET / HTTP/1.1\r\n\r\n",
    "no_host_10": b"GET / HTTP/1.0\r\n\r\n",
    "empty_host_11": b"GET / HTTP/1.1\r\nHost:\r\n\r\n",
    "host_trailing_dot": b"GET / HTTP/1.1\r\nHost: EVIL.Example.:8080\r\n\r\n",
    "host_port": b"GET / HTTP/1.1\r\nHost: evil.example:81\r\n\r\n",
    "host_ipv6": b"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
    "host_slash": b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
    "host_backslash": b"GET / HTTP/1.1\r\nHost: a\\b\r\n\r\n",
    "host_dotdot": b"GET / HTTP/1.1\r\nHost: a..b\r\n\r\n",
    "host_leading_dot": b"GET / HTTP/1.1\r\nHost: .a\r\n\r\n",
    "host_space": b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
    "host_nul": b"GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n",
    "host_bad_ipv6": b"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n",
    "host_two_dots_only": b"GET / HTTP/1.1\r\nHost: ..\r\n\r\n",
    # absolute form
    "absolute_uri": b"GET http://evil.example/x?y=1 HTTP/1.1\r\n" + H + b"\r\n",
    "absolute_uri_port": b"GET http://Evil.Example:8080/x HTTP/1.1\r\n" + H + b"\r\n",
    "absolute_uri_no_path": b"GET http://evil.example HTTP/1.1\r\n" + H + b"\r\n",
    "absolute_uri_https": b"GET https://evil.example/ HTTP/1.1\r\n" + H + b"\r\n",
    "absolute_uri_no_host_hdr": b"GET http://evil.example/ HTTP/1.1\r\n\r\n",
    "absolute_uri_other_scheme": b"GET ftp://evil.example/ HTTP/1.1\r\n" + H + b"\r\n",
    "absolute_uri_userinfo": b"GET http://u@evil.example/ HTTP/1.1\r\n" + H + b"\r\n",
    # header values and names
    "obs_text_value": b"GET / HTTP/1.1\r\n" + H + b"User: \x85admin\xa0\r\n\r\n",
    "nul_in_value": b"GET / HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n",
    "ctl_in_value": b"GET / HTTP/1.1\r\n" + H + b"X-A: a\x01b\r\n\r\n",
    "del_in_value": b"GET / HTTP/1.1\r\n" + H + b"X-A: a\x7fb\r\n\r\n",
    "tab_in_value": b"GET / HTTP/1.1\r\n" + H + b"X-A: a\tb\r\n\r\n",
    "underscore_name": b"GET / HTTP/1.1\r\n" + H + b"X_Forwarded_For: 1.2.3.4\r\n\r\n",
    "invalid_name_char": b"GET / HTTP/1.1\r\n" + H + b"X@A: 1\r\n\r\n",
    "invalid_name_dot": b"GET / HTTP/1.1\r\n" + H + b"X.A: 1\r\n\r\n",
    "name_obs_text": b"GET / HTTP/1.1\r\n" + H + b"X\xe9A: 1\r\n\r\n",
    "space_before_colon": b"GET / HTTP/1.1\r\n" + H + b"X-A : 1\r\n\r\n",
    "space_in_name": b"GET / HTTP/1.1\r\n" + H + b"X A: 1\r\n\r\n",
    "no_colon": b"GET / HTTP/1.1\r\n" + H + b"XA\r\n\r\n",
    "empty_name": b"GET / HTTP/1.1\r\n" + H + b": 1\r\n\r\n",
    "obs_fold": b"GET / HTTP/1.1\r\n" + H + b"X-A: 1\r\n 2\r\n\r\n",
    "leading_space_header": b"GET / HTTP/1.1\r\n X-A: 1\r\n" + H + b"\r\n",
    # Content-Length / Transfer-Encoding (request smuggling shapes)
    "cl_body": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3\r\n\r\nabc",
    "two_cl": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
    "two_cl_differ": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3\r\nContent-Length: 4\r\n"
                     b"\r\nabcd",
    "cl_list": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3, 3\r\n\r\nabc",
    "cl_negative": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\n",
    "cl_plus": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: +3\r\n\r\nabc",
    "cl_hex": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 0x3\r\n\r\nabc",
    "cl_space_inside": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 1 2\r\n\r\nabc",
    "cl_empty": b"POST / HTTP/1.1\r\n" + H + b"Content-Length:\r\n\r\n",
    "cl_huge": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 99999999999999999999999\r\n\r\n",
    "te_chunked": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
                  b"3\r\nabc\r\n0\r\n\r\n",
    "te_comma_chunked": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: ,chunked\r\n\r\n"
                        b"3\r\nabc\r\n0\r\n\r\n",
    "te_gzip_chunked": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip, chunked\r\n\r\n"
                       b"3\r\nabc\r\n0\r\n\r\n",
    "te_chunked_gzip": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked, gzip\r\n\r\n"
                       b"3\r\nabc\r\n0\r\n\r\n",
    "te_identity": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: identity\r\n\r\n",
    "te_upper": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: CHUNKED\r\n\r\n"
                b"3\r\nabc\r\n0\r\n\r\n",
    "te_two_headers": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "te_and_cl": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "te_http10": b"POST / HTTP/1.0\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
                 b"3\r\nabc\r\n0\r\n\r\n",
    "te_space_chunked": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked \r\n\r\n"
                        b"3\r\nabc\r\n0\r\n\r\n",
    "chunk_size_invalid": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
                          b"zz\r\nabc\r\n0\r\n\r\n",
    "chunk_size_negative": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
                           b"-3\r\nabc\r\n0\r\n\r\n",
    "chunk_size_huge": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
                       b"ffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
    "chunk_ext": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
                 b"3;x=y\r\nabc\r\n0\r\n\r\n",
    "chunk_space_after_size": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
                              b"3 \r\nabc\r\n0\r\n\r\n",
    "chunk_missing_crlf": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
                          b"3\r\nabcX0\r\n\r\n",
    "chunk_trailer": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
                     b"3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n",
    # request line
    "version_20": b"GET / HTTP/2.0\r\n" + H + b"\r\n",
    "version_30": b"GET / HTTP/3.0\r\n" + H + b"\r\n",
    "version_12": b"GET / HTTP/1.2\r\n" + H + b"\r\n",
    "version_09_line": b"GET / HTTP/0.9\r\n" + H + b"\r\n",
    "version_lower": b"GET / http/1.1\r\n" + H + b"\r\n",
    "version_garbage": b"GET / HTTP/1.x\r\n" + H + b"\r\n",
    "version_two_digit": b"GET / HTTP/1.10\r\n" + H + b"\r\n",
    "http09_simple": b"GET /\r\n",
    "method_lower": b"get / HTTP/1.1\r\n" + H + b"\r\n",
    "method_unknown": b"FOO / HTTP/1.1\r\n" + H + b"\r\n",
    "method_underscore": b"F_O / HTTP/1.1\r\n" + H + b"\r\n",
    "method_digit": b"G1T / HTTP/1.1\r\n" + H + b"\r\n",
    "method_connect": b"CONNECT a:443 HTTP/1.1\r\n" + H + b"\r\n",
    "method_trace": b"TRACE / HTTP/1.1\r\n" + H + b"\r\n",
    "method_propfind": b"PROPFIND / HTTP/1.1\r\n" + H + b"\r\n",
    "two_spaces": b"GET  / HTTP/1.1\r\n" + H + b"\r\n",
    "space_in_uri": b"GET /a b HTTP/1.1\r\n" + H + b"\r\n",
    "leading_crlf": b"\r\nGET / HTTP/1.1\r\n" + H + b"\r\n",
    "uri_asterisk": b"OPTIONS * HTTP/1.1\r\n" + H + b"\r\n",
    "uri_no_slash": b"GET x HTTP/1.1\r\n" + H + b"\r\n",
    "uri_ctl": b"GET /a\x01b HTTP/1.1\r\n" + H + b"\r\n",
    "uri_obs_text": b"GET /a\xffb HTTP/1.1\r\n" + H + b"\r\n",
    "uri_hash": b"GET /a#b HTTP/1.1\r\n" + H + b"\r\n",
    "uri_dotdot_escape": b"GET /../x HTTP/1.1\r\n" + H + b"\r\n",
    "uri_encoded_nul": b"GET /a%00b HTTP/1.1\r\n" + H + b"\r\n",
    "uri_tab": b"GET /a\tb HTTP/1.1\r\n" + H + b"\r\n",
}
