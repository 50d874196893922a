"""A realistic, deterministic workload of customer journeys with its own ground truth.

The demo, the benchmark and the reliability drills all need the same thing: events that
look like a webshop's, a CMS's, an ERP's, production's and social listening's, and an
independent record of what the pipeline should make of them. Same seed, same workload.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from streams.production import STEPS

BASE_TIME = datetime(2026, 8, 3, 8, 0, tzinfo=UTC)
CENT = Decimal("0.01")

FEMALE_NAMES = ("Erika", "Anna", "Lena", "Sophie", "Marie", "Jana", "Ülkü", "Zoë")
MALE_NAMES = ("Max", "Lukas", "Jörg", "Felix", "Paul", "Jonas", "Ömer", "Björn")
NEUTRAL_NAMES = ("Alex", "Kim", "Robin", "Sascha", "Charlie")
LAST_NAMES = ("Musterfrau", "Mustermann", "Müller", "Schmidt", "Schäfer", "Weiß", "Öztürk", "Groß")
TITLES = (None, None, None, None, "Dr.", "Prof. Dr.")
CITIES = (
    ("01067", "Dresden"),
    ("04109", "Leipzig"),
    ("10115", "Berlin"),
    ("20095", "Hamburg"),
    ("80331", "München"),
    ("09111", "Chemnitz"),
    ("06108", "Halle (Saale)"),
    ("50667", "Köln"),
)
STREETS = ("Hauptstraße 1", "Lindenallee 12a", "Am Markt 3", "Goethestraße 27", "Bahnhofstr. 5")


@dataclass(frozen=True)
class Product:
    """A catalogue article the generated shoppers look at and buy."""

    sku: str
    name: str
    category: str
    price: Decimal


PRODUCTS = (
    Product("RS-100", "Laufschuh Trail Pro", "running_shoes", Decimal("129.90")),
    Product("RS-200", "Laufschuh Maßanfertigung", "running_shoes", Decimal("249.00")),
    Product("RB-500", "Rennrad Aero Carbon", "road_bike", Decimal("2499.00")),
    Product("PD-10", "Klickpedale Road", "pedals", Decimal("89.00")),
    Product("SB-700", "Schlafsack Daunen -10", "sleeping_bags", Decimal("319.00")),
)
CONTENT = (
    ("cnt-trail-guide", "Trailrunning Guide", ["running_shoes", "trailrunning"]),
    ("cnt-bike-fit", "Bike-Fitting Whitepaper", ["road_bike", "bikefit"]),
    ("cnt-camping", "Camping im Herbst", ["sleeping_bags", "camping"]),
)
POSITIVE_POSTS = (
    "Super Laufschuhe, ich bin begeistert! Toller Service.",
    "Love my new shoes, great fit!",
)
NEGATIVE_POSTS = ("Leider schlechte Qualität, die Sohle ist nach zwei Wochen kaputt. Enttäuscht.",)
PRODUCTION_STEPS = STEPS[: STEPS.index("packed") + 1]
"""The steps a generated custom shoe goes through: packed, not yet shipped."""
PRINT_CAMPAIGN_ID = "cmp-print-herbst"
"""The autumn letter campaign, planned (and invoiced) in the budget plans as well."""
PRINT_CAMPAIGN_POSTAL_PREFIXES = ("0",)
"""The print campaign's region: postal codes starting with 0, which a number would lose."""


@dataclass(frozen=True)
class WorkloadEvent:
    """One message to produce: a record to encode, or raw bytes that are malformed on purpose."""

    topic: str
    key: str
    value: dict[str, Any] | None = None
    raw: bytes | None = None


@dataclass
class GroundTruth:
    """What a correct pipeline makes of the workload, computed independently of it."""

    events_by_topic: Counter[str] = field(default_factory=Counter)
    malformed_by_topic: Counter[str] = field(default_factory=Counter)
    prospect_emails: set[str] = field(default_factory=set)
    anonymous_sessions: int = 0
    orders_by_email: Counter[str] = field(default_factory=Counter)
    cms_points_by_email: Counter[str] = field(default_factory=Counter)
    budget_actuals: dict[str, Decimal] = field(default_factory=dict)
    budget_planned: dict[str, Decimal] = field(default_factory=dict)
    failed_chips: set[str] = field(default_factory=set)
    erased_emails: set[str] = field(default_factory=set)
    customer_records: dict[str, dict[str, Any]] = field(default_factory=dict)
    """E-mail of each customer -> the master data of their checkout, as they typed it."""

    @property
    def customer_emails(self) -> set[str]:
        """The e-mails of the people who ordered."""
        return set(self.customer_records)

    def print_campaign_letters(self) -> int:
        """Letters the print campaign makes: one per customer in its region."""
        return sum(
            customer["postal_code"].startswith(PRINT_CAMPAIGN_POSTAL_PREFIXES)
            for customer in self.customer_records.values()
        )

    def sales_leads(self, threshold: int = 50) -> set[str]:
        """E-mails whose CMS points reach the sales-lead threshold."""
        return {e for e, points in self.cms_points_by_email.items() if points >= threshold}


DEFAULT_POINTS = {"download": 10, "survey_answered": 20, "email_opened": 10, "webinar_clicked": 30}


class WorkloadBuilder:
    """Builds the events of many journeys, recording the truth as it goes."""

    def __init__(
        self, seed: int, points: dict[str, int] | None = None, first_person: int = 0
    ) -> None:
        """Start a workload.

        Args:
            seed: Seed of the generator; the same seed gives the same workload.
            points: Lead points per CMS event type, as the rules give them.
            first_person: Number of the workload's first person. Ids of a workload that
                starts at a later person carry that number, so workloads of disjoint people
                share no person and no id, and can follow each other on one Kafka.
        """
        self.rng = random.Random(seed)  # noqa: S311 - reproducible test data, not security
        self.points = points or DEFAULT_POINTS
        self.events: list[tuple[datetime, WorkloadEvent]] = []
        self.truth = GroundTruth()
        self._serial = 0
        self._id_space = f"{first_person}-" if first_person else ""

    def next_id(self, prefix: str) -> str:
        """A unique, reproducible id."""
        self._serial += 1
        return f"{prefix}-{self._id_space}{self._serial:07d}"

    def add(self, topic: str, key: str, value: dict[str, Any], at: datetime) -> None:
        """Record a valid event."""
        self.events.append((at, WorkloadEvent(topic, key, value)))
        self.truth.events_by_topic[topic] += 1

    def add_malformed(self, topic: str, key: str, raw: bytes, at: datetime) -> None:
        """Record an event that must end in the dead letters."""
        self.events.append((at, WorkloadEvent(topic, key, raw=raw)))
        self.truth.malformed_by_topic[topic] += 1

    def person(self, index: int) -> dict[str, Any]:
        """German master data for one generated person."""
        gender = self.rng.choices(["female", "male", "diverse", "unknown"], [45, 45, 5, 5])[0]
        first = self.rng.choice(
            FEMALE_NAMES
            if gender == "female"
            else MALE_NAMES
            if gender == "male"
            else NEUTRAL_NAMES
        )
        last = self.rng.choice(LAST_NAMES)
        postal_code, city = self.rng.choice(CITIES)
        handle = f"@{first.lower()}_{index}"
        return {
            "first_name": first,
            "last_name": last,
            "gender": gender,
            "title": self.rng.choice(TITLES),
            "email": f"person{index}@example.org",
            "phone": f"0171 {1000000 + index:07d}",
            "street": self.rng.choice(STREETS),
            "postal_code": postal_code,
            "city": city,
            "country": "DE",
            "social_handles": [handle],
        }

    def browse(self, session: str, at: datetime, product: Product, views: int) -> datetime:
        """Anonymous product views of one session."""
        for _ in range(views):
            at += timedelta(seconds=self.rng.randint(5, 90))
            self.add(
                "shop.events",
                session,
                self.shop_event("product_view", session, at, product=product),
                at,
            )
        return at

    def shop_event(
        self, event_type: str, session: str, at: datetime, **fields: Any
    ) -> dict[str, Any]:
        """A shop event with the given optional parts."""
        product = fields.pop("product", None)
        return {
            "event_id": self.next_id("shop"),
            "event_type": event_type,
            "occurred_at": at,
            "session_id": session,
            "customer_id": fields.get("customer_id"),
            "url": f"https://shop.example.org/p/{product.sku}" if product else None,
            "product": _product_record(product) if product else None,
            "order": fields.get("order"),
            "customer": fields.get("customer"),
        }

    def buy(
        self, index: int, session: str, at: datetime, product: Product
    ) -> tuple[str, datetime, dict[str, Any]]:
        """Checkout and order of one customer; returns the order id, time and master data."""
        customer = self.person(index)
        account = f"shop-{index:06d}"
        at += timedelta(minutes=self.rng.randint(1, 20))
        self.add(
            "shop.events",
            session,
            self.shop_event("checkout", session, at, customer_id=account, customer=customer),
            at,
        )
        order_id = self.next_id("ord")
        quantity = self.rng.randint(1, 2)
        total = (product.price * quantity).quantize(CENT)
        order = {
            "order_id": order_id,
            "items": [
                {
                    "sku": product.sku,
                    "name": product.name,
                    "category": product.category,
                    "quantity": quantity,
                    "unit_price": product.price,
                }
            ],
            "total": total,
            "currency": "EUR",
        }
        at += timedelta(seconds=30)
        self.add(
            "shop.events",
            session,
            self.shop_event(
                "order_placed", session, at, customer_id=account, order=order, customer=customer
            ),
            at,
        )
        self.truth.customer_records[customer["email"]] = customer
        self.truth.orders_by_email[customer["email"]] += 1
        return order_id, at, customer

    def cms_activity(self, email: str, at: datetime) -> datetime:
        """Downloads, surveys, mail opens and webinar clicks of a known person."""
        for event_type in self.rng.sample(list(DEFAULT_POINTS), k=self.rng.randint(1, 4)):
            content_id, title, keywords = self.rng.choice(CONTENT)
            at += timedelta(hours=self.rng.randint(1, 30))
            value = {
                "event_id": self.next_id("cms"),
                "event_type": event_type,
                "occurred_at": at,
                "session_id": None,
                "customer_id": None,
                "email": email,
                "content_id": content_id,
                "title": title,
                "keywords": keywords,
                "campaign_id": None,
                "form": {},
            }
            self.add("cms.events", email, value, at)
            self.truth.cms_points_by_email[email] += self.points.get(event_type, 0)
        return at

    def produce_shoe(self, order_id: str, at: datetime, fail: bool) -> None:
        """RFID readings of a custom shoe; a failed step is repeated and then completed."""
        chip = self.next_id("chip")
        for step in PRODUCTION_STEPS:
            statuses = (
                ["started", "failed", "started", "completed"]
                if fail and step == "stitching"
                else ["started", "completed"]
            )
            for status in statuses:
                at += timedelta(minutes=self.rng.randint(5, 40))
                value = {
                    "event_id": self.next_id("rfid"),
                    "chip_id": chip,
                    "order_id": order_id,
                    "sku": "RS-200",
                    "station_id": f"st-{step}",
                    "step": step,
                    "status": status,
                    "occurred_at": at,
                    "detail": "Naht gerissen" if status == "failed" else None,
                }
                self.add("rfid.production", chip, value, at)
        if fail:
            self.truth.failed_chips.add(chip)

    def social(self, handle: str, at: datetime, positive: bool) -> None:
        """A social post about the shop by a known handle."""
        text = self.rng.choice(POSITIVE_POSTS if positive else NEGATIVE_POSTS)
        value = {
            "event_id": self.next_id("soc"),
            "platform": "instagram",
            "post_id": self.next_id("post"),
            "author_handle": handle,
            "text": text,
            "hashtags": ["laufen", "running_shoes"],
            "language": None,
            "posted_at": at,
            "url": None,
        }
        self.add("social.posts", handle, value, at)

    def budgets(self) -> None:
        """Two campaign plans with SEA and print invoices, a credit memo and a reversal."""
        plans = [
            ("cmp-sea-q3", "SEA Q3", "sea", Decimal("10000.00")),
            (PRINT_CAMPAIGN_ID, "Print Herbst", "print", Decimal("6000.00")),
        ]
        for campaign_id, name, channel, planned in plans:
            plan = {
                "campaign_id": campaign_id,
                "name": name,
                "channel": channel,
                "owner_email": "marketing.controlling@example.org",
                "start_date": date(2026, 7, 1),
                "end_date": date(2026, 9, 30),
                "planned_amount": planned,
                "currency": "EUR",
                "alert_threshold_pct": 80,
            }
            self.add("marketing.budget.plans", campaign_id, plan, BASE_TIME)
            self.truth.budget_planned[campaign_id] = planned
            self.truth.budget_actuals[campaign_id] = Decimal("0.00")
        amounts = [Decimal("2500.00"), Decimal("3100.50"), Decimal("1980.00"), Decimal("1200.00")]
        documents = []
        for number, amount in enumerate(amounts):
            documents.append(self.invoice("cmp-sea-q3", "invoice", amount, number, None))
        documents.append(self.invoice(PRINT_CAMPAIGN_ID, "invoice", Decimal("4200.00"), 10, None))
        documents.append(
            self.invoice(PRINT_CAMPAIGN_ID, "credit_memo", Decimal("300.00"), 11, None)
        )
        documents.append(
            self.invoice("cmp-sea-q3", "reversal", Decimal("1200.00"), 12, documents[3])
        )
        at = BASE_TIME
        for document in documents:
            at += timedelta(hours=3)
            self.add("erp.invoices", document["document_id"], document, at)

    def invoice(
        self,
        campaign_id: str,
        kind: str,
        amount: Decimal,
        number: int,
        reverses: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """An ERP posting and its effect on the expected actual."""
        effect = {"invoice": amount, "credit_memo": -amount, "reversal": Decimal(0)}[kind]
        if reverses is not None:
            effect = -Decimal(reverses["local_amount"])
        self.truth.budget_actuals[campaign_id] += effect
        return {
            "document_id": f"1000-2026-51{number:08d}",
            "document_type": kind,
            "reverses_document_id": reverses["document_id"] if reverses else None,
            "posting_date": date(2026, 8, 10) + timedelta(days=number),
            "company_code": "1000",
            "vendor_id": "V-SEA" if "sea" in campaign_id else "V-PRINT",
            "vendor_name": "Suchmaschinen GmbH" if "sea" in campaign_id else "Druckerei Sachsen",
            "campaign_id": campaign_id,
            "cost_center": "MKT-100",
            "gl_account": "654000",
            "amount": amount,
            "currency": "EUR",
            "local_amount": amount,
            "local_currency": "EUR",
        }


def _product_record(product: Product) -> dict[str, Any]:
    return {
        "sku": product.sku,
        "name": product.name,
        "category": product.category,
        "price": product.price,
        "currency": "EUR",
    }


def print_campaign_request() -> WorkloadEvent:
    """Marketing's request for the autumn letter to every customer of the campaign's region.

    Sent once the journeys are in: a campaign selects the people as their profiles stand.
    """
    segment = {
        "interests_any": [],
        "lead_status_any": ["customer"],
        "postal_code_prefixes": list(PRINT_CAMPAIGN_POSTAL_PREFIXES),
        "countries": ["DE"],
        "min_orders": None,
        "exclude_contacted_within_days": None,
    }
    request = {
        "campaign_id": PRINT_CAMPAIGN_ID,
        "name": "Herbstaktion Maßschuhe",
        "channel": "print",
        "template": "campaign",
        "segment": segment,
        "responsible": "marketing@example.org",
        "requested_at": BASE_TIME + timedelta(days=30),
    }
    return WorkloadEvent("campaign.requests", PRINT_CAMPAIGN_ID, request)


def build_workload(
    customers: int, seed: int, first_person: int = 0
) -> tuple[list[WorkloadEvent], GroundTruth]:
    """Generate the journeys of ``customers`` people, in event-time order, with the truth.

    The people are numbered from ``first_person`` on (see `WorkloadBuilder`); the campaign
    plans and their invoices are the same in every workload.
    """
    builder = WorkloadBuilder(seed, first_person=first_person)
    rng = builder.rng
    builder.budgets()
    for index in range(first_person, first_person + customers):
        at = BASE_TIME + timedelta(minutes=rng.randint(0, 60 * 24 * 20))
        session = f"sess-{seed}-{index:06d}"
        product = rng.choice(PRODUCTS)
        at = builder.browse(session, at, product, views=rng.randint(1, 3))
        role = rng.choices(["customer", "prospect", "anonymous"], [50, 35, 15])[0]
        if role == "anonymous":
            builder.truth.anonymous_sessions += 1
            continue
        email = f"person{index}@example.org"
        if role == "customer":
            order_id, at, customer = builder.buy(index, session, at, product)
            if product.category == "running_shoes" and rng.random() < 0.3:
                builder.produce_shoe(order_id, at, fail=rng.random() < 0.3)
            if rng.random() < 0.2:
                builder.social(customer["social_handles"][0], at, positive=rng.random() < 0.6)
        else:
            builder.truth.prospect_emails.add(email)
        builder.cms_activity(email, at)
    for topic in ("shop.events", "cms.events", "erp.invoices"):
        builder.add_malformed(topic, "malformed", b"\xc3\x01not-a-fingerprint", BASE_TIME)
    builder.events.sort(key=lambda pair: pair[0])
    return [event for _, event in builder.events], builder.truth
