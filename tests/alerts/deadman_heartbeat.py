# A MozDef-style dead-man alert (test fixture): fires when no heartbeat arrived in 15 minutes.
# The lazy imports inside main() must resolve too.

from lib.deadman_alerttask import DeadmanAlertTask


class AlertHeartbeatDeadman(DeadmanAlertTask):
    def main(self):
        from mozdef_util.query_models import SearchQuery, TermMatch
        from mozdef_util.utilities.logger import logger
        from mozdef_util.utilities.toUTC import toUTC

        self.checked_at = toUTC(self.now)
        logger.debug("checking heartbeats")
        search_query = SearchQuery(minutes=15)
        search_query.add_must([TermMatch("category", "heartbeat"), TermMatch("hostname", "nsm1")])
        self.filtersManual(search_query)
        self.searchEventsSimple()
        self.walkEvents()

    def onNoEvent(self):
        return self.createAlertDict(
            "No heartbeat from nsm1 in 15 minutes", "deadman", ["heartbeat"], [], "ERROR", channel="#ops"
        )
