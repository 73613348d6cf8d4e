"""Windows event semantics as data: which events are kept, and which Windows field feeds which column.

Everything a reader hands to :func:`ingest.normalize.normalize_records` is a flat dict of *Windows*
field names (the ``EventData`` names of the Security/System/Sysmon manifests) plus five system
fields (:data:`SYSTEM_FIELDS`). This module says what those fields mean per event id; the readers
only rename their dialect's keys to these names, and :mod:`ingest.writers` uses the same tables
backwards. One definition of each field name.

Sources: Microsoft "Audit ..." event documentation (4624, 4625, 4634, 4648, 4672, 4688, 4697,
4698, 4702, 5140, 5145), the System SCM event 7045, Sysinternals Sysmon event schema (1, 3, 11, 12, 13,
17, 18).

MDE event-id scheme (documented contract): Defender advanced-hunting rows get ``channel="MDE"``,
``source_format="mde"`` and the event id of the *Windows event with the same semantics*, so every
downstream rule keyed on event ids works on MDE unchanged:

======================  =====================================================  ========
table                   ActionType                                             event_id
======================  =====================================================  ========
DeviceLogonEvents       LogonSuccess                                           4624
DeviceLogonEvents       LogonFailed                                            4625
DeviceLogonEvents       LogonAttempted                                         4648
DeviceNetworkEvents     ConnectionSuccess/Attempt/Request/Found, Inbound...    3
DeviceProcessEvents     ProcessCreated                                         1
DeviceFileEvents        FileCreated, FileModified, FileRenamed                 11
DeviceEvents            ServiceInstalled                                       7045
DeviceEvents            NamedPipeEvent                                         17
DeviceEvents            ScheduledTaskCreated / ScheduledTaskUpdated            4698/4702
DeviceRegistryEvents    RegistryKeyCreated                                     12
DeviceRegistryEvents    RegistryValueSet                                       13
======================  =====================================================  ========

Registry events (Sysmon 12/13, MDE registry rows) fill ``target_name`` with the key path
(``TargetObject``; MDE ``RegistryKey\\RegistryValueName``). A value set on a service's
``...\\Services\\<name>\\ImagePath`` is a service creation through the registry: the normaliser
then also fills ``service_name`` (``<name>``) and ``service_image`` (the value, ``Details``); on any
other key ``service_image`` stays empty (:data:`SERVICE_IMAGE_KEY`).

Any other ActionType (LdapSearch, ...) is read and counted but skipped as "event id not kept".
LANL ``auth.txt`` rows get ``channel="LANL"``: LogOn success 4624, LogOn failure 4625, LogOff 4634,
TGT 4768, TGS 4769 (kept); AuthMap rows are mapping records (event id 0, not kept).

Domain-controller authentication (Security 4768 TGT request, 4769 service ticket, 4776 NTLM
credential validation) is *brokered*: the DC (``host``) is neither end. ``src_*`` is the client
(``IpAddress``; 4776 ``Workstation``; for a machine account's ticket ``PC01$`` the machine
``PC01`` itself) and, for 4769, ``dst_host`` is the host named by ``ServiceName`` (``PC02$``,
``cifs/PC02.corp.local``, ``HOST/PC02``; user service accounts and ``krbtgt`` name no host). Kerberos
ticket fields reuse two columns: ``access_mask`` = ``TicketOptions`` (a bit mask) and
``logon_process`` = ``TicketEncryptionType`` (``0x17`` RC4, ``0x12`` AES256...).
"""

from __future__ import annotations

#: The events latgraph keeps by default (the ``event_ids=None`` filter).
KEPT_EVENT_IDS: frozenset[int] = frozenset({
    4624, 4625, 4634, 4648, 4672, 4688, 4697, 4698, 4702, 5140, 5145,   # Security
    4768, 4769, 4776,                                                   # Security (domain controllers)
    7045,                                                               # System
    1, 3, 11, 12, 13, 17, 18,                                           # Sysmon
})

#: The system fields every raw record carries (values may be missing).
SYSTEM_FIELDS: tuple[str, ...] = ("EventID", "Channel", "Computer", "TimeCreated", "EventRecordID")

#: Raw channel names (lower-case) -> canonical channel.
CHANNELS: dict[str, str] = {
    "security": "Security",
    "system": "System",
    "microsoft-windows-sysmon/operational": "Sysmon",
    "sysmon": "Sysmon",
    "mde": "MDE",
    "lanl": "LANL",
}

#: Canonical channel -> the channel name Windows writes (used by writers and by the label check).
WINDOWS_CHANNEL: dict[str, str] = {
    "Security": "Security",
    "System": "System",
    "Sysmon": "Microsoft-Windows-Sysmon/Operational",
}

#: Which canonical channels a kept event id may come from (System:1 is not Sysmon 1).
EVENT_CHANNELS: dict[int, frozenset[str]] = {
    **{i: frozenset({"Security", "MDE", "LANL"})
       for i in (4624, 4625, 4634, 4648, 4672, 4688, 4697, 4698, 4702, 5140, 5145)},
    **{i: frozenset({"Security", "LANL"}) for i in (4768, 4769, 4776)},
    7045: frozenset({"System", "MDE"}),
    **{i: frozenset({"Sysmon", "MDE"}) for i in (1, 3, 11, 12, 13, 17, 18)},
}

#: Logon types (``LogonType``) by number, and the words MDE/LANL use for them.
LOGON_TYPES: dict[int, str] = {
    0: "System", 2: "Interactive", 3: "Network", 4: "Batch", 5: "Service", 7: "Unlock",
    8: "NetworkCleartext", 9: "NewCredentials", 10: "RemoteInteractive", 11: "CachedInteractive",
    12: "CachedRemoteInteractive", 13: "CachedUnlock",
}
LOGON_TYPE_BY_NAME: dict[str, int] = {
    **{name.lower(): num for num, name in LOGON_TYPES.items()},
    "remote interactive": 10, "remoteinteractive": 10, "cached interactive": 11,
    "network cleartext": 8, "new credentials": 9, "newcredentials": 9, "unlock": 7,
}

#: Logon types whose ``WorkstationName`` is NOT the client: for RemoteInteractive (RDP) Windows may
#: log the target's own name there (hayabusa #1678), so only ``IpAddress`` is trusted.
UNTRUSTED_WORKSTATION_LOGON_TYPES: frozenset[int] = frozenset({10, 12})

# Network direction of each event id (see ingest.schema): "target" = host is the server side
# (dst_host = host, src from the fields), "source" = host is the client (src_host = host),
# "local" = no network direction (src/dst stay empty), "sysmon3" = decided by Initiated,
# "brokered" = logged by a third party (a DC) naming the client and, for 4769, the service's host.
TARGET, SOURCE, LOCAL, BY_INITIATED, BROKERED = "target", "source", "local", "sysmon3", "brokered"
DIRECTION: dict[int, str] = {
    4624: TARGET, 4625: TARGET, 4634: TARGET, 4672: TARGET, 5140: TARGET, 5145: TARGET,
    4648: SOURCE, 3: BY_INITIATED, 4768: BROKERED, 4769: BROKERED, 4776: BROKERED,
    4688: LOCAL, 4697: LOCAL, 4698: LOCAL, 4702: LOCAL, 7045: LOCAL, 1: LOCAL, 11: LOCAL, 12: LOCAL,
    13: LOCAL, 17: LOCAL, 18: LOCAL,
}

#: Per event id: canonical column -> Windows field. ``src_*``/``dst_*`` are "remote_*" here and
#: placed by :data:`DIRECTION` (remote_host/remote_ip/remote_port = the other end: ``src_port`` on
#: target-side and brokered events, where ``IpPort`` is the client's port; ``dst_port`` on 4648, where
#: it is the server's).
FIELD_PICKS: dict[int, dict[str, str]] = {
    4624: {"account": "TargetUserName", "account_domain": "TargetDomainName",
           "subject_account": "SubjectUserName", "logon_id": "TargetLogonId", "logon_type": "LogonType",
           "remote_ip": "IpAddress", "remote_host": "WorkstationName", "remote_port": "IpPort",
           "auth_package": "AuthenticationPackageName", "logon_process": "LogonProcessName",
           "key_length": "KeyLength", "process": "ProcessName"},
    4625: {"account": "TargetUserName", "account_domain": "TargetDomainName",
           "subject_account": "SubjectUserName", "logon_type": "LogonType",
           "remote_ip": "IpAddress", "remote_host": "WorkstationName", "remote_port": "IpPort",
           "auth_package": "AuthenticationPackageName", "logon_process": "LogonProcessName",
           "key_length": "KeyLength", "status": "Status", "process": "ProcessName"},
    4634: {"account": "TargetUserName", "account_domain": "TargetDomainName",
           "logon_id": "TargetLogonId", "logon_type": "LogonType"},
    4648: {"subject_account": "SubjectUserName", "logon_id": "SubjectLogonId",
           "account": "TargetUserName", "account_domain": "TargetDomainName",
           "remote_host": "TargetServerName", "remote_ip": "IpAddress", "remote_port": "IpPort",
           "process": "ProcessName"},
    4672: {"account": "SubjectUserName", "account_domain": "SubjectDomainName",
           "logon_id": "SubjectLogonId"},
    4688: {"subject_account": "SubjectUserName", "account": "TargetUserName",
           "account_domain": "SubjectDomainName", "logon_id": "SubjectLogonId",
           "process": "NewProcessName", "command_line": "CommandLine",
           "parent_process": "ParentProcessName"},
    4697: {"subject_account": "SubjectUserName", "account_domain": "SubjectDomainName",
           "account": "ServiceAccount", "logon_id": "SubjectLogonId",
           "service_name": "ServiceName", "service_image": "ServiceFileName"},
    4698: {"account": "SubjectUserName", "account_domain": "SubjectDomainName",
           "logon_id": "SubjectLogonId", "target_name": "TaskName", "command_line": "TaskContent"},
    4702: {"account": "SubjectUserName", "account_domain": "SubjectDomainName",
           "logon_id": "SubjectLogonId", "target_name": "TaskName", "command_line": "TaskContentNew"},
    5140: {"account": "SubjectUserName", "account_domain": "SubjectDomainName",
           "logon_id": "SubjectLogonId", "remote_ip": "IpAddress", "remote_port": "IpPort",
           "share_name": "ShareName", "access_mask": "AccessMask"},
    5145: {"account": "SubjectUserName", "account_domain": "SubjectDomainName",
           "logon_id": "SubjectLogonId", "remote_ip": "IpAddress", "remote_port": "IpPort",
           "share_name": "ShareName", "target_name": "RelativeTargetName",
           "access_mask": "AccessMask"},
    7045: {"service_name": "ServiceName", "service_image": "ImagePath", "account": "AccountName"},
    4768: {"account": "TargetUserName", "account_domain": "TargetDomainName", "remote_ip": "IpAddress",
           "remote_port": "IpPort", "remote_host": "WorkstationName", "status": "Status",
           "access_mask": "TicketOptions", "logon_process": "TicketEncryptionType",
           "auth_package": "AuthenticationPackageName"},
    4769: {"account": "TargetUserName", "account_domain": "TargetDomainName", "remote_ip": "IpAddress",
           "remote_port": "IpPort", "remote_host": "WorkstationName", "service_name": "ServiceName",
           "status": "Status", "access_mask": "TicketOptions", "logon_process": "TicketEncryptionType",
           "auth_package": "AuthenticationPackageName", "logon_type": "LogonType"},
    4776: {"account": "TargetUserName", "remote_host": "Workstation", "status": "Status",
           "auth_package": "PackageName"},
    1: {"account": "User", "process": "Image", "command_line": "CommandLine",
        "parent_process": "ParentImage"},
    3: {"account": "User", "process": "Image"},   # endpoints: see SYSMON3_FIELDS
    11: {"account": "User", "process": "Image", "target_name": "TargetFilename"},
    12: {"account": "User", "process": "Image", "target_name": "TargetObject"},
    13: {"account": "User", "process": "Image", "target_name": "TargetObject", "service_image": "Details"},
    17: {"account": "User", "process": "Image", "target_name": "PipeName"},
    18: {"account": "User", "process": "Image", "target_name": "PipeName"},
}

#: A registry key path that is a service's image (``...\\Services\\<name>\\ImagePath``); group 1 =
#: the service name. Registry rows on other keys keep no ``service_image``.
SERVICE_IMAGE_KEY = r"(?i)\\(?:currentcontrolset|controlset\d{3})\\services\\([^\\]+)\\imagepath$"

#: Listening ports of the services lateral movement uses (SMB, RPC, NetBIOS, RDP, WinRM); used to
#: tell the local end of an inbound Sysmon 3 connection.
SERVER_PORTS: frozenset[int] = frozenset({445, 135, 139, 3389, 5985, 5986})

#: Sysmon 3 endpoint fields (the direction comes from ``Initiated``).
SYSMON3_FIELDS: dict[str, str] = {
    "src_ip": "SourceIp", "src_host": "SourceHostname", "src_port": "SourcePort",
    "dst_ip": "DestinationIp", "dst_host": "DestinationHostname", "dst_port": "DestinationPort",
    "initiated": "Initiated",
}

#: Every Windows field any pick reads (readers may drop all other fields early).
NEEDED_FIELDS: frozenset[str] = frozenset(
    {f for picks in FIELD_PICKS.values() for f in picks.values()}
    | set(SYSMON3_FIELDS.values()) | set(SYSTEM_FIELDS) | {"SubStatus", "Domain"}
)

#: Account names Windows uses for the local system and anonymous sessions (lower-case).
SYSTEM_ACCOUNTS: frozenset[str] = frozenset({"system", "local system", "localsystem", "local service",
                                             "network service"})
ANONYMOUS_ACCOUNT = "anonymous logon"

#: Defender advanced-hunting ActionType -> event id (see the table in the module docstring).
MDE_ACTION_IDS: dict[str, int] = {
    "LogonSuccess": 4624, "LogonFailed": 4625, "LogonAttempted": 4648,
    "ConnectionSuccess": 3, "ConnectionAttempt": 3, "ConnectionRequest": 3, "ConnectionFound": 3,
    "ConnectionFailed": 3, "InboundConnectionAccepted": 3, "ListeningConnectionCreated": 3,
    "ProcessCreated": 1,
    "FileCreated": 11, "FileModified": 11, "FileRenamed": 11,
    "ServiceInstalled": 7045,
    "NamedPipeEvent": 17,
    "ScheduledTaskCreated": 4698, "ScheduledTaskUpdated": 4702,
    "RegistryKeyCreated": 12, "RegistryValueSet": 13,
}
