"""Log writers: nginx's error log line, levels, buffering and reopen for log rotation."""

from __future__ import annotations

import os
import re

from hotdeploy.proxy.logs import AccessLogWriter, ErrorLog


def test_error_log_line_format_and_level_filter(tmp_path):
    path = tmp_path / "error.log"
    log = ErrorLog([(str(path), "warn")], pid=4242)
    log.log("info", "not written")
    log.log("error", "connect() failed (111: Connection refused)", cid=7)
    (line,) = path.read_text().splitlines()
    assert re.fullmatch(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[error\] 4242#0: \*7 connect\(\) "
                        r"failed \(111: Connection refused\)", line)
    assert log.enabled("crit") and not log.enabled("notice")


def test_reopen_follows_log_rotation(tmp_path):
    path = tmp_path / "access.log"
    writer = AccessLogWriter(str(path))
    writer.write(b"one\n")
    os.rename(path, tmp_path / "access.log.1")  # logrotate moves the file away
    writer.write(b"two\n")  # still goes to the open (renamed) file, as with nginx
    writer.reopen()  # SIGUSR1
    writer.write(b"three\n")
    assert (tmp_path / "access.log.1").read_text() == "one\ntwo\n"
    assert path.read_text() == "three\n"


def test_buffered_access_log_writes_when_buffer_fills_or_on_flush(tmp_path):
    path = tmp_path / "access.log"
    writer = AccessLogWriter(str(path), buffer=10)
    writer.write(b"12345\n")
    assert path.read_text() == ""  # held in the buffer
    writer.write(b"67890\n")  # 12 bytes >= 10: written
    assert path.read_text() == "12345\n67890\n"
    writer.write(b"x\n")
    writer.flush()
    assert path.read_text().endswith("x\n")
