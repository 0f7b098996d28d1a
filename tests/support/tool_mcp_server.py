"""An MCP server for the tool adapter tests, built with the SDK's MCPServer.

    python tool_mcp_server.py              serves over stdio
    python tool_mcp_server.py --http PORT  serves streamable HTTP at http://127.0.0.1:PORT/mcp
"""

from __future__ import annotations

import sys
import time
from typing import TypedDict

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("inventory")


class Item(TypedDict):
    sku: str
    quantity: int
    in_stock: bool


@server.tool()
def get_item(sku: str, quantity: int = 1) -> Item:
    """Look up an item by SKU."""
    return {"sku": sku, "quantity": quantity, "in_stock": True}


@server.tool()
def reserve(sku: str) -> str:
    """Reserve an item; always fails, as the item is discontinued."""
    raise ToolError(f"Item {sku} is discontinued.")


@server.tool()
def pause(seconds: float) -> str:
    """Answer after `seconds` (a call that outlasts its caller's timeout)."""
    time.sleep(seconds)
    return "done"


@server.tool()
def whoami(ctx: Context) -> str:
    """The Authorization header this request carried (streamable HTTP only)."""
    headers = ctx.headers or {}
    return headers.get("authorization", "anonymous")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()
