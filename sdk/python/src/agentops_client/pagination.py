"""Pagers: iterate one to get every item across pages, or `pages()` for one page at a time.
`fetch(token)` returns the Page after `token` (None: the first), directly or as an awaitable."""

from __future__ import annotations

from typing import Any, AsyncIterator, Awaitable, Callable, Generic, Iterator, TypeVar

from ._base import Page

T = TypeVar("T")


class Pager(Generic[T]):
    def __init__(self, fetch: Callable[[Any], Page[T]]) -> None:
        self._fetch = fetch

    def pages(self) -> Iterator[Page[T]]:
        page = self._fetch(None)
        yield page
        while page.next is not None:
            page = self._fetch(page.next)
            yield page

    def __iter__(self) -> Iterator[T]:
        for page in self.pages():
            yield from page.data


class AsyncPager(Generic[T]):
    """`async for item in pager`, or `await pager` for the first page alone."""

    def __init__(self, fetch: Callable[[Any], Awaitable[Page[T]]]) -> None:
        self._fetch = fetch

    async def pages(self) -> AsyncIterator[Page[T]]:
        page = await self._fetch(None)
        yield page
        while page.next is not None:
            page = await self._fetch(page.next)
            yield page

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.data:
                yield item

    def __await__(self):
        return self._fetch(None).__await__()
