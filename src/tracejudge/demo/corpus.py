"""The demo's bundled data: help-center articles and an order table for a fictional shop.

Kept as plain Python literals inside the package so ``pip install tracejudge`` ships them
and the demo needs no files, network or database of its own. The shop, Trailhead
Outfitters, is invented; nothing here refers to a real company.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["COMPANY", "DOCUMENTS", "ORDERS", "Document", "Order"]

COMPANY = "Trailhead Outfitters"


@dataclass(frozen=True, slots=True)
class Document:
    """One help-center article: what the retriever searches and the model reads."""

    id: str
    title: str
    content: str


@dataclass(frozen=True, slots=True)
class Order:
    """One row of the order table the ``get_order_status`` tool reads."""

    order_id: str
    status: str
    item: str
    carrier: str | None
    eta: str | None


DOCUMENTS: tuple[Document, ...] = (
    Document(
        "kb-shipping-standard",
        "Standard shipping times",
        "Standard shipping takes 3 to 5 business days within the continental United States. "
        "Orders placed before 2 pm Mountain Time ship the same business day. "
        "Standard shipping is free on orders over $75.",
    ),
    Document(
        "kb-shipping-express",
        "Express and overnight shipping",
        "Express shipping arrives in 2 business days and costs $14. Overnight shipping costs "
        "$29 and is available for orders placed before noon Mountain Time on weekdays.",
    ),
    Document(
        "kb-shipping-international",
        "International shipping",
        "We ship to Canada, the United Kingdom and the European Union. International "
        "delivery takes 7 to 14 business days; duties and taxes are collected at checkout.",
    ),
    Document(
        "kb-returns",
        "Return policy",
        "Unused items can be returned within 60 days of delivery for a full refund. "
        "Worn footwear and used gear can be returned within 30 days for store credit. "
        "Return shipping is free with the prepaid label in your account.",
    ),
    Document(
        "kb-refunds",
        "Refund timing",
        "Refunds are issued to the original payment method within 5 business days after "
        "the returned item reaches our warehouse. Store credit is issued immediately.",
    ),
    Document(
        "kb-exchanges",
        "Exchanges for a different size",
        "To exchange boots or clothing for another size, start a return and choose "
        "exchange. We ship the new size as soon as the carrier scans your return.",
    ),
    Document(
        "kb-warranty",
        "Warranty on tents and packs",
        "Tents, backpacks and sleeping bags carry a lifetime warranty against defects in "
        "materials and workmanship. Damage from normal wear, accidents or misuse is not "
        "covered, but we repair it at cost.",
    ),
    Document(
        "kb-order-tracking",
        "Tracking an order",
        "Order numbers look like TH-1234. You can track an order from your account page, "
        "or ask this assistant with the order number and it will look up the status.",
    ),
    Document(
        "kb-cancel",
        "Cancelling an order",
        "An order can be cancelled within 1 hour of purchase from the account page. After "
        "it has been packed it can no longer be cancelled; return it instead.",
    ),
    Document(
        "kb-address-change",
        "Changing the shipping address",
        "The shipping address can be changed until the order is packed. Contact support "
        "with the order number; once an order has shipped the address cannot be changed.",
    ),
    Document(
        "kb-password",
        "Resetting your password",
        "To reset your password, choose Forgot password on the sign-in page and follow the "
        "link we email you. The link expires after 30 minutes.",
    ),
    Document(
        "kb-payment",
        "Payment methods",
        "We accept Visa, Mastercard, American Express, PayPal and Trailhead gift cards. "
        "We do not accept cash on delivery or cryptocurrency.",
    ),
    Document(
        "kb-gift-cards",
        "Gift cards",
        "Digital gift cards are available from $25 to $500 and never expire. They are "
        "delivered by email and can be combined with any payment method.",
    ),
    Document(
        "kb-price-match",
        "Price matching",
        "We match the price of an identical item sold by an authorized retailer within 14 "
        "days of your purchase. Clearance and marketplace listings are excluded.",
    ),
    Document(
        "kb-student-discount",
        "Student and military discounts",
        "Students, teachers and active military members get 15 percent off full-price "
        "items after verifying their status in the account page.",
    ),
    Document(
        "kb-rentals",
        "Gear rentals",
        "Tents, sleeping bags and snowshoes can be rented for weekends from our Denver and "
        "Boulder stores. A rental weekend costs $35 per item and requires a deposit.",
    ),
    Document(
        "kb-stores",
        "Store locations and hours",
        "Our stores in Denver and Boulder are open 9 am to 8 pm Monday to Saturday and "
        "10 am to 6 pm on Sunday.",
    ),
    Document(
        "kb-down-care",
        "Washing a down sleeping bag",
        "Wash a down sleeping bag in a front-loading machine on a gentle cycle with down "
        "soap, then tumble dry on low heat with clean tennis balls for several hours.",
    ),
    Document(
        "kb-boot-fit",
        "Finding the right boot size",
        "Hiking boots should leave a thumb's width of room in front of your toes. Try boots "
        "on in the afternoon wearing the socks you hike in.",
    ),
    Document(
        "kb-membership",
        "Trailhead membership",
        "Membership costs $20 once and lasts for life. Members earn 10 percent back on "
        "full-price purchases as an annual dividend and get free express shipping.",
    ),
)

ORDERS: tuple[Order, ...] = (
    Order("TH-1042", "shipped", "Ridgeline 2 tent", "UPS", "2026-03-14"),
    Order("TH-1077", "delivered", "Summit 45L backpack", "USPS", None),
    Order("TH-1100", "processing", "Alpine down sleeping bag", None, "2026-03-18"),
    Order("TH-1123", "packed", "Trail runner shoes", "FedEx", "2026-03-16"),
    Order("TH-1150", "cancelled", "Camp stove", None, None),
    Order("TH-1188", "return received", "Granite hiking boots", "UPS", None),
)
