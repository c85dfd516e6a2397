"""Reference data of the sample shop: countries, categories, channels, coupons, behaviour constants.

Everything here is a plain table or number so that the behaviour of the generated shop can be read
(and tuned) in one place. Tuples, never sets or dicts iterated for randomness: order is part of
determinism.
"""

from __future__ import annotations

from dataclasses import dataclass

CURRENCY = "USD"


@dataclass(frozen=True)
class Country:
    code: str
    weight: float
    # (IANA zone, share, standard UTC offset in hours: used only to shape the time of day)
    zones: tuple[tuple[str, float, float], ...]
    languages: tuple[tuple[str, float], ...]
    calling_code: str
    female_names: tuple[str, ...]
    male_names: tuple[str, ...]


COUNTRIES: tuple[Country, ...] = (
    Country("US", 0.34,
            (("America/New_York", 0.5, -5), ("America/Chicago", 0.2, -6),
             ("America/Los_Angeles", 0.3, -8)),
            (("en", 0.92), ("es", 0.08)), "1",
            ("Emma", "Olivia", "Ava", "Mia", "Harper", "Sofia", "Grace", "Chloe"),
            ("Liam", "Noah", "James", "Lucas", "Ethan", "Mason", "Logan", "Daniel")),
    Country("DE", 0.12, (("Europe/Berlin", 1.0, 1),), (("de", 1.0),), "49",
            ("Anna", "Lena", "Marie", "Sophie", "Hannah", "Lea", "Jana", "Katrin"),
            ("Lukas", "Jonas", "Felix", "Paul", "Leon", "Maximilian", "Tobias", "Jan")),
    Country("FR", 0.08, (("Europe/Paris", 1.0, 1),), (("fr", 1.0),), "33",
            ("Camille", "Léa", "Manon", "Chloé", "Inès", "Juliette", "Zoé", "Élodie"),
            ("Hugo", "Louis", "Gabriel", "Arthur", "Jules", "Théo", "Raphaël", "Mathis")),
    Country("GB", 0.12, (("Europe/London", 1.0, 0),), (("en", 1.0),), "44",
            ("Amelia", "Isla", "Poppy", "Freya", "Ella", "Lily", "Evie", "Imogen"),
            ("Oliver", "George", "Harry", "Jack", "Oscar", "Alfie", "Charlie", "Freddie")),
    Country("JP", 0.08, (("Asia/Tokyo", 1.0, 9),), (("ja", 1.0),), "81",
            ("Yui", "Aoi", "Hina", "Sakura", "Yuna", "Mio", "Rin", "Haruka"),
            ("Haruto", "Sota", "Yuto", "Riku", "Ren", "Kaito", "Hayato", "Takumi")),
    Country("CN", 0.12, (("Asia/Shanghai", 1.0, 8),), (("zh", 1.0),), "86",
            ("Mei", "Xiu", "Li", "Jing", "Yan", "Hui", "Ling", "Fang"),
            ("Wei", "Hao", "Jun", "Lei", "Ming", "Tao", "Yang", "Bo")),
    Country("AU", 0.06, (("Australia/Sydney", 1.0, 10),), (("en", 1.0),), "61",
            ("Charlotte", "Matilda", "Ruby", "Zoe", "Sienna", "Willow", "Ivy", "Mila"),
            ("William", "Jack", "Thomas", "Henry", "Cooper", "Hudson", "Archie", "Leo")),
    Country("BR", 0.08, (("America/Sao_Paulo", 1.0, -3),), (("pt", 1.0),), "55",
            ("Maria", "Ana", "Beatriz", "Júlia", "Larissa", "Camila", "Fernanda", "Luana"),
            ("João", "Pedro", "Gabriel", "Lucas", "Matheus", "Rafael", "Thiago", "Bruno")),
)
CN_INDEX = next(i for i, c in enumerate(COUNTRIES) if c.code == "CN")

EMAIL_DOMAINS = ("example.com", "example.net", "example.org")
GENDERS = (("female", 0.52), ("male", 0.43), ("other", 0.01))  # rest: missing

ACQUISITION_CHANNELS: tuple[tuple[str, float, float], ...] = (
    # (channel, share of customers, factor on the chance of a second purchase)
    ("organic", 0.30, 1.00),
    ("paid_search", 0.22, 0.90),
    ("social", 0.17, 0.85),
    ("referral", 0.08, 1.15),
    ("email", 0.07, 1.05),
    ("marketplace", 0.11, 0.75),
    ("affiliate", 0.05, 0.85),
)
MARKETPLACE_CHANNEL = next(i for i, c in enumerate(ACQUISITION_CHANNELS) if c[0] == "marketplace")

ORDER_CHANNELS = ("web", "app", "wechat_mini_program", "marketplace")
WEB, APP, WECHAT, MARKETPLACE = range(4)


@dataclass(frozen=True)
class Category:
    name: str
    cycle_days: int | None  # natural repurchase cycle; None: a durable without a cycle
    weight: float  # popularity as a favourite category
    median_price: float
    return_rate: float  # per line, for a product without the bad-quality trait
    brands: tuple[str, ...]
    items: tuple[str, ...]
    search_terms: tuple[str, ...]


CATEGORIES: tuple[Category, ...] = (
    Category("coffee", 30, 0.12, 16, 0.010, ("Aroma", "Bean Bros", "Morning Ritual", "Highland"),
             ("Arabica Beans 1kg", "Espresso Blend 500g", "Decaf Ground 250g", "Cold Brew Pack"),
             ("coffee", "espresso beans", "decaf")),
    Category("diapers", 14, 0.07, 32, 0.008, ("SoftStep", "Little Cloud", "Snugglers"),
             ("Diapers Size 3 x96", "Diapers Size 4 x84", "Newborn Diapers x120",
              "Pull-Ups x60"), ("diapers", "nappies size 4", "baby wipes")),
    Category("pet_food", 30, 0.08, 38, 0.010, ("Happy Paws", "Whisker Feast", "Trail Dog"),
             ("Dry Dog Food 12kg", "Cat Kibble 7kg", "Grain-Free Dog Food 10kg",
              "Wet Cat Food x24"),
             ("dog food", "cat food", "pet food grain free")),
    Category("detergent", 45, 0.07, 14, 0.008, ("CleanWave", "PureFold", "Ecoleaf"),
             ("Laundry Liquid 3L", "Dish Tabs x90", "Laundry Pods x60", "Fabric Softener 2L"),
             ("detergent", "laundry pods", "dish tabs")),
    Category("skincare", 60, 0.09, 27, 0.025, ("Dewy", "Botanica", "Lumen Lab"),
             ("Daily Moisturiser 50ml", "Vitamin C Serum 30ml", "Gentle Cleanser 200ml",
              "SPF 50 Sunscreen"), ("moisturiser", "serum", "sunscreen")),
    Category("vitamins", 90, 0.05, 22, 0.010, ("VitaCore", "Daily Well", "Nordic Pure"),
             ("Multivitamin x90", "Omega-3 x90", "Vitamin D3 x90", "Magnesium x90"),
             ("vitamins", "omega 3", "vitamin d")),
    Category("electronics", None, 0.12, 160, 0.045, ("Voltix", "Sonique", "Pixelon", "Nordtek"),
             ("Wireless Earbuds", "Bluetooth Speaker", "Smart Watch", "USB-C Charger 65W",
              "Noise-Cancelling Headphones"), ("earbuds", "speaker", "smart watch")),
    Category("furniture", None, 0.06, 290, 0.030, ("Oakline", "Hygge Home", "Loftcraft"),
             ("Office Chair", "Bookshelf", "Side Table", "Floor Lamp", "Standing Desk"),
             ("office chair", "bookshelf", "desk")),
    Category("apparel", None, 0.17, 42, 0.080, ("Northpeak", "Urban Thread", "Linen & Co"),
             ("Cotton T-Shirt", "Rain Jacket", "Running Shoes", "Merino Sweater", "Denim Jeans"),
             ("t-shirt", "rain jacket", "running shoes")),
    Category("kitchenware", None, 0.09, 34, 0.030, ("Cucina", "IronPan", "Chef's Pick"),
             ("Cast Iron Skillet", "Knife Set", "Glass Containers x10", "Coffee Grinder"),
             ("skillet", "knife set", "coffee grinder")),
    Category("toys", None, 0.08, 29, 0.030, ("BrickJoy", "Tiny Town", "PlayNest"),
             ("Building Blocks Set", "Wooden Train", "Plush Bear", "Puzzle 1000 pcs"),
             ("lego", "wooden toys", "puzzle")),
)
CATEGORY_NAMES = tuple(c.name for c in CATEGORIES)
CATEGORY_WEIGHTS = tuple(c.weight for c in CATEGORIES)
CYCLE_DAYS = tuple(c.cycle_days or 0 for c in CATEGORIES)  # 0 = no cycle

# --- products -----------------------------------------------------------------------------------
BAD_QUALITY_SHARE = 0.10  # products with a quality problem: more returns, low ratings
BAD_QUALITY_RETURN_RATE = 0.18  # per line, replaces the category's rate
LAUNCHED_BEFORE_HISTORY_SHARE = 0.45

# --- purchase process (buy till you die) --------------------------------------------------------
NON_BUYER_SHARE = 0.22  # customers who register but never buy
# The first repurchase is the hardest: a share of new buyers are one-time triers whatever else.
FIRST_REPURCHASE_FACTOR = 0.55
CONSUMABLE_DROPOUT_BETA = (1.2, 9.0)  # dropout p after each purchase, a consumable favourite
DURABLE_DROPOUT_BETA = (1.5, 4.0)
CONSUMABLE_PACE_GAMMA_SHAPE = 8.0  # personal pace around the category cycle (mean 1)
CYCLE_JITTER_SIGMA = 0.18  # lognormal jitter of one gap around the personal cycle
SKIPPED_CYCLE_SHARE = 0.12  # bought elsewhere once: the gap doubles
DURABLE_RATE_GAMMA = (1.0, 1 / 110)  # purchases per day (shape, scale): heterogeneous rates
FAVOURITE_LINE_SHARE = 0.75  # the first line of an order is from the favourite category
FAVOURITE_PRODUCT_SHARE = 0.70  # consumable buyers re-buy the product they started with
MAX_PURCHASES_PER_CUSTOMER = 160

# --- order contents -----------------------------------------------------------------------------
EXTRA_LINES_POISSON = 0.5
MAX_LINES = 5
QUANTITY_CHOICES = (1, 2, 3, 4)
QUANTITY_WEIGHTS = (0.76, 0.17, 0.05, 0.02)

# (code, share of coupon orders, percent off or None, fixed amount off in cents or None)
FIRST_ORDER_COUPON = ("WELCOME10", 10, None)
FIRST_ORDER_COUPON_SHARE = 0.20
REPEAT_COUPONS: tuple[tuple[str, float, int | None, int | None], ...] = (
    ("SAVE15", 0.45, 15, None),
    ("VIP20", 0.15, 20, None),
    ("FIVEOFF", 0.25, None, 500),
    ("COMEBACK10", 0.15, None, 1000),
)
REPEAT_COUPON_SHARE = 0.12
FREE_ORDER_COUPON = "FREEGIFT"  # a handful of zero-value orders
FREE_ORDER_SHARE = 0.001

CANCELLED_SHARE = 0.03
SAME_DAY_SECOND_ORDER_SHARE = 0.015
GUEST_ORDER_SHARE = 0.02
TEST_ORDER_SHARE = 0.001
GOODWILL_FULL_REFUND_SHARE = 0.005  # lost parcel: refunded without a return event
GOODWILL_PARTIAL_REFUND_SHARE = 0.004  # late or damaged: part of the order credited back
RETURN_REFUND_SHARE = 0.55  # a return request ends in a refund
RESTOCKING_FEE_SHARE = 0.2  # of refunds for a fully returned order: part is kept back

# --- after-sales experience and its effect on the next purchase ---------------------------------
COMPLAINT_RATE = 0.012
COMPLAINT_RATE_BAD_QUALITY = 0.10
TICKET_RATE = 0.12
TICKET_RATE_AFTER_PROBLEM = 0.25  # after a return, complaint or a bad product
# first_response_minutes buckets: (low, high, share, factor on the next purchase, P(resolved))
RESPONSE_BUCKETS: tuple[tuple[int, int, float, float, float], ...] = (
    (2, 60, 0.42, 1.10, 0.93),  # a fast, helpful answer even builds loyalty
    (60, 24 * 60, 0.38, 0.60, 0.85),
    (24 * 60, 4 * 24 * 60, 0.20, 0.20, 0.65),
)
RETURN_OR_COMPLAINT_FACTOR = 0.40
UNRESOLVED_TICKET_FACTOR = 0.70
BAD_PRODUCT_FACTOR = 0.70
FIRST_ORDER_COUPON_FACTOR = 0.85  # deal seekers come back less
REVIEW_RATE = 0.10
REVIEW_RATE_BAD_QUALITY = 0.20
RATING_WEIGHTS = (0.03, 0.04, 0.10, 0.28, 0.55)  # ratings 1..5, good products
RATING_WEIGHTS_BAD = (0.35, 0.27, 0.20, 0.10, 0.08)
COMPLAINT_REASONS = ("late_delivery", "damaged_item", "poor_quality", "wrong_item", "billing")

# --- consent and messages -----------------------------------------------------------------------
APP_USER_SHARE = 0.45
EMAIL_PRESENT, PHONE_PRESENT, PUSH_TOKEN_PRESENT, OPENID_PRESENT_CN = 0.95, 0.70, 0.90, 0.85
ACCEPTS_EMAIL, ACCEPTS_SMS, ACCEPTS_PUSH_APP, ACCEPTS_WECHAT_CN = 0.60, 0.30, 0.40, 0.70
CONSENT_MISSING = 0.01
# channel, share of consenting customers who later unsubscribe
UNSUBSCRIBE_SHARES = (("email", 0.08), ("sms", 0.12), ("push", 0.10), ("wechat", 0.06))
MESSAGE_OPEN_RATE = 0.22
MESSAGE_CLICK_RATE = 0.18  # of opens

# --- delivery -----------------------------------------------------------------------------------
# Outcome of each shipment against the day promised at checkout: on time, 1-2 days late,
# more than 2 days late, lost (never delivered). The late tail lowers the next purchase.
DELIVERY_OUTCOME_SHARES = (0.80, 0.11, 0.075, 0.015)
DELIVERY_OUTCOME_FACTORS = (1.0, 0.85, 0.45, 0.35)
PROMISE_MISSING_SHARE = 0.04  # orders whose export carries no promised date (marketplace)

# --- unfinished checkouts -----------------------------------------------------------------------
CHECKOUT_AFTER_ABANDONED_CART = 0.35  # an abandoned cart that reaches the checkout and stops there

# --- price tiers: customers who trade up or down over time --------------------------------------
PRICE_TASTE_SHARES = (0.70, 0.15, 0.15)  # buy whatever, trade up, trade down
TRADE_UP_FACTOR = 1.4
TRADE_DOWN_FACTOR = 0.55
