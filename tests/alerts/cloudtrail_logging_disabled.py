# A MozDef-style alert (test fixture).

from lib.alerttask import AlertTask
from mozdef_util.query_models import SearchQuery, TermMatch


class AlertCloudtrailLoggingDisabled(AlertTask):
    def main(self):
        search_query = SearchQuery(minutes=30)
        search_query.add_must(
            [TermMatch("source", "cloudtrail"), TermMatch("details.eventname", "StopLogging")]
        )
        search_query.add_must_not(TermMatch("errorcode", "AccessDenied"))
        self.filtersManual(search_query)
        self.searchEventsSimple()
        self.walkEvents()

    def onEvent(self, event):
        summary = "Cloudtrail Logging Disabled: " + event["_source"]["details"]["requestparameters"]["name"]
        tags = ["cloudtrail", "aws", "cloudtrailpagerduty"]
        return self.createAlertDict(summary, "AWSCloudtrail", tags, [event], "CRITICAL")
