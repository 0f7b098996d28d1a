"""API rate limits: how many requests one API key, or one signed-in user, may make per minute.

Who counts: a request made with an API key counts against that key; a browser session's request
against its user. Reads (GET, HEAD, OPTIONS) and writes (every other method) have separate budgets,
so a client that has used up its writes can still poll. The budget is the tenant's
(`Tenant.api_rate_read_per_minute`, `api_rate_write_per_minute`, set in the admin) or else the
platform's (`API_RATE_READ_PER_MINUTE`, `API_RATE_WRITE_PER_MINUTE`). The tenant is the one
authentication has just loaded with the key or the membership: reading its limits costs no query,
and a change saved in the admin applies from the next request.

The count: a sliding window counter. Time is cut into fixed windows of WINDOW_SECONDS; each
(kind, who, window) has one counter in the `throttle` cache (settings.CACHES), raised by an atomic
increment (created by an atomic add when absent) and kept for two windows. A request is allowed when

    previous window's count × the share of the previous window still within the last minute
    + this window's count (this request included)  ≤  limit

which follows a window sliding with the clock, without the double burst a fixed window allows
across its edge. A refused request takes its increment back, so a client that keeps knocking does
not push its own wait further. Every step is one atomic command on the cache, so processes sharing
Redis never lose a count; DRF's SimpleRateThrottle instead reads a list of timestamps, appends and
writes it back, and of two processes doing that at once one list wins. Without Redis each process
counts alone (see settings.CACHES).

A refusal is 429 in the API's error envelope, code `rate_limited`, with `Retry-After`: the whole
seconds until one more request of that kind would be allowed if no other came meanwhile.
"""

from __future__ import annotations

import math
import time

from django.core.cache import caches
from rest_framework import exceptions, permissions, throttling

from agentops.tenancy.permissions import request_principal

ALIAS = "throttle"
WINDOW_SECONDS = 60  # the limits are per minute


class RateLimited(exceptions.Throttled):
    """DRF's refusal (429, `wait` sent as Retry-After), saying which budget ran out. Not an
    agentops.api.ApiError: that module imports DRF's views, and defining them imports this one
    (DEFAULT_THROTTLE_CLASSES)."""

    default_code = "rate_limited"
    extra_detail_singular = "Retry in {wait} second."
    extra_detail_plural = "Retry in {wait} seconds."

    def __init__(self, *, kind: str, limit: int, counted_against: str, retry_after: int):
        super().__init__(
            wait=retry_after,
            detail=f"Too many API {kind}s: {limit} per minute are allowed for this {counted_against}.",
        )
        self.details = {"kind": kind, "limit_per_minute": limit, "retry_after": retry_after}


class ApiRateThrottle(throttling.BaseThrottle):
    """Every API view's throttle (REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"]). It runs after the
    permission check, so a request that gets here has a principal, except on open endpoints (the
    schema), which are not limited.

    It raises RateLimited rather than returning False, so that the answer can say which budget ran
    out: DRF's own refusal knows only the wait."""

    def allow_request(self, request, view):
        principal = request_principal(request)
        if principal is None:
            return True
        write = request.method not in permissions.SAFE_METHODS
        kind = "write" if write else "read"
        if principal.api_key is not None:
            counted_against, who = "API key", f"key:{principal.api_key.pk}"
        else:
            counted_against, who = "user", f"user:{principal.user.pk}"
        limit = principal.tenant.api_rate_per_minute(write=write)
        retry_after = window_hit(caches[ALIAS], key=f"{kind}:{who}", limit=limit, window=WINDOW_SECONDS,
                                 now=time.time())
        if retry_after:
            raise RateLimited(kind=kind, limit=limit, counted_against=counted_against, retry_after=retry_after)
        return True


def window_hit(cache, *, key: str, limit: int, window: int, now: float) -> int:
    """Count one request under `key` against `limit` per `window` seconds at time `now` (the
    module's docstring has the rule). Returns 0 when it is allowed; otherwise it is not counted
    and the result is the whole seconds until one more would be allowed (at least 1)."""
    index, elapsed = divmod(now, window)
    current_key = f"{key}:{int(index)}"
    count = _increment(cache, current_key, timeout=2 * window)
    previous = cache.get(f"{key}:{int(index) - 1}", 0)
    if previous * (window - elapsed) / window + count <= limit:
        return 0
    cache.decr(current_key)
    return max(1, math.ceil(_moment_allowed(previous, count - 1, limit, window) - elapsed))


def _increment(cache, key: str, *, timeout: int) -> int:
    try:
        return cache.incr(key)
    except ValueError:  # the window's first request: two processes adding at once keep one counter
        cache.add(key, 0, timeout=timeout)
        return cache.incr(key)


def _moment_allowed(previous: int, current: int, limit: int, window: int) -> float:
    """Seconds from the current window's start until one more request fits, if none comes meanwhile:
    later in this window, as the previous window's share shrinks, or else in the next one, where
    this window's `current` requests are the previous window's."""
    if current < limit and previous:
        moment = window * (1 - (limit - current - 1) / previous)
        if moment < window:
            return moment
    spill = window * max(0.0, 1 - (limit - 1) / current) if current else 0.0
    return window + spill
