"""The demo's Python tools: knowledge base search, customer lookup, support tickets (the order
lookup is a SQL tool, see demo.seed).

Each reads and writes only the calling tenant's demo tables (`ctx.tenant`).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field

from tools.models import Effect
from tools.registry import ToolContext, ToolError, tool

from .models import DemoArticle, DemoCustomer, DemoTicket

STOPWORDS = frozenset(
    "a an and are as at be but by can could do does for from get got has have how i if in is it its me my "
    "no not of on or our please so that the their there this to was we what when where which who why will "
    "with would you your".split()
)
_WORD = re.compile(r"[a-z0-9]+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
SNIPPET_LENGTH = 220


@tool(
    name="kb.search",
    description=(
        "Search the help-center knowledge base for policies and how-tos: how long shipping and delivery take, "
        "tracking a parcel, returns and the refund policy, cancelling, damaged items, warranty, what to do if "
        "you forgot your password, payment methods, plans and billing. "
        "Returns the best-matching articles, most relevant first, each with a snippet."
    ),
    idempotent=True,
)
def kb_search(
    ctx: ToolContext,
    query: Annotated[str, Field(min_length=1, max_length=500, description="What to look for, in plain words.")],
    limit: Annotated[int, Field(ge=1, le=10, description="How many articles to return.")] = 3,
) -> dict:
    terms = search_terms(query)
    ranked = sorted(
        ((article_score(article, terms), article) for article in DemoArticle.objects.filter(tenant=ctx.tenant)),
        key=lambda pair: (-pair[0], pair[1].title),
    )
    matches = [(score, article) for score, article in ranked if score > 0]
    return {
        "query": query,
        "total": len(matches),
        "results": [
            {"slug": article.slug, "title": article.title, "score": score, "snippet": snippet(article.body, terms)}
            for score, article in matches[:limit]
        ],
    }


def search_terms(text: str) -> set[str]:
    return {stem(word) for word in _WORD.findall(text.lower()) if word not in STOPWORDS and len(word) > 1}


def stem(word: str) -> str:
    """Crude suffix stripping so "refunds", "refunded" and "refund" match."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def article_score(article: DemoArticle, terms: set[str]) -> int:
    """Title matches weigh 3, tags 2, body mentions 1 each (at most 3 per term)."""
    title, tags = search_terms(article.title), search_terms(article.tags)
    body = [stem(word) for word in _WORD.findall(article.body.lower())]
    return sum(3 * (term in title) + 2 * (term in tags) + min(3, body.count(term)) for term in terms)


def snippet(body: str, terms: set[str]) -> str:
    """The sentence of `body` that mentions the most terms, shortened."""
    sentences = _SENTENCE.split(body.strip())
    best = max(sentences, key=lambda sentence: len(search_terms(sentence) & terms))
    return best if len(best) <= SNIPPET_LENGTH else best[: SNIPPET_LENGTH - 1].rstrip() + "…"


@tool(
    name="crm.lookup_customer",
    description=(
        "Look up a customer by email address or customer id (e.g. C-1001). "
        "Returns their account details and their most recent orders."
    ),
    idempotent=True,
)
def crm_lookup_customer(
    ctx: ToolContext,
    email: Annotated[str | None, Field(max_length=254, description="The customer's email address.")] = None,
    customer_id: Annotated[str | None, Field(max_length=20, description="The customer id, e.g. C-1001.")] = None,
) -> dict:
    if not email and not customer_id:
        raise ToolError("Give the customer's email address or customer id.")
    customers = DemoCustomer.objects.filter(tenant=ctx.tenant)
    customer = (customers.filter(email__iexact=email.strip()) if email
                else customers.filter(customer_id__iexact=customer_id.strip())).first()
    if customer is None:
        raise ToolError(f"No customer with {'email ' + email if email else 'id ' + customer_id}.")
    orders = customer.orders.order_by("-placed_at")[:5]
    return {
        **customer.as_dict(),
        "recent_orders": [
            {"order_id": order.order_id, "status": order.status, "amount": float(order.amount),
             "placed_at": order.placed_at.isoformat()}
            for order in orders
        ],
    }


@tool(
    name="tickets.create",
    description=(
        "Open a support ticket for the human support team, for problems the agent cannot solve itself. "
        "Returns the ticket id."
    ),
    effect=Effect.WRITE,
    idempotent=False,
)
def tickets_create(
    ctx: ToolContext,
    subject: Annotated[str, Field(min_length=3, max_length=200, description="One line summing up the problem.")],
    description: Annotated[str, Field(max_length=5000, description="What happened and what was tried.")] = "",
    customer_email: Annotated[str | None, Field(max_length=254, description="Who to get back to.")] = None,
    priority: Literal["low", "normal", "high", "urgent"] = "normal",
) -> dict:
    if ctx.tenant is None:
        raise ToolError("tickets.create works only inside a tenant's run.")
    ticket = DemoTicket.objects.create(
        tenant=ctx.tenant, subject=subject, description=description, customer_email=customer_email or "",
        priority=priority, run=ctx.run, created_by=ctx.user,
    )
    return {"ticket_id": ticket.ticket_id, "status": ticket.status, "priority": ticket.priority, "subject": subject}
