"""Running the server: take the writer lock, announce the address in the data directory, serve."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import orjson
import uvicorn

from reynard.detect.alerts import AlertStore
from reynard.detect.notifications import Notifications
from reynard.detect.registry import RuleRegistry
from reynard.detect.scheduler import RuleScheduler
from reynard.detect.streaming import build_matcher
from reynard.ingest.deadletter import DeadLetterStore
from reynard.ingest.pipeline import Pipeline
from reynard.ingest.plugins import default_plugins
from reynard.ingest.sinks import SERVER_FILE
from reynard.respond.service import PlaybookService
from reynard.respond.triggers import Start, Trigger, TriggerRunner, load_triggers
from reynard.settings import Settings
from reynard.state import open_state
from reynard.store.backends import open_event_store
from reynard.store.service import WriterService
from reynard.web.app import Services, create_app

log = logging.getLogger("reynard.web.server")


def build_services(settings: Settings) -> Services:
    """Everything the app needs; takes the writer lock (raises WriterBusy when another process has it).

    Detection: the enabled rules' simple tasks are matched on each committed batch (`StreamingMatcher`,
    fed by the writer service); the other rules run on schedule (`RuleScheduler`, started by `serve`).
    Response: each committed batch and each new alert goes through the triggers, which start playbooks
    on the playbook service's workers (`PlaybookService`, started by `serve`).
    """
    store = open_event_store(settings, writable=True)
    engine = open_state(settings.state_url)
    registry = RuleRegistry(engine, settings.data_dir / "rules")
    registry.ensure_builtins()
    playbooks = PlaybookService.from_settings(settings)
    triggers = TriggerRunner(
        load_triggers(settings.extra, settings.data_dir / "triggers"), engine, start_playbook(playbooks)
    )
    notifications = Notifications.from_settings(settings, engine)

    def notify(alert_id: int, alert: dict) -> list:
        outcomes = notifications(alert_id, alert)
        triggers.on_alert(alert_id, alert)
        return outcomes

    alert_store = AlertStore(engine, notify=notify)
    matcher = build_matcher(settings, registry, alert_store)

    def committed(events: list[dict]) -> None:
        try:
            matcher.match(events)
        finally:
            triggers.on_events(events)

    scheduler = RuleScheduler(
        registry,
        open_event_store(settings, writable=False),
        alert_store,
        interval=settings.scheduler_tick,
        skip=lambda: matcher.streaming_rules,
    )
    return Services(
        settings=settings,
        writer=WriterService(store, on_committed=committed),
        reader=open_event_store(settings, writable=False),
        dead_letters=DeadLetterStore(engine),
        pipeline=Pipeline(default_plugins(settings)),
        alerts=alert_store,
        matcher=matcher,
        scheduler=scheduler,
        playbooks=playbooks,
    )


def start_playbook(service: PlaybookService) -> Start:
    """How a trigger starts its playbook: on the service's workers, the matching document as input."""

    def start(trigger: Trigger, document: dict) -> str:
        name, definition = service.catalog.resolve(trigger.playbook)
        return service.start(name, definition, document).id

    return start


def serve(settings: Settings, services: Services | None = None) -> None:
    services = services or build_services(settings)
    app = create_app(services)
    announce = settings.data_dir / SERVER_FILE
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    _write_atomically(
        announce, orjson.dumps({"host": settings.host, "port": settings.port, "pid": os.getpid()})
    )
    if services.scheduler is not None:
        services.scheduler.start()
    if services.playbooks is not None:
        services.playbooks.start_background()
    try:
        server.run()
    finally:
        if services.scheduler is not None:
            services.scheduler.stop()
        if services.playbooks is not None:
            services.playbooks.close()
        services.writer.close()
        announce.unlink(missing_ok=True)


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
