import pytest

from hotdeploy.units import parse_size, parse_time


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0), ("5", 5.0), ("0", 0.0), ("500ms", 0.5), ("1m", 60.0), ("2h", 7200.0),
        ("1d", 86400.0), ("1w", 604800.0), ("1M", 2592000.0), ("1y", 31536000.0),
        ("1h 30m", 5400.0), ("1h30m", 5400.0), ("1m 30", 90.0), ("1s 500ms", 1.5),
    ],
)
def test_parse_time_accepts_nginx_units(text, seconds):
    assert parse_time(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text", ["", "1x", "1.5s", "-1s", "s", "1m 1h", "1s 1s", "1 s", " 1s", "30 1m"]
)
def test_parse_time_rejects_what_nginx_rejects(text):
    with pytest.raises(ValueError):
        parse_time(text)


@pytest.mark.parametrize(
    ("text", "size"),
    [("512", 512), ("64k", 65536), ("64K", 65536), ("1m", 1 << 20), ("1M", 1 << 20),
     ("2g", 2 << 30), ("0", 0)],
)
def test_parse_size_accepts_nginx_units(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "1x", "1.5m", "-1", "k", "1 k", "1kb"])
def test_parse_size_rejects_bad_values(text):
    with pytest.raises(ValueError):
        parse_size(text)
