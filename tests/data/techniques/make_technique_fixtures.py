"""Regenerate the technique fixtures of this folder (run from the repo root).

Events written BY HAND from the tools' documented behaviour (not copied from any recording), in two
telemetry dialects each: Windows XML (``wevtutil qe /f:xml`` shape: Sysmon + Security + System
channels) and a Defender advanced-hunting CSV (DeviceProcessEvents / DeviceEvents /
DeviceRegistryEvents columns in one file). See ../PROVENANCE.md.

* ``atomic_t1021_002.*``: Atomic Red Team T1021.002 tests 1-4 run on one lab host against itself:
  (1) ``net use \\\\127.0.0.1\\C$``, (2) copy to ``\\\\127.0.0.1\\ADMIN$``, (3) ``PsExec \\\\127.0.0.1``
  (with what PsExec then does on the same host: PSEXESVC service install, PSEXESVC.exe started by
  services.exe, its child), (4) ``net view \\\\127.0.0.1 /all``. Each test's shell (cmd.exe /c ...)
  and the tool it starts are logged as process creations (Sysmon 1 + Security 4688 in the XML).
* ``psexec_psh_target.*``: the target of Metasploit ``psexec_psh`` / Cobalt Strike
  ``jump psexec_psh`` with only process creation collected: services.exe starting
  ``cmd.exe /b /c start /b /min powershell.exe -nop -w hidden -noni -e <base64>`` (no logon, no 7045).
* ``registry_service_target.*``: a service created through the registry only (Sysmon 12/13 on
  ``...\\Services\\<name>\\ImagePath``; MDE RegistryKeyCreated/RegistryValueSet), Cobalt Strike image.
"""

from __future__ import annotations

import csv
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

HERE = Path(__file__).parent
NS = "http://schemas.microsoft.com/win/2004/08/events/event"
LAB = "LAB-WIN10.lab.local"
TARGET = "FS01.corp.local"
SYSMON = ("Microsoft-Windows-Sysmon", "Microsoft-Windows-Sysmon/Operational")
SECURITY = ("Microsoft-Windows-Security-Auditing", "Security")
SYSTEM = ("Service Control Manager", "System")
SYS32 = "C:\\Windows\\System32\\"
#: A PowerShell stager's base64 (UTF-16LE of a short harmless script; the shape is what matters).
STAGER = (
    "JABzAD0ATgBlAHcALQBPAGIAagBlAGMAdAAgAEkATwAuAE0AZQBtAG8AcgB5AFMAdAByAGUAYQBtACgALABbAEMA"
    "bwBuAHYAZQByAHQAXQA6ADoARgByAG8AbQBCAGEAcwBlADYANABTAHQAcgBpAG4AZwAoACIASAA0AHMASQAiACkAKQA="
)


def xml_event(
    provider: tuple[str, str], eid: int, computer: str, ts: str, rid: int, data: dict[str, str]
) -> str:
    """One ``<Event>`` as wevtutil writes it."""
    items = "".join(f"<Data Name={quoteattr(k)}>{escape(v)}</Data>" for k, v in data.items())
    return (
        f"<Event xmlns='{NS}'><System><Provider Name='{provider[0]}'/><EventID>{eid}</EventID>"
        f"<Version>5</Version><Level>4</Level><TimeCreated SystemTime='{ts}'/>"
        f"<EventRecordID>{rid}</EventRecordID><Correlation/><Execution ProcessID='4' ThreadID='8'/>"
        f"<Channel>{provider[1]}</Channel><Computer>{computer}</Computer><Security/></System>"
        f"<EventData>{items}</EventData></Event>"
    )


def process(ts: str, image: str, cmd: str, parent: str, user: str, logon_id: str) -> dict[str, str]:
    """A process start in neutral form (turned into Sysmon 1, 4688 and an MDE row below)."""
    return {"ts": ts, "image": image, "cmd": cmd, "parent": parent, "user": user, "logon_id": logon_id}


def sysmon1(p: dict[str, str], computer: str, rid: int) -> str:
    return xml_event(
        SYSMON,
        1,
        computer,
        p["ts"],
        rid,
        {
            "RuleName": "-",
            "UtcTime": p["ts"][:23].replace("T", " "),
            "ProcessId": str(4000 + rid % 1000),
            "Image": p["image"],
            "CommandLine": p["cmd"],
            "CurrentDirectory": SYS32,
            "User": p["user"],
            "LogonId": p["logon_id"],
            "IntegrityLevel": "High",
            "ParentImage": p["parent"],
            "ParentCommandLine": p["parent"],
        },
    )


def sec4688(p: dict[str, str], computer: str, rid: int) -> str:
    domain, _, name = p["user"].rpartition("\\")
    return xml_event(
        SECURITY,
        4688,
        computer,
        p["ts"],
        rid,
        {
            "SubjectUserSid": "S-1-5-21-1-2-3-1104",
            "SubjectUserName": name,
            "SubjectDomainName": domain,
            "SubjectLogonId": p["logon_id"],
            "NewProcessId": hex(0x1000 + rid),
            "NewProcessName": p["image"],
            "TokenElevationType": "%%1937",
            "ProcessId": "0x1a2c",
            "CommandLine": p["cmd"],
            "TargetUserSid": "S-1-0-0",
            "TargetUserName": "-",
            "TargetDomainName": "-",
            "TargetLogonId": "0x0",
            "ParentProcessName": p["parent"],
            "MandatoryLabel": "S-1-16-12288",
        },
    )


MDE_COLUMNS = [
    "Timestamp",
    "DeviceId",
    "DeviceName",
    "ActionType",
    "FileName",
    "FolderPath",
    "ProcessCommandLine",
    "AccountDomain",
    "AccountName",
    "InitiatingProcessFileName",
    "InitiatingProcessFolderPath",
    "InitiatingProcessAccountDomain",
    "InitiatingProcessAccountName",
    "InitiatingProcessLogonId",
    "RegistryKey",
    "RegistryValueName",
    "RegistryValueData",
    "AdditionalFields",
    "ReportId",
]


def mde_process(p: dict[str, str], computer: str, rid: int) -> dict[str, str]:
    domain, _, name = p["user"].rpartition("\\")
    return {
        "Timestamp": p["ts"],
        "DeviceId": "c" * 40,
        "DeviceName": computer,
        "ActionType": "ProcessCreated",
        "FileName": p["image"].rsplit("\\", 1)[-1],
        "FolderPath": p["image"],
        "ProcessCommandLine": p["cmd"],
        "AccountDomain": domain,
        "AccountName": name,
        "InitiatingProcessFileName": p["parent"].rsplit("\\", 1)[-1],
        "InitiatingProcessFolderPath": p["parent"],
        "ReportId": str(rid),
    }


def write(stem: str, xml: list[str], mde: list[dict[str, str]]) -> None:
    (HERE / f"{stem}.xml").write_text("\n".join(xml) + "\n", encoding="utf-8")
    with open(HERE / f"{stem}.mde.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=MDE_COLUMNS)
        writer.writeheader()
        writer.writerows(mde)


def atomic() -> None:
    """ART T1021.002 tests 1-4 on LAB against itself (two minutes apart, as a runner would)."""
    user, lid = "LAB\\analyst", "0x3a1f2"
    ps = SYS32 + "WindowsPowerShell\\v1.0\\powershell.exe"
    cmd, net = SYS32 + "cmd.exe", SYS32 + "net.exe"
    psexec = "C:\\AtomicRedTeam\\ExternalPayloads\\PsExec.exe"
    procs = [
        # test 1: Map admin share
        process(
            "2026-03-02T10:00:01.100000Z",
            cmd,
            '"cmd.exe" /c "net use \\\\127.0.0.1\\C$ P@ssw0rd1 /u:LAB\\Administrator"',
            ps,
            user,
            lid,
        ),
        process(
            "2026-03-02T10:00:01.180000Z",
            net,
            "net  use \\\\127.0.0.1\\C$ P@ssw0rd1 /u:LAB\\Administrator",
            cmd,
            user,
            lid,
        ),
        # test 2: copy a file to the admin share
        process(
            "2026-03-02T10:02:05.300000Z",
            cmd,
            '"cmd.exe" /c "copy C:\\Windows\\System32\\calc.exe \\\\127.0.0.1\\ADMIN$\\Temp\\T1021.002.exe"',
            ps,
            user,
            lid,
        ),
        # test 3: PsExec against the host itself
        process(
            "2026-03-02T10:04:10.000000Z",
            psexec,
            "C:\\AtomicRedTeam\\ExternalPayloads\\PsExec.exe \\\\127.0.0.1 -accepteula -c "
            "C:\\Windows\\System32\\cmd.exe /c whoami",
            ps,
            user,
            lid,
        ),
        process(
            "2026-03-02T10:04:11.400000Z",
            "C:\\Windows\\PSEXESVC.exe",
            "C:\\Windows\\PSEXESVC.exe",
            SYS32 + "services.exe",
            "NT AUTHORITY\\SYSTEM",
            "0x3e7",
        ),
        process(
            "2026-03-02T10:04:11.900000Z",
            "C:\\Windows\\cmd.exe",
            '"cmd.exe" /c whoami',
            "C:\\Windows\\PSEXESVC.exe",
            "LAB\\analyst",
            "0x5e6f7",
        ),
        # test 4: list the shares
        process(
            "2026-03-02T10:06:20.000000Z", cmd, '"cmd.exe" /c "net view \\\\127.0.0.1 /all"', ps, user, lid
        ),
        process("2026-03-02T10:06:20.050000Z", net, "net  view \\\\127.0.0.1 /all", cmd, user, lid),
    ]
    xml, mde = [], []
    for i, p in enumerate(procs):
        xml.append(sysmon1(p, LAB, 9100 + i))
        xml.append(sec4688(p, LAB, 52100 + i))
        mde.append(mde_process(p, LAB, 7100 + i))
    svc_ts = "2026-03-02T10:04:11.200000Z"
    xml.append(
        xml_event(
            SYSTEM,
            7045,
            LAB,
            svc_ts,
            3300,
            {
                "ServiceName": "PSEXESVC",
                "ImagePath": "%SystemRoot%\\PSEXESVC.exe",
                "ServiceType": "user mode service",
                "StartType": "demand start",
                "AccountName": "LocalSystem",
            },
        )
    )
    xml.append(
        xml_event(
            SECURITY,
            4697,
            LAB,
            svc_ts,
            52120,
            {
                "SubjectUserSid": "S-1-5-21-1-2-3-1104",
                "SubjectUserName": "analyst",
                "SubjectDomainName": "LAB",
                "SubjectLogonId": "0x5e6f7",
                "ServiceName": "PSEXESVC",
                "ServiceFileName": "%SystemRoot%\\PSEXESVC.exe",
                "ServiceType": "0x10",
                "ServiceStartType": "3",
                "ServiceAccount": "LocalSystem",
            },
        )
    )
    mde.append(
        {
            "Timestamp": svc_ts,
            "DeviceId": "c" * 40,
            "DeviceName": LAB,
            "ActionType": "ServiceInstalled",
            "FileName": "PSEXESVC.exe",
            "FolderPath": "%SystemRoot%\\PSEXESVC.exe",
            "InitiatingProcessFileName": "services.exe",
            "InitiatingProcessFolderPath": SYS32 + "services.exe",
            "AdditionalFields": '{"ServiceName": "PSEXESVC", "ServiceStartType": "DemandStart", '
            '"ServiceAccount": "LocalSystem"}',
            "ReportId": "7120",
        }
    )
    write("atomic_t1021_002", xml, mde)


def psexec_psh() -> None:
    """Target side of psexec_psh with process creation only."""
    line = f"cmd.exe /b /c start /b /min powershell.exe -nop -w hidden -noni -e {STAGER}"
    procs = [
        process(
            "2026-03-03T14:20:07.250000Z",
            SYS32 + "cmd.exe",
            line,
            SYS32 + "services.exe",
            "CORP\\FS01$",
            "0x3e7",
        ),
        process(
            "2026-03-03T14:20:07.400000Z",
            SYS32 + "WindowsPowerShell\\v1.0\\powershell.exe",
            f"powershell.exe -nop -w hidden -noni -e {STAGER}",
            SYS32 + "cmd.exe",
            "CORP\\FS01$",
            "0x3e7",
        ),
    ]
    xml = [sysmon1(p, TARGET, 800 + i) for i, p in enumerate(procs)]
    xml += [sec4688(p, TARGET, 91000 + i) for i, p in enumerate(procs)]
    write("psexec_psh_target", xml, [mde_process(p, TARGET, 500 + i) for i, p in enumerate(procs)])


def registry_service() -> None:
    """A service created only through the registry (what services.exe writes for CreateService)."""
    key = "HKLM\\System\\CurrentControlSet\\Services\\a1b2c3d"
    image = f"%COMSPEC% /b /c start /b /min powershell -nop -w hidden -encodedcommand {STAGER}"
    ts1, ts2 = "2026-03-04T08:12:30.100000Z", "2026-03-04T08:12:30.110000Z"
    common = {
        "RuleName": "-",
        "ProcessId": "680",
        "Image": SYS32 + "services.exe",
        "User": "NT AUTHORITY\\SYSTEM",
    }
    xml = [
        xml_event(
            SYSMON,
            12,
            TARGET,
            ts1,
            4400,
            {**common, "EventType": "CreateKey", "UtcTime": ts1[:23], "TargetObject": key},
        ),
        xml_event(
            SYSMON,
            13,
            TARGET,
            ts2,
            4401,
            {
                **common,
                "EventType": "SetValue",
                "UtcTime": ts2[:23],
                "TargetObject": key + "\\ImagePath",
                "Details": image,
            },
        ),
    ]
    base = {
        "DeviceId": "d" * 40,
        "DeviceName": TARGET,
        "InitiatingProcessFileName": "services.exe",
        "InitiatingProcessFolderPath": SYS32 + "services.exe",
        "InitiatingProcessAccountDomain": "NT AUTHORITY",
        "InitiatingProcessAccountName": "system",
    }
    mde = [
        {
            **base,
            "Timestamp": ts1,
            "ActionType": "RegistryKeyCreated",
            "RegistryKey": "HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\a1b2c3d",
            "ReportId": "601",
        },
        {
            **base,
            "Timestamp": ts2,
            "ActionType": "RegistryValueSet",
            "RegistryKey": "HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\a1b2c3d",
            "RegistryValueName": "ImagePath",
            "RegistryValueData": image,
            "ReportId": "602",
        },
    ]
    write("registry_service_target", xml, mde)


def main() -> None:
    atomic()
    psexec_psh()
    registry_service()


if __name__ == "__main__":
    main()
