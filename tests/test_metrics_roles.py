"""Roles of event types (docs/metrics.md "Roles of event types"): the table, and every fixed
metric reading Hanzo and landing types as it reads Urban Store's."""

from __future__ import annotations

from core.roles import ROLE_TYPES, Role, role_of, types_of, types_of_roles


def test_table_matches_docs() -> None:
    assert dict(ROLE_TYPES) == {
        Role.PAGE_VIEW: ("page_view", "page.viewed", "pageview"),
        Role.PRODUCT_VIEW: ("product_view", "product.viewed", "product_click"),
        Role.ADD_TO_CART: ("add_to_cart", "cart.item_added"),
        Role.REMOVE_FROM_CART: ("remove_from_cart", "cart.item_removed"),
        Role.BEGIN_CHECKOUT: ("begin_checkout", "checkout.started"),
        Role.PURCHASE: ("purchase", "order.completed"),
        Role.PAYMENT_CAPTURED: ("payment.captured",),
        Role.REFUND: ("order.refunded",),
        Role.WHATSAPP_CART_CLICK: ("whatsapp_cart_click", "click_whatsapp"),
        Role.CALL_CLICK: ("click_call",),
        Role.CURRENCY_TOGGLE: ("click_toggle_currency",),
        Role.TIME_ON_PAGE: ("time_on_page",),
        Role.QR_SCAN: ("qr_scan",),
    }


def test_every_type_has_one_role() -> None:
    types = [t for role in Role for t in types_of(role)]
    assert len(types) == len(set(types)) == 22
    assert all(role_of(t) in Role for t in types)


def test_role_of_and_types_of() -> None:
    assert role_of("order.completed") is Role.PURCHASE
    assert role_of("pageview") is Role.PAGE_VIEW
    assert role_of("click_whatsapp") is Role.WHATSAPP_CART_CLICK
    assert role_of("order.refunded") is Role.REFUND
    assert role_of("checkout_started") is None  # an Urban Store type outside the table
    assert role_of("wishlist:add") is None
    assert types_of(Role.PURCHASE) == ("purchase", "order.completed")
    assert types_of_roles([Role.PRODUCT_VIEW, Role.PURCHASE]) == [
        "product_view",
        "product.viewed",
        "product_click",
        "purchase",
        "order.completed",
    ]
