# A MozDef-style alert (test fixture) in the manner of MozDef's old_events: events that arrived in the
# last minute but happened more than a day ago (a clock or pipeline problem).

from datetime import datetime, timedelta

from lib.alerttask import AlertTask
from mozdef_util.query_models import LessThanMatch, SearchQuery
from mozdef_util.utilities.toUTC import toUTC


class AlertLateEvents(AlertTask):
    def main(self):
        search_query = SearchQuery(minutes=1)
        day_ago = toUTC(datetime.now() - timedelta(days=1)).isoformat()
        search_query.add_must(LessThanMatch("utctimestamp", day_ago))
        self.filtersManual(search_query)
        self.searchEventsAggregated("hostname", samplesLimit=3)
        self.walkAggregations(threshold=1)

    def onAggregation(self, aggreg):
        summary = f"{aggreg['count']} late events from {aggreg['value']}"
        return self.createAlertDict(summary, "latency", ["pipeline"], aggreg["events"], "WARNING")
