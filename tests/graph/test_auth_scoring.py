"""Authentication-graph signals (graph.scoring.auth) on logon-only hops, end to end from toy events."""

from __future__ import annotations

import pandas as pd

from graph.config import AnalysisConfig
from graph.engine import hop_stage, pandas_event_stage
from graph.scoring.auth import NTLM_OUT, SESSION, presence
from graph.toy import T0, toy_events
from ingest.schema import Event, to_frame

CFG = AnalysisConfig()

# three days of routine: each user works from the own workstation against the file server
ROUTINE = " ".join(f"{ws}>FS@{d * 24 + 9 + i}h:logon/{u}"
                   for d in range(3) for i, (ws, u) in enumerate((("WA", "ann"), ("WB", "bob"), ("WC", "cy"),
                                                                  ("WD", "dee"), ("WE", "eve"))))


def analysed(extra: str) -> pd.DataFrame:
    hops = hop_stage(pandas_event_stage(toy_events(f"{ROUTINE} {extra}"), CFG).hops, CFG).hops
    return hops.set_index(hops["src_host"].astype(str) + ">" + hops["dst_host"].astype(str) + "/"
                          + hops["account"].astype(str))


def test_routine_logons_have_no_signal() -> None:
    hops = analysed("")
    assert (hops["auth"] == 0).all() and (hops["severity"] == "info").all()
    assert hops["auth_signals"].map(len).eq(0).all()


def test_first_contact_is_a_weak_signal() -> None:
    hops = analysed("WA>WB@74h:logon/ann")          # ann reaches a workstation she never used
    h = hops.loc["WA>WB/ann"]
    assert h["auth_signals"] == ("new_pair", "new_access")
    assert h["severity"] == "low"


def test_no_baseline_no_signal() -> None:
    """A short recording (everything inside a day) is never judged against an empty history."""
    spec = ("WA>FS@0h:logon/ann WA>WB@1h:logon/ann WA>WC@1h:logon/ann WA>WD@1h:logon/ann "
            "WB>WE@2h:logon/bob")
    hops = hop_stage(pandas_event_stage(toy_events(spec), CFG).hops, CFG).hops
    assert (hops["auth"] == 0).all() and (hops["score"] < 0.2).all()


def test_credential_switch_and_chain_make_a_high_hop() -> None:
    """ann (stolen) reaches WB; from WB the attacker moves on with cy's credential, which never
    logged on to WB: Hopper's credential switch, continuing an anomalous chain."""
    hops = analysed("WA>WB@74h:logon/ann WA>WC@74.1h:logon/ann WA>WD@74.2h:logon/ann "
                    "WB>WE@75h:logon/cy")
    first = hops.loc["WA>WB/ann"]
    assert "burst" in first["auth_signals"] and first["severity"] == "medium"
    nxt = hops.loc["WB>WE/cy"]
    assert {"foreign", "switch", "chain", "new_pair", "new_access"} <= set(nxt["auth_signals"])
    assert nxt["severity"] == "high"
    assert (hops.drop(index=["WA>WB/ann", "WA>WC/ann", "WA>WD/ann", "WB>WE/cy"])["severity"] == "info").all()


def test_high_needs_a_causal_and_a_first_seen_signal() -> None:
    """Without a causal signal an authentication-only hop stays below high, however many signals."""
    hops = analysed("WA>WB@74h:logon/cy WA>WC@74.1h:logon/cy WA>WD@74.2h:logon/cy WA>WE@74.3h:logon/cy")
    h = hops.loc["WA>WB/cy"]
    assert {"foreign", "burst", "new_pair"} <= set(h["auth_signals"]) and "switch" not in h["auth_signals"]
    assert h["score"] <= CFG.auth_medium_cap and h["severity"] == "medium"


def test_sweeping_service_account_is_its_own_baseline() -> None:
    """A nightly sweep over many hosts is no burst after its first night, and brings no credential
    a switch could come from."""
    sweep = " ".join(f"INV>{ws}@{d * 24 + 2}h:logon/svc_inv" for d in range(4)
                     for ws in ("WA", "WB", "WC", "WD", "WE", "FS"))
    hops = analysed(sweep + " WA>FS@74h:logon/ann")
    assert (hops["severity"].isin(["info", "low"])).all()
    assert not hops["auth_signals"].map(lambda t: "switch" in t or "burst" in t).any()


def test_lateral_hops_keep_their_score() -> None:
    """Hops with share/service/process evidence are scored by their rules, not by these signals."""
    hops = analysed("WA>WB@74h:psexec/ann")
    h = hops.loc["WA>WB/ann"]
    assert h["auth"] == 0 and h["auth_signals"] == () and h["severity"] == "high"


def test_a_destination_that_logs_more_than_logons_is_not_lifted_to_medium() -> None:
    """The same credential switch as above, but WE logs its own share access (another hop into it
    shows ADMIN$ events): the logon is followed by no action there, so the graph ranks it (low, with
    its signals and the cap named) but cannot make it an alert; WB logs only logons and stays
    lifted."""
    hops = analysed("WC>WE@10h:share/dee WA>WB@74h:logon/ann WA>WC@74.1h:logon/ann "
                    "WA>WD@74.2h:logon/ann WB>WE@75h:logon/cy")
    nxt = hops.loc["WB>WE/cy"]
    assert {"foreign", "switch", "chain"} <= set(nxt["auth_signals"])
    assert nxt["auth_signals"][-1] == "dst_logged"
    assert nxt["auth"] <= CFG.auth_logged_cap and nxt["severity"] == "low"
    assert "shows no action after this logon" in nxt["reason"]
    first = hops.loc["WA>WB/ann"]
    assert "dst_logged" not in first["auth_signals"] and first["severity"] == "medium"


def test_a_credential_cached_from_an_old_session_is_foreign_and_its_onward_move_lifts_it() -> None:
    """bob sat at WA on the first day (a session of his own, then a move to WC). Three days later his
    credential leaves WA again with no session of his there, while ann sits at WA (cached, harvested
    by an intruder on ann's machine), and WC moves on with it to a host bob never reached:
    ``foreign``, ``switch`` and ``onward`` make the first hop of the chain an alert, so WA (not WC)
    is where the spread starts. Without the sessions on WA in view, the earlier move is bob's seat."""
    spec = "WA>WA@10h:session/bob WA>WC@11h:logon/bob WA>WC@74h:logon/bob WC>WE@80h:logon/bob"
    hops = analysed(f"{spec} WA>WA@73h:session/ann")
    stale = hops[(hops.index == "WA>WC/bob")].sort_values("first_seen").iloc[-1]
    assert {"foreign", "switch", "onward"} <= set(stale["auth_signals"])
    assert "new_pair" not in stale["auth_signals"] and stale["severity"] == "medium"
    blind = analysed(spec.replace("session", "logon").replace("WA>WA", "WB>WA"))
    again = blind[(blind.index == "WA>WC/bob")].sort_values("first_seen").iloc[-1]
    assert "foreign" not in again["auth_signals"]
    nxt = hops.loc["WC>WE/bob"]
    assert {"new_pair", "new_access", "chain"} <= set(nxt["auth_signals"])


def test_first_contacts_that_are_the_seats_routine_are_no_signal() -> None:
    """A helpdesk account makes first contacts from its seat every day: on the fourth day three in an
    hour are its routine (no first-seen or burst signal); the same three from a seat and account
    without that routine are a burst of first contacts."""
    routine = " ".join(f"W{k}>FS@{d * 24 + 9}h:logon/u{k}" for d in range(4) for k in range(1, 9))
    helpdesk = ("WH>W1@10h:logon/hd WH>W2@14h:logon/hd WH>W3@34h:logon/hd WH>W4@38h:logon/hd "
                "WH>FS@58h:logon/hd")
    today = "WH>W5@82h:logon/hd WH>W6@82.3h:logon/hd WH>W7@82.6h:logon/hd"
    spec = f"{routine} {helpdesk} {today}"
    hops = hop_stage(pandas_event_stage(toy_events(spec), CFG).hops, CFG).hops
    day4 = hops[(hops["account"] == "hd") & hops["dst_host"].isin(["W5", "W6", "W7"])]
    assert len(day4) == 3
    for sig in day4["auth_signals"]:
        assert not {"new_pair", "new_access", "burst"} & set(sig)
    assert day4["severity"].isin(["info", "low"]).all()
    other_spec = f"{routine} {today.replace('/hd', '/u8').replace('WH', 'W8')}"
    other = hop_stage(pandas_event_stage(toy_events(other_spec), CFG).hops, CFG).hops
    new = other[(other["account"] == "u8") & other["dst_host"].isin(["W5", "W6", "W7"])]
    assert new["auth_signals"].map(lambda t: {"new_pair", "new_access", "burst"} <= set(t)).all()


def _ntlm_at_dc(client: str, account: str, hours: float, status: str = "0x0") -> pd.DataFrame:
    """A DC's 4776: ``account``'s NTLM credential validated for a logon from ``client`` (no server)."""
    return to_frame([Event(T0 + pd.Timedelta(hours=hours), 4776, "Security", "DC1", src_host=client,
                           account=account, auth_package="NTLM", status=status, source_file="toy",
                           source_format="toy", record_id=int(hours * 100))])


def test_an_ntlm_use_seen_only_at_the_dc_continues_a_first_contact() -> None:
    """ann reaches WB for the first time; an hour later the DC validates her NTLM credential for a
    logon *from* WB to a server it does not name (4776). No hop can be placed, but her credential
    moved on from the host she just reached: ``onward`` lifts the first contact to medium. A failed
    validation (wrong password) is no such move."""
    base = toy_events(f"{ROUTINE} WA>WB@74h:logon/ann WB>WB@66h:session/bob")
    for status, lifted in (("0x0", True), ("0xc000006a", False)):
        events = pd.concat([base, _ntlm_at_dc("WB", "ann", 75, status)], ignore_index=True)
        p = presence(events)
        assert (p["kind"] == SESSION).sum() == 1 and (p["kind"] == NTLM_OUT).sum() == int(lifted)
        hops = hop_stage(pandas_event_stage(events, CFG).hops, CFG).hops
        h = hops[(hops["src_host"] == "WA") & (hops["dst_host"] == "WB")].iloc[0]
        assert ("onward" in h["auth_signals"]) is lifted
        assert h["severity"] == ("medium" if lifted else "low")
    assert not ((hops["dst_host"] == "DC1") | (hops["src_host"] == "DC1")).any()    # still no hop


ROUTINE4 = " ".join(f"W{k}>FS@{d * 24 + 9}h:logon/u{k}" for d in range(4) for k in range(1, 9))
HELPDESK = ("WH>W1@10h:logon/hd WH>W2@14h:logon/hd WH>W3@34h:logon/hd WH>W4@38h:logon/hd "
            "WH>FS@58h:logon/hd")


def test_a_routine_first_contact_whose_credential_moves_on_is_not_routine() -> None:
    """The helpdesk's first contacts from its seat are its routine (no signal), but when its
    credential then leaves the workstation it reached (which it never worked from) for a first contact
    of its own, the seat -> workstation logon opened a login path: it keeps its first-seen signals,
    gets ``onward``, is medium, and the seat is patient zero."""
    quiet = hop_stage(pandas_event_stage(toy_events(f"{ROUTINE4} {HELPDESK} WH>W5@82h:logon/hd"), CFG).hops,
                      CFG)
    h = quiet.hops[(quiet.hops["src_host"] == "WH") & (quiet.hops["dst_host"] == "W5")].iloc[0]
    assert not {"new_pair", "new_access", "onward"} & set(h["auth_signals"])
    out = hop_stage(pandas_event_stage(toy_events(
        f"{ROUTINE4} {HELPDESK} WH>W5@82h:logon/hd W5>W8@90h:logon/hd"), CFG).hops, CFG)
    hops = out.hops
    h = hops[(hops["src_host"] == "WH") & (hops["dst_host"] == "W5")].iloc[0]
    assert {"new_pair", "new_access", "onward"} <= set(h["auth_signals"]) and h["severity"] == "medium"
    assert "onward" in h["reason"]
    nxt = hops[(hops["src_host"] == "W5") & (hops["dst_host"] == "W8")].iloc[0]
    assert "chain" in nxt["auth_signals"] and nxt["severity"] == "medium"
    assert out.patient_zero[0].host == "WH"


def test_a_new_accounts_first_contacts_are_no_burst() -> None:
    """A new user's first morning: every host it reaches is new to it, three in an hour from a hot
    desk are no burst (no history of its own to compare with); the same three by an account with
    days of history are."""
    today = "W8>W5@82h:logon/{a} W8>W6@82.3h:logon/{a} W8>W7@82.6h:logon/{a}"
    for acct, burst in (("newbie", False), ("u8", True)):
        hops = hop_stage(pandas_event_stage(toy_events(f"{ROUTINE4} {today.format(a=acct)}"), CFG).hops,
                         CFG).hops
        mine = hops[(hops["account"] == acct) & hops["dst_host"].isin(["W5", "W6", "W7"])]
        assert len(mine) == 3
        flagged = mine["auth_signals"].map(lambda t: "burst" in t)
        assert (flagged.all() if burst else not flagged.any())
        assert bool((mine["score"] >= CFG.severity_medium).all()) == burst
