"""The runtime: every long-lived object of one Reynard process, built from the settings, once.

The CLI, the server, the scheduler and the benchmarks ask a `Runtime` for what they need (the event
store, the state database and the stores on it, the rule registry, the notifiers, the streaming
matcher, the playbook service, the triggers...); nothing else in Reynard opens a store or the state
database. Each object is built on first use (a `reynard search` opens no state database; `reynard
ingest` builds no playbook service) and at most once; `close()` releases what was opened. Each
property imports what it builds, so a command loads only the packages it uses: `reynard search
--count` took 0.24-0.31 s here, as it did before the runtime existed, where importing every package
takes about a second.

Which event store and which state database are settings (`event_store`, `state_database`); the
objects below only ever see the `EventStore` contract and an SQLAlchemy engine.

Wiring that belongs to no package alone is done here: the alert store's notifications (and, in a
server, the alert triggers), the incident sink the response actions write to, the streaming matcher
and the triggers on each committed batch, and where playbooks' AWS calls go (`aws_route`: an endpoint
given or configured, else this data directory's running sandbox, else AWS).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reynard.errors import ReynardError, WriterBusy
from reynard.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from reynard.cases.runbooks import RunbookLibrary
    from reynard.cases.services import CaseServices
    from reynard.cases.store import IncidentStore
    from reynard.detect.alerts import AlertStore
    from reynard.detect.notifications import Notifications
    from reynard.detect.registry import RuleRegistry
    from reynard.detect.scheduler import RuleScheduler
    from reynard.detect.streaming import LiveMatcher
    from reynard.identity.audit import AuditTrail
    from reynard.identity.sessions import SessionStore
    from reynard.identity.store import IdentityStore
    from reynard.ingest.deadletter import DeadLetterStore
    from reynard.ingest.pipeline import Pipeline
    from reynard.ingest.runner import IngestSummary
    from reynard.ingest.sinks import EventSink
    from reynard.intel.live import LiveIndicators
    from reynard.intel.store import IndicatorStore
    from reynard.respond.catalog import PlaybookCatalog
    from reynard.respond.dispatch import Dispatch
    from reynard.respond.executions import ExecutionStore
    from reynard.respond.runner import Runner
    from reynard.respond.service import PlaybookService
    from reynard.respond.triggers import Trigger, TriggerRunner
    from reynard.store.base import EventStore
    from reynard.store.service import WriterService

log = logging.getLogger("reynard.runtime")


@dataclass(frozen=True)
class AwsRoute:
    """Where playbooks' AWS calls go (`Runtime.aws_route`): the settings the AWS clients are built from,
    the endpoint given on the command line, and one line saying where, for every output to repeat."""

    settings: Settings
    endpoint_url: str | None
    description: str
    sandbox: bool = False


class Runtime:
    """Everything one process uses, built from `settings` on first use."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._alert_listeners: list[Callable[[int, dict], object]] = []
        self._closers: list[Callable[[], None]] = []

    # -- storage ----------------------------------------------------------------------------------------
    @cached_property
    def state(self) -> Engine:
        """The state database, migrated to the newest schema."""
        from reynard.state import open_state

        engine = open_state(self.settings.state_url)
        self._closers.append(engine.dispose)
        return engine

    def state_exists(self) -> bool:
        """Whether the state database is there already (a SQLite file): looking must not create it."""
        url = self.settings.state_url
        path = url.removeprefix("sqlite:///")
        return path == url or Path(path).is_file()

    @cached_property
    def events(self) -> EventStore:
        """The event store, for reading (it sees other processes' commits after `refresh()`)."""
        return self._open_events(writable=False)

    @cached_property
    def event_writer(self) -> EventStore:
        """The event store, writable: takes the one-writer lock (WriterBusy when another process has it)."""
        return self._open_events(writable=True)

    def _open_events(self, *, writable: bool) -> EventStore:
        from reynard.store.backends import open_event_store

        store = open_event_store(self.settings, writable=writable)
        self._closers.append(store.close)
        return store

    # -- the stores on the state database ---------------------------------------------------------------
    @cached_property
    def dead_letters(self) -> DeadLetterStore:
        from reynard.ingest.deadletter import DeadLetterStore

        return DeadLetterStore(self.state)

    @cached_property
    def notifications(self) -> Notifications:
        from reynard.detect.notifications import Notifications

        return Notifications.from_settings(self.settings, self.state)

    @cached_property
    def alerts(self) -> AlertStore:
        """The alert store; every new alert goes to the notifiers, then to the alert listeners. (The
        notifiers are built first: a bad entry fails before any rule runs.)"""
        from reynard.detect.alerts import AlertStore

        notifications = self.notifications

        def notify(alert_id: int, alert: dict) -> list:
            outcomes = notifications(alert_id, alert)
            for listener in self._alert_listeners:
                listener(alert_id, alert)
            return outcomes

        return AlertStore(self.state, notify=notify)

    def on_alert(self, listener: Callable[[int, dict], object]) -> None:
        """Call `listener(alert_id, alert)` for each new alert (after the notifiers)."""
        self._alert_listeners.append(listener)

    @cached_property
    def rules(self) -> RuleRegistry:
        """The rule registry, with every built-in rule registered."""
        from reynard.detect.registry import RuleRegistry

        registry = RuleRegistry(self.state, self.settings.data_dir / "rules")
        registry.ensure_builtins()
        return registry

    @cached_property
    def incidents(self) -> IncidentStore:
        from reynard.cases.store import IncidentStore

        return IncidentStore(self.state)

    @cached_property
    def indicators(self) -> IndicatorStore:
        from reynard.intel.store import IndicatorStore

        return IndicatorStore(self.state)

    @cached_property
    def identity(self) -> IdentityStore:
        """Users and API tokens."""
        from reynard.identity.store import IdentityStore

        return IdentityStore(self.state)

    @cached_property
    def sessions(self) -> SessionStore:
        """The console's signed-in sessions."""
        from datetime import timedelta

        from reynard.identity.sessions import SessionStore

        settings = self.settings
        return SessionStore(
            self.state,
            max_age=timedelta(hours=settings.session_hours),
            idle=timedelta(minutes=settings.session_idle_minutes),
        )

    @cached_property
    def audit(self) -> AuditTrail:
        from reynard.identity.audit import AuditTrail

        return AuditTrail(self.state)

    @cached_property
    def local_secret(self) -> str:
        """The server's own secret for this run: a process that can read the data directory (`reynard
        ingest` handing its events over) shows it to act as `local` (ingest role). Never stored hashed or
        sent anywhere else: it lives in `<data_dir>/server.json`, readable by its owner only."""
        import secrets

        return secrets.token_urlsafe(32)

    @cached_property
    def executions(self) -> ExecutionStore:
        from reynard.respond.executions import ExecutionStore

        return ExecutionStore(self.state)

    # -- ingest -----------------------------------------------------------------------------------------
    @cached_property
    def live_indicators(self) -> LiveIndicators:
        """The active indicators, kept current; none (nothing is created) while there is no state database."""
        from reynard.intel.live import LiveIndicators

        return LiveIndicators(
            lambda: self.indicators if self.state_exists() else None,
            check_every=self.settings.rules_reload_seconds,
        )

    @cached_property
    def pipeline(self) -> Pipeline:
        from reynard.ingest.pipeline import Pipeline
        from reynard.ingest.plugins import default_plugins

        return Pipeline(default_plugins(self.settings, indicators=self.live_indicators))

    def ingest_sink(self) -> EventSink:
        """Where `reynard ingest` writes: the store itself when this process can take the writer lock,
        else the server that holds it."""
        from reynard.ingest.sinks import ServerSink, StoreSink, running_server

        settings = self.settings
        try:
            store = self.event_writer
        except WriterBusy:
            server = running_server(settings.data_dir)
            if server is None:
                raise ReynardError(
                    "another process holds the event store's writer lock"
                    " and no Reynard server answers for it",
                    where=str(settings.events_dir),
                ) from None
            return ServerSink(*server)
        return StoreSink(store, commit_every=settings.commit_every, commit_interval=settings.commit_interval)

    def ingest(
        self,
        paths: Sequence[str],
        *,
        detect: bool = True,
        on_progress: Callable[[IngestSummary], None] | None = None,
        **options: Any,
    ) -> IngestSummary:
        """One ingest job (`reynard ingest`): `paths` into the store, or to the server that holds it; large
        inputs in worker processes; with `detect`, the streaming rules on what is stored directly. The
        other `options` are `run_ingest`'s (source, keep_received, reference, replay, replay_ids)."""
        from reynard.ingest.jobs import Workers, run_ingest
        from reynard.ingest.sinks import StoreSink

        sink = self.ingest_sink()
        match = self.matcher.match if detect and isinstance(sink, StoreSink) else None
        return run_ingest(
            self.settings,
            sink,
            self.dead_letters,
            self.pipeline,
            paths=paths,
            on_progress=on_progress,
            match=match,
            workers=Workers(worker_pipeline, worker_matcher),
            **options,
        )

    # -- detection --------------------------------------------------------------------------------------
    @cached_property
    def matcher(self) -> LiveMatcher:
        """The streaming matcher of the enabled rules, rebuilt when they change."""
        from reynard.detect.sources import StoreSource
        from reynard.detect.streaming import streaming_matcher

        return streaming_matcher(
            self.rules,
            self.alerts,
            StoreSource(self.events),
            check_every=self.settings.rules_reload_seconds,
        )

    @cached_property
    def scheduler(self) -> RuleScheduler:
        """The rules that are not streamed, each on its schedule (started by the server)."""
        from reynard.detect.scheduler import RuleScheduler

        scheduler = RuleScheduler(
            self.rules,
            self.events,
            self.alerts,
            interval=self.settings.scheduler_tick,
            skip=lambda: self.matcher.streaming_rules,
        )
        self._closers.append(scheduler.stop)
        return scheduler

    # -- cases ------------------------------------------------------------------------------------------
    @cached_property
    def runbooks(self) -> RunbookLibrary:
        from reynard.cases.runbooks import RunbookLibrary, user_dir

        return RunbookLibrary(user_dir(self.settings))

    def suggest_runbook(self, alert: Any) -> str | None:
        found = self.runbooks.current().suggest(alert)
        return found.name if found else None

    @cached_property
    def cases(self) -> CaseServices:
        from reynard.cases.services import CaseServices

        return CaseServices(self.incidents, self.alerts, self.events, self.suggest_runbook)

    # -- response ---------------------------------------------------------------------------------------
    @cached_property
    def playbook_catalog(self) -> PlaybookCatalog:
        from reynard.respond.catalog import PlaybookCatalog

        return PlaybookCatalog(self.settings.data_dir)

    def aws_route(self, endpoint_url: str | None = None) -> AwsRoute:
        """Where playbooks' AWS calls go. The one place that decides it, first match wins:

        1. `endpoint_url` (`--endpoint-url`), then `[respond.aws] endpoint_url`: there, with the
           credentials boto3 finds (the settings' profile, the environment, an instance role);
        2. the sandbox running for this data directory (`reynard sandbox start`): its endpoint and region,
           signed with its test credentials only (never the user's, not even AWS_PROFILE's);
        3. AWS itself, with the credentials boto3 finds.

        A `sandbox.json` whose moto is gone is an error (SandboxError, saying how to restart or forget it),
        never a fall-through to AWS: calls meant for a sandbox do not reach a real account on a guess.
        """
        from reynard.simulate.sandbox import CREDENTIALS, live_sandbox

        aws = self.settings.respond.aws
        if endpoint_url or aws.endpoint_url:
            given = "--endpoint-url" if endpoint_url else "[respond.aws] endpoint_url"
            return AwsRoute(
                self.settings, endpoint_url, f"AWS calls go to {endpoint_url or aws.endpoint_url} ({given})"
            )
        sandbox = live_sandbox(self.settings.data_dir)
        if sandbox is None:
            return AwsRoute(self.settings, None, "AWS calls go to AWS, with the credentials boto3 finds")
        routed = replace(
            aws,
            endpoint_url=sandbox.endpoint_url,
            region=sandbox.region,
            profile=None,
            sandbox_credentials=CREDENTIALS,
        )
        return AwsRoute(
            replace(self.settings, respond=replace(self.settings.respond, aws=routed)),
            None,
            f"AWS calls go to the sandbox at {sandbox.endpoint_url} (moto; scenario {sandbox.scenario},"
            f" account {sandbox.account}, {sandbox.region}) with its test credentials, never yours;"
            " `reynard sandbox stop` sends them to AWS again",
            sandbox=True,
        )

    def dispatch(self, endpoint_url: str | None = None) -> Dispatch:
        """Every task resource, AWS calls where `aws_route` says; the incident steps write to Reynard's
        incidents."""
        from reynard.cases.playbook_sink import PlaybookIncidents
        from reynard.respond.dispatch import default_dispatch

        route = self.aws_route(endpoint_url)
        return default_dispatch(
            route.settings, route.endpoint_url, incidents=PlaybookIncidents(self.incidents)
        )

    def playbook_runner(self, max_sleep: float | None, endpoint_url: str | None = None) -> Runner:
        """A runner for this process (the CLI): AWS calls to `endpoint_url` when given."""
        from reynard.respond.runner import Runner

        runner = Runner(self.executions, self.dispatch(endpoint_url), max_sleep=max_sleep)
        self._closers.append(runner.close)
        return runner

    @cached_property
    def playbooks(self) -> PlaybookService:
        """Executions on worker threads, for a long-running process (started by `start_background`)."""
        from reynard.respond.service import PlaybookService

        route = self.aws_route()
        if route.sandbox:
            log.warning("playbooks: %s", route.description)
        service = PlaybookService(self.executions, self.dispatch(), self.playbook_catalog)
        self._closers.append(service.close)
        return service

    @cached_property
    def triggers(self) -> TriggerRunner:
        from reynard.respond.triggers import TriggerRunner, load_triggers

        found = load_triggers(self.settings, self.settings.data_dir / "triggers")
        return TriggerRunner(found, self.state, self._start_playbook)

    def _start_playbook(self, trigger: Trigger, document: dict) -> str:
        name, definition = self.playbook_catalog.resolve(trigger.playbook)
        return self.playbooks.start(name, definition, document, started_by=trigger.starter).id

    # -- the server -------------------------------------------------------------------------------------
    @cached_property
    def writer(self) -> WriterService:
        """Group commit on the writable store; each committed batch goes to the streaming matcher, then
        to the triggers. The alert triggers are wired here too: a server's alerts start playbooks."""
        from reynard.store.service import WriterService

        matcher, triggers = self.matcher, self.triggers
        self.on_alert(triggers.on_alert)

        def committed(events: list[dict]) -> None:
            try:
                matcher.match(events)
            finally:
                triggers.on_events(events)

        service = WriterService(self.event_writer, on_committed=committed)
        self._closers.append(service.close)
        return service

    def close(self) -> None:
        """Close what was opened, newest first; one failure does not keep the others open."""
        while self._closers:
            closer = self._closers.pop()
            try:
                closer()
            except Exception:
                log.warning("closing %s failed", getattr(closer, "__qualname__", closer), exc_info=True)


def worker_pipeline(settings: Settings) -> Pipeline:
    """The ingest pipeline of a worker process (a module-level function: spawned workers get it)."""
    return Runtime(settings).pipeline


def worker_matcher(settings: Settings) -> LiveMatcher:
    """The streaming matcher of a worker process."""
    return Runtime(settings).matcher


__all__ = ["AwsRoute", "Runtime", "worker_matcher", "worker_pipeline"]
