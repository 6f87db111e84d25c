import ctypes

from service import runtime


def test_caps_malloc_arenas(monkeypatch):
    calls = []

    class FakeLibc:
        def mallopt(self, parameter, value):
            calls.append((parameter, value))

    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.setattr(ctypes, "CDLL", lambda name: FakeLibc())
    runtime.limit_malloc_arenas()
    assert calls == [(runtime.M_ARENA_MAX, runtime.MALLOC_ARENAS)]


def test_user_setting_wins(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    monkeypatch.setattr(ctypes, "CDLL", lambda name: (_ for _ in ()).throw(AssertionError("must not tune")))
    runtime.limit_malloc_arenas()
