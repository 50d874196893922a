"""Prometheus metrics of the stream worker, kept in one explicit registry.

Every metric is created here against the registry the class owns (never the global one),
so tests and several workers in one process do not collide. Labels name topics, agents
and tables, never customers.
"""

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

PROCESSING_BUCKETS = (
    *(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05),
    *(0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
"""Seconds an agent spends on one event or batch: 0.5 ms to 10 s."""

LAG_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
"""Seconds from an event's own time to the emit of its result: 10 ms to an hour."""


class Metrics:
    """Base of a component's metrics: owns the registry and renders it.

    Subclasses create their metrics in ``__init__`` against :attr:`registry`, named
    ``journeyhub_<component>_<thing>_<unit>``.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()

    def render(self) -> tuple[bytes, str]:
        """Return the Prometheus text exposition of the registry and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class WorkerMetrics(Metrics):
    """The stream worker's metrics (``journeyhub_worker_*``).

    Attributes:
        events_in: Events read, by topic.
        events_out: Events written, by topic.
        dead_letters: Events sent to ``dlq.<topic>``, by origin topic and reason.
        duplicates: Redelivered events skipped because their effect already happened.
        processing_seconds: Time an agent spends per event or batch, by agent.
        event_lag_seconds: Time from an event's own timestamp to the emit, by topic.
        table_entries: Entries in a state table, by table.
        up: 1 while the worker is ready, else 0.
        profiles: Customer-360 profiles in this worker's profile table.
        profile_merges: Profiles merged into the profile of the same person.
        identity_resolutions: Events resolved to a person, by outcome (new, known, merged).
        budget_planned: Planned budget of a campaign, by campaign and currency.
        budget_actual: Actual costs booked against a campaign, by campaign and currency.
        budget_remaining: Planned minus actual, by campaign and currency.
        budget_utilization: Actual as a share of planned (1.0 = 100 %), by campaign and currency.
        budget_postings: Verdicts on ERP postings, by outcome (counted, rejected, ...).
        budget_unassigned: Postings without a campaign, by company code and currency.
        journey_leads: People handed to sales on ``crm.leads``.
        journey_jobs: Mail and print jobs published, by template and channel.
        journey_suppressed: Planned jobs not sent, by reason (consent, cap, address, ...).
        campaign_matched: People matched by a segment campaign, by campaign.
        privacy_requests: Data-subject requests answered, by type and status.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__(registry)
        self.events_in = Counter(
            "journeyhub_worker_events_in_total",
            "Events read by the stream worker.",
            ["topic"],
            registry=self.registry,
        )
        self.events_out = Counter(
            "journeyhub_worker_events_out_total",
            "Events written by the stream worker.",
            ["topic"],
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "journeyhub_worker_dead_letters_total",
            "Events the stream worker sent to a dead-letter topic.",
            ["topic", "reason"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "journeyhub_worker_duplicates_total",
            "Redelivered events skipped because their effect already happened.",
            ["topic"],
            registry=self.registry,
        )
        self.processing_seconds = Histogram(
            "journeyhub_worker_processing_seconds",
            "Seconds an agent spends on one event or batch.",
            ["agent"],
            buckets=PROCESSING_BUCKETS,
            registry=self.registry,
        )
        self.event_lag_seconds = Histogram(
            "journeyhub_worker_event_lag_seconds",
            "Seconds from an event's own timestamp to the emit of its result.",
            ["topic"],
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )
        self.table_entries = Gauge(
            "journeyhub_worker_table_entries",
            "Entries in a state table of this worker.",
            ["table"],
            registry=self.registry,
        )
        self.up = Gauge(
            "journeyhub_worker_up",
            "1 while the stream worker is ready, else 0.",
            registry=self.registry,
        )
        self.profiles = Gauge(
            "journeyhub_customer360_profiles",
            "Customer-360 profiles in this worker's profile table.",
            registry=self.registry,
        )
        self.profile_merges = Counter(
            "journeyhub_customer360_merges_total",
            "Profiles merged into the profile of the same person.",
            registry=self.registry,
        )
        self.identity_resolutions = Counter(
            "journeyhub_customer360_identity_resolutions_total",
            "Events resolved to a person: a new person, a known one, or one that merged two.",
            ["outcome"],
            registry=self.registry,
        )
        budget = ["campaign_id", "currency"]
        self.budget_planned = Gauge(
            "journeyhub_budget_planned_amount",
            "Planned budget of a campaign.",
            budget,
            registry=self.registry,
        )
        self.budget_actual = Gauge(
            "journeyhub_budget_actual_amount",
            "Actual costs booked against a campaign: invoices minus credit memos.",
            budget,
            registry=self.registry,
        )
        self.budget_remaining = Gauge(
            "journeyhub_budget_remaining_amount",
            "Planned minus actual amount of a campaign; negative when exceeded.",
            budget,
            registry=self.registry,
        )
        self.budget_utilization = Gauge(
            "journeyhub_budget_utilization_ratio",
            "Actual amount of a campaign as a share of its planned amount (1.0 = 100 %).",
            budget,
            registry=self.registry,
        )
        self.budget_postings = Counter(
            "journeyhub_budget_postings_total",
            "Verdicts on ERP postings, by outcome; a pending posting counts again when decided.",
            ["outcome"],
            registry=self.registry,
        )
        self.budget_unassigned = Gauge(
            "journeyhub_budget_unassigned_amount",
            "Costs of postings that name no campaign, by company code.",
            ["company_code", "currency"],
            registry=self.registry,
        )
        self.journey_leads = Counter(
            "journeyhub_journey_leads_total",
            "People handed to sales on crm.leads at the sales-lead threshold.",
            registry=self.registry,
        )
        self.journey_jobs = Counter(
            "journeyhub_journey_jobs_total",
            "Mail and print jobs published, by template and channel.",
            ["template", "channel"],
            registry=self.registry,
        )
        self.journey_suppressed = Counter(
            "journeyhub_journey_suppressed_total",
            "Planned jobs the contact rules did not send, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.campaign_matched = Counter(
            "journeyhub_journey_campaign_matched_total",
            "People matched by a segment campaign, by campaign.",
            ["campaign_id"],
            registry=self.registry,
        )
        self.privacy_requests = Counter(
            "journeyhub_privacy_requests_total",
            "Data-subject requests answered, by type and status.",
            ["type", "status"],
            registry=self.registry,
        )
