"""What is in an order: channel, lines (only products already launched), coupons, amounts.

Chain orders come from the purchase process; around them the shop also has same-day second
orders, guest checkouts and QA test orders.
"""

from __future__ import annotations

import numpy as np

from retention_pipeline.generator import reference as ref
from retention_pipeline.generator.customers import Customers
from retention_pipeline.generator.orderbook import CHAIN, COMPANION, GUEST, TEST, Frame, OrderBook
from retention_pipeline.generator.products import Catalog
from retention_pipeline.generator.purchases import Purchases
from retention_pipeline.generator.segments import group_sum, position_in_segment, starts_of
from retention_pipeline.generator.timeline import DAY, Timeline, time_of_day

# Coupon table: index = the `coupon` column (-1: none).
COUPON_CODES = (ref.FIRST_ORDER_COUPON[0], *(c[0] for c in ref.REPEAT_COUPONS),
                ref.FREE_ORDER_COUPON)
_PERCENT = np.array([ref.FIRST_ORDER_COUPON[1] or 0,
                     *((c[2] or 0) for c in ref.REPEAT_COUPONS), 100])
_FIXED = np.array([ref.FIRST_ORDER_COUPON[2] or 0, *((c[3] or 0) for c in ref.REPEAT_COUPONS), 0])
_WELCOME, _FREE = 0, len(COUPON_CODES) - 1
_SINGLE_UNIT = {"electronics", "furniture"}


def chain_orders(rng, purchases: Purchases, customers: Customers, catalog: Catalog) -> OrderBook:
    cust = purchases.customer
    orders = _orders(cust, purchases.at_s, purchases.seq, CHAIN,
                     _channels(rng, customers.preferred_channel[cust]))
    orders["protected"] = (purchases.seq == 0) & customers.protect_first[cust]
    favourite = customers.favourite_category[cust]
    taste, orders["tier_factor"] = _price_taste(rng, customers.n, cust, purchases.seq)
    book = OrderBook(orders, _lines(rng, catalog, purchases.at_s, favourite, taste=taste))
    _rebuy_favourite_product(rng, book, favourite, catalog, keep=taste == 0)
    _coupons(rng, book, first=purchases.seq == 0, repeat=purchases.seq > 0)
    return book


def companion_orders(rng, chain: OrderBook, catalog: Catalog, timeline: Timeline) -> OrderBook:
    """A second order on the same day (forgot something): same customer, a few hours later."""
    o = chain.orders
    later = o["at_s"] + rng.integers(600, 4 * 3600, size=chain.n)
    same_day = (later // DAY == o["at_s"] // DAY) & (later < timeline.end_s)
    pick = np.flatnonzero(same_day & ~o["cancelled"]
                          & (rng.random(chain.n) < ref.SAME_DAY_SECOND_ORDER_SHARE))
    orders = _orders(o["customer"][pick], later[pick], -1, COMPANION, o["channel"][pick])
    book = OrderBook(orders, _lines(rng, catalog, later[pick], np.full(len(pick), -1), max_lines=1))
    _coupons(rng, book, first=np.zeros(len(pick), bool), repeat=np.zeros(len(pick), bool))
    return book


def guest_orders(rng, chain_orders_count: int, catalog: Catalog, timeline: Timeline) -> OrderBook:
    n = round(chain_orders_count * ref.GUEST_ORDER_SHARE / (1 - ref.GUEST_ORDER_SHARE))
    day = rng.choice(timeline.days, size=n, p=timeline.activity_weights())
    offset = np.array([z[2] for c in ref.COUNTRIES for z in c.zones])[
        rng.integers(0, sum(len(c.zones) for c in ref.COUNTRIES), n)]
    at_s = timeline.day_start(day) + time_of_day(rng, offset)
    channel = np.where(rng.random(n) < 0.7, ref.WEB, ref.MARKETPLACE)
    book = OrderBook(_orders(np.full(n, -1), at_s, -1, GUEST, channel),
                     _lines(rng, catalog, at_s, np.full(n, -1)))
    _coupons(rng, book, first=np.zeros(n, bool), repeat=rng.random(n) < 0.6)
    return book


def test_orders(rng, customers: Customers, chain_orders_count: int, catalog: Catalog,
                timeline: Timeline) -> OrderBook:
    """QA accounts checking the checkout: status `test`, never a purchase."""
    staff = np.flatnonzero(customers.staff)
    n = max(2, round(chain_orders_count * ref.TEST_ORDER_SHARE)) if len(staff) else 0
    start = np.maximum(customers.created_s[staff], timeline.start_s) if n else staff
    who = rng.integers(0, max(len(staff), 1), n)
    at_s = (start[who] + rng.random(n) * (timeline.end_s - start[who])).astype(np.int64)
    book = OrderBook(_orders(staff[who], at_s, -1, TEST, np.full(n, ref.WEB)),
                     _lines(rng, catalog, at_s, np.full(n, -1), max_lines=1))
    _coupons(rng, book, first=np.zeros(n, bool), repeat=np.zeros(n, bool))
    return book


def _orders(customer, at_s, seq, kind, channel) -> Frame:
    n = len(at_s)
    return Frame(customer=np.asarray(customer, dtype=np.int64), at_s=np.asarray(at_s, np.int64),
                 seq=np.broadcast_to(np.asarray(seq, np.int64), (n,)).copy(),
                 kind=np.full(n, kind, dtype=np.int8), channel=np.asarray(channel, np.int8),
                 protected=np.zeros(n, dtype=bool), tier_factor=np.ones(n))


def _channels(rng, preferred: np.ndarray) -> np.ndarray:
    n = len(preferred)
    other = rng.choice([ref.WEB, ref.APP, ref.MARKETPLACE], size=n, p=[0.6, 0.3, 0.1])
    return np.where(rng.random(n) < 0.8, preferred, other).astype(np.int8)


CHEAPER, NEUTRAL, DEARER = -1, 0, 1


def _price_taste(rng, n_customers: int, customer: np.ndarray, seq: np.ndarray):
    """(taste per order, survival factor per order): most customers buy whatever; some trade up
    over time (cheap first order, dearer later) and some trade down (the reverse). Trading down
    is a sign of leaving (the shop has nothing at their next level): it lowers the next
    purchase; trading up raises it."""
    kind = rng.choice(3, n_customers, p=ref.PRICE_TASTE_SHARES)[customer]  # neutral, up, down
    first = seq == 0
    taste = np.select([kind == 1, kind == 2],
                      [np.where(first, CHEAPER, DEARER), np.where(first, DEARER, CHEAPER)], NEUTRAL)
    factor = np.select([(kind == 1) & ~first, (kind == 2) & ~first],
                       [ref.TRADE_UP_FACTOR, ref.TRADE_DOWN_FACTOR], 1.0)
    return taste.astype(np.int8), factor


def _by_taste(rng, catalog: Catalog, category, at_s, taste, product) -> np.ndarray:
    """The cheapest (or dearest) of three products on sale of the category, for a taste."""
    others = [catalog.pick(category, at_s, rng.random(len(category))) for _ in range(2)]
    candidates = np.stack([product, *others])
    prices = catalog.price_cents[candidates]
    columns = np.arange(len(product))
    cheap = candidates[prices.argmin(axis=0), columns]
    dear = candidates[prices.argmax(axis=0), columns]
    return np.select([taste == CHEAPER, taste == DEARER], [cheap, dear], product)


def _lines(rng, catalog: Catalog, at_s: np.ndarray, favourite: np.ndarray,
           max_lines: int = ref.MAX_LINES, taste: np.ndarray | None = None) -> Frame:
    """Order lines: the first mostly from the favourite category, others by popularity; a
    customer with a price taste takes the cheapest or dearest of a few products.

    A product appears at most once per order (duplicates of a draw are dropped).
    """
    n = len(at_s)
    count = 1 + np.minimum(rng.poisson(ref.EXTRA_LINES_POISSON, n), max_lines - 1)
    order = np.repeat(np.arange(n), count)
    line = position_in_segment(count)
    weights = np.asarray(ref.CATEGORY_WEIGHTS) / sum(ref.CATEGORY_WEIGHTS)
    category = rng.choice(len(weights), size=len(order), p=weights)
    fav = favourite[order]
    use_fav = (line == 0) & (fav >= 0) & (rng.random(len(order)) < ref.FAVOURITE_LINE_SHARE)
    category = np.where(use_fav, fav, category)
    product = catalog.pick(category, at_s[order], rng.random(len(order)))
    if taste is not None:
        product = _by_taste(rng, catalog, category, at_s[order], taste[order], product)

    quantity = rng.choice(ref.QUANTITY_CHOICES, size=len(order), p=ref.QUANTITY_WEIGHTS)
    single_unit = np.isin(catalog.category[product],
                          [i for i, c in enumerate(ref.CATEGORIES) if c.name in _SINGLE_UNIT])
    quantity = np.where(single_unit & (rng.random(len(order)) < 0.9), 1, quantity)
    return _unique_products(Frame(order=order, line=line, product=product,
                                  quantity=quantity.astype(np.int64),
                                  unit_cents=catalog.price_cents[product]))


def _unique_products(items: Frame) -> Frame:
    """A product at most once per order: later lines repeating an earlier one are dropped."""
    by_product = np.lexsort((items["line"], items["product"], items["order"]))
    o, p = items["order"][by_product], items["product"][by_product]
    repeated = np.zeros(len(o), dtype=bool)
    repeated[by_product[1:]] = (o[1:] == o[:-1]) & (p[1:] == p[:-1])
    return items.take(~repeated)


def _rebuy_favourite_product(rng, book: OrderBook, favourite: np.ndarray, catalog: Catalog,
                             keep: np.ndarray):
    """Consumable buyers mostly re-buy the product they started with (it has been on sale since).

    Orders are sorted by (customer, seq); the first line of each order is its first item row.
    """
    o, items = book.orders, book.items
    first_item = np.searchsorted(items["order"], np.arange(book.n))
    started_with = items["product"][first_item][starts_of(o["customer"])]
    cycle = np.asarray(ref.CYCLE_DAYS)[favourite]
    rebuy = ((o["seq"] > 0) & (cycle > 0) & (catalog.category[started_with] == favourite)
             & (rng.random(book.n) < ref.FAVOURITE_PRODUCT_SHARE) & keep)
    rows = first_item[rebuy]
    items["product"][rows] = started_with[rebuy]
    items["unit_cents"][rows] = catalog.price_cents[started_with[rebuy]]
    book.items = _unique_products(items)


def _coupons(rng, book: OrderBook, first: np.ndarray, repeat: np.ndarray):
    """Coupons and amounts: total = sum(quantity * unit_price) - discount, in exact cents."""
    o, items = book.orders, book.items
    n = book.n
    subtotal = group_sum(items["quantity"] * items["unit_cents"], items["order"], n)
    coupon = np.full(n, -1, dtype=np.int64)
    coupon[first & (rng.random(n) < ref.FIRST_ORDER_COUPON_SHARE)] = _WELCOME
    shares = np.array([c[1] for c in ref.REPEAT_COUPONS])
    repeat_code = 1 + rng.choice(len(shares), size=n, p=shares / shares.sum())
    use_repeat = repeat & (rng.random(n) < ref.REPEAT_COUPON_SHARE)
    coupon[use_repeat] = repeat_code[use_repeat]
    free = repeat & (rng.random(n) < ref.FREE_ORDER_SHARE)
    if not free.any() and repeat.sum() >= 1000:  # a handful, even when chance gave none
        free[rng.choice(np.flatnonzero(repeat))] = True
    coupon[free] = _FREE
    safe = np.maximum(coupon, 0)
    discount = np.where(_PERCENT[safe] > 0, np.rint(subtotal * _PERCENT[safe] / 100),
                        np.minimum(_FIXED[safe], subtotal)).astype(np.int64)
    o["coupon"] = coupon
    o["subtotal_cents"] = subtotal
    o["discount_cents"] = np.where(coupon >= 0, discount, 0)
    o["total_cents"] = subtotal - o["discount_cents"]
