"""The demo's one tool, ``get_order_status``, and the JSON schema the model is offered.

Unknown order ids raise :class:`UnknownOrderError` on purpose: the demo needs a real
tool failure so its traces show an ERROR TOOL span that evaluation can find.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from tracejudge.demo.corpus import ORDERS, Order

__all__ = [
    "ORDER_ID_PATTERN",
    "ORDER_STATUS_TOOL",
    "OrderBook",
    "ToolError",
    "UnknownOrderError",
]

ORDER_ID_PATTERN = re.compile(r"\bTH-\d{4}\b", re.IGNORECASE)

ORDER_STATUS_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_order_status",
        "description": "Look up the current status of a customer's order by its order number.",
        "parameters": {
            "type": "object",
            "properties": {
                "order_id": {"type": "string", "description": "Order number, e.g. TH-1042"}
            },
            "required": ["order_id"],
        },
    },
}


class ToolError(Exception):
    """A tool call failed; the assistant reports it to the model instead of crashing."""


class UnknownOrderError(ToolError, LookupError):
    """No order with this id exists (the demo's deliberate tool failure)."""


class OrderBook:
    """The order table behind ``get_order_status``."""

    def __init__(self, orders: Iterable[Order] = ORDERS) -> None:
        self._orders = {o.order_id: o for o in orders}

    def get_order_status(self, order_id: str) -> dict[str, Any]:
        """The order's status as a JSON-ready dict; raises :class:`UnknownOrderError`."""
        order = self._orders.get(order_id.strip().upper())
        if order is None:
            raise UnknownOrderError(f"no order with id {order_id!r}")
        return {
            "order_id": order.order_id,
            "status": order.status,
            "item": order.item,
            "carrier": order.carrier,
            "estimated_delivery": order.eta,
        }
