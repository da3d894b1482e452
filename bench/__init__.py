"""`python -m bench`: the bot against a floor app and the sandbox, over loopback.

Modules: `processes` (child processes, RSS), `floor` (the ack-only floor app), `driver`
(signed load and the response_url receiver), `harness` (what every scenario shares),
`scenarios` (one function per scenario), `report` (table, targets, JSON).
"""
