"""Cases: incidents through their phases with an append-only timeline, escalation from alerts, runbooks,
postmortems, indicator (IOC) lists and reports. See docs/cases.md."""
