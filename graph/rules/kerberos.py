"""Authentication seen by a domain controller (4769 service tickets) and remote interactive logons.

With only DC logs collected, the service tickets a client asks for are the one trace of where it
went: a ticket for ``cifs/PC02`` (or ``HOST/PC02``, ``RPCSS/PC02``, ``PC02$``) requested by a user
from ``10.0.0.5`` is that user's authentication from ``10.0.0.5`` to ``PC02``. Ingest places both
ends (:mod:`ingest.winevents`, direction ``brokered``); the rule makes it hop evidence. Like a
network logon it shows access, not execution (not lateral): the authentication-graph signals
(:mod:`graph.scoring.auth`) decide how suspicious the hop is.
"""

from __future__ import annotations

from graph.model import EdgeKind
from graph.rules.base import BROKERED, HUMAN_ACCOUNT, REMOTE_SOURCE, TARGET, Level, Rule
from graph.rules.compile import all_, any_, leaf, not_

SERVICE_TICKET = Rule(
    id="lg.auth.service_ticket",
    title="Kerberos service ticket for a host's service (cifs/HOST, HOST/HOST, HOST$) requested by a "
          "user from a remote client (4769 at a DC, LANL TGS)",
    level=Level.INFO,
    attack=("T1021", "T1078"),
    sigma="",   # no Sigma rule: a single ticket is routine; the graph signals judge it
    event_ids=frozenset({4769}),
    condition=all_(HUMAN_ACCOUNT, REMOTE_SOURCE, leaf("dst_host", "notnull"),
                   any_(leaf("src_host", "notnull"), leaf("src_ip", "notnull")),
                   not_(leaf("dst_host", "ieq_col", "src_host")),
                   any_(leaf("status", "isnull"), leaf("status", "iin", ["0x0", "0x00000000", "success"]))),
    kind=EdgeKind.LOGON,
    side=BROKERED,
    lateral=False,
)

REMOTE_INTERACTIVE = Rule(
    id="lg.logon.remote_interactive",
    title="Remote interactive logon (type 10, RDP) by a user account from another host",
    level=Level.INFO,
    attack=("T1021.001", "T1078"),
    sigma="",
    event_ids=frozenset({4624}),
    condition=all_(leaf("logon_type", "eq", 10), HUMAN_ACCOUNT, REMOTE_SOURCE,
                   any_(leaf("src_host", "notnull"), leaf("src_ip", "notnull"))),
    kind=EdgeKind.LOGON,
    side=TARGET,
    lateral=False,
)

RULES = (SERVICE_TICKET, REMOTE_INTERACTIVE)
