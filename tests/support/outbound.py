"""A DNS server under the test's control, for agentops.outbound (its `resolve` is replaceable)."""

import socket


class Resolver:
    """Answers `resolve(host, port, type=...)` like getaddrinfo, one scripted answer per call (the
    last one repeats), and counts the calls: `monkeypatch.setattr(outbound, "resolve", Resolver(...))`."""

    def __init__(self, *answers: list[str]):
        self.answers, self.calls = list(answers), 0

    def __call__(self, host, port, type=0, **kwargs):
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in answer]
