import pytest


@pytest.fixture
async def backends():
    started = []

    async def make(*handlers_or_names, host="127.0.0.1"):
        from proxy_harness import Backend

        out = []
        for i, item in enumerate(handlers_or_names):
            if callable(item):
                backend = Backend(name=f"b{i}", host=host, handler=item)
            else:
                backend = Backend(name=item or f"b{i}", host=host)
            await backend.start()
            started.append(backend)
            out.append(backend)
        return out

    yield make
    for backend in started:
        await backend.stop()


@pytest.fixture
async def balancer(tmp_path):
    started = []

    async def make(conf, **subst):
        from proxy_harness import Balancer

        lb = Balancer(tmp_path, conf, **subst)
        await lb.start()
        started.append(lb)
        return lb

    yield make
    for lb in started:
        await lb.stop()


@pytest.fixture(scope="session")
def event_loop_policy():
    # The data path runs on uvloop in production (`hotdeploy lb`): test it there.
    import uvloop

    return uvloop.EventLoopPolicy()
