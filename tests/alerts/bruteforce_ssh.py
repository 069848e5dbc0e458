# A MozDef-style alert (test fixture): written exactly as MozDef's alert files are, imports included.

from lib.alerttask import AlertTask
from mozdef_util.query_models import PhraseMatch, SearchQuery, TermMatch, TermsMatch


class AlertBruteforceSsh(AlertTask):
    def main(self):
        self.parse_config("bruteforce_ssh.conf", ["skiphosts"])

        search_query = SearchQuery(minutes=2)
        search_query.add_must(
            [
                PhraseMatch("summary", "failed"),
                TermMatch("details.program", "sshd"),
                TermsMatch("summary", ["login", "invalid", "ldap_count_entries", "publickey"]),
            ]
        )
        for ip_address in self.config.skiphosts.split():
            search_query.add_must_not(PhraseMatch("summary", ip_address))

        self.filtersManual(search_query)
        self.searchEventsAggregated("details.sourceipaddress", samplesLimit=10)
        self.walkAggregations(threshold=10)

    def onAggregation(self, aggreg):
        summary = "{} ssh bruteforce attempts by {}".format(aggreg["count"], aggreg["value"])
        hosts = self.mostCommon(aggreg["allevents"], "_source.hostname")
        for host, hits in hosts[:5]:
            summary += f" {host} ({hits} hits)"
        return self.createAlertDict(summary, "bruteforce", ["ssh"], aggreg["events"], "NOTICE")
