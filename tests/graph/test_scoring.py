"""Scorers: rarity, fan-out windows, habit, caps and allowlists."""

from __future__ import annotations

import pandas as pd

from graph.config import AnalysisConfig
from graph.engine import hop_stage, pandas_event_stage
from graph.scoring import SCORERS, fanout
from graph.toy import toy_events

CFG = AnalysisConfig()


def scored(spec: str, cfg: AnalysisConfig = CFG) -> pd.DataFrame:
    return hop_stage(pandas_event_stage(toy_events(spec), cfg).hops, cfg).hops


def test_registry_scorers_are_documented() -> None:
    for name, (fn, desc) in SCORERS.items():
        assert desc and fn.__doc__ and "0" in fn.__doc__ and "1" in fn.__doc__, name


def test_fanout_counts_distinct_destinations_in_window() -> None:
    spec = " ".join(f"A>H{i}@{i * 5}s:logon" for i in range(35))
    h = scored(spec)
    assert h["fanout_src"].max() == 35
    assert h["fanout"].max() == 1.0   # >= 30 hosts in 5 minutes (Splunk ESCU)


def test_fanout_window_count_is_linear_and_exact() -> None:
    ts = pd.Series(pd.to_datetime(["2024-01-01 00:00:00", "2024-01-01 00:04:59", "2024-01-01 00:05:01",
                                   "2024-01-01 00:05:02"], utc=True))
    got = fanout.window_counts(pd.Series(list("AAAA")), pd.Series(list("BCBD")), ts, 300)
    assert got.tolist() == [1, 2, 2, 3]


def test_rarity_lowers_pairs_seen_every_day() -> None:
    h = scored(" ".join(f"A>B@{d}d:write" for d in range(4)) + " A>C@3d:write")
    assert h.loc[h.dst_host == "B", "rarity"].round(2).unique().tolist() == [0.25]
    assert h.loc[h.dst_host == "C", "rarity"].item() == 1.0


def test_habit_discounts_routine_but_not_novel_tool_or_hour() -> None:
    routine = " ".join(f"S>X@{d}d:psexec/svc" for d in range(4))
    h = scored(routine + " S>X@4d:smbexec/svc S>X@108h:psexec/svc")
    psexec = h[h.services.map(lambda s: s == ("psexesvc",))]
    assert (psexec.habit.iloc[:4] == 1.0).all() and (psexec.severity.iloc[:4] == "low").all()
    assert h.loc[h.services.map(lambda s: s == ("btobto",)), "habit"].item() == 0.0   # novel tool
    assert psexec.habit.iloc[4] == 0.0                                                 # 12 h off-hours


def test_habit_maintenance_routine_covers_a_new_server_from_a_clean_seat() -> None:
    # an IT admin's daily PsExec from their own seat, back to X on several days, then a first
    # contact with Y at the usual hour: routine administration, not an alert
    routine = " ".join(f"S>X@{d}d:psexec/adm" for d in range(4))
    h = scored(routine + " S>Y@97h:psexec/adm")
    y = h[h.dst_host == "Y"]
    assert y.habit.item() == 1.0 and y.severity.item() == "low"


def test_habit_spree_from_one_foothold_keeps_novel_destinations_visible() -> None:
    # first contacts only, on two days: no revisit, so nothing to call maintenance
    h = scored("S>X@0d:psexec/adm S>Y@1d:psexec/adm")
    assert h.habit.tolist() == [0.5, 0.5] and set(h.severity) == {"medium"}


def test_habit_is_void_once_the_seat_was_reached_by_a_suspicious_hop() -> None:
    # the same routine, but an attacker reached S (smbexec) an hour before S's next PsExec:
    # the admin's source, account, tool and hour all match; the way in gives it away
    routine = " ".join(f"S>X@{d}d:psexec/adm" for d in range(4))
    h = scored(routine + " A>S@96h:smbexec/administrator S>Y@97h:psexec/adm S>X@98h:psexec/adm")
    after = h[(h.src_host == "S") & (h.first_seen > pd.Timestamp("2024-03-05 09:00", tz="UTC"))]
    assert len(after) == 2 and (after.habit == 0.0).all()
    # Y is outside the routine's pool: full score; X continues the routine: one routine group
    assert after.loc[after.dst_host == "Y", "severity"].item() == "high"
    x = after[after.dst_host == "X"]
    assert x.routine_group.item() == "routine-1" and x.severity.item() == "low"
    before = h[(h.src_host == "S") & (h.first_seen < pd.Timestamp("2024-03-05 09:00", tz="UTC"))]
    assert (before.habit == 1.0).all() and set(before.severity) == {"low"}


def test_caps_target_only_and_local_only() -> None:
    assert scored("?>D@0s:svc").score.item() == CFG.target_only_cap


def test_allowlist_caps_to_info() -> None:
    cfg = AnalysisConfig(allowlist_accounts=frozenset({"admin"}))
    assert scored("A>B@0s", cfg).severity.tolist() == ["info"]


def test_non_lateral_hops_never_high() -> None:
    h = scored("A>B@0s:logon A>C@0s:discovery F>G@0s:logon")
    assert h.score.max() <= 0.55


def _tool_hops(spec: str, services: list[tuple[str, ...]], images: list[tuple[str, ...]]) -> pd.DataFrame:
    from graph.toy import toy_hops

    h = toy_hops(spec)
    h["lateral"], h["services"], h["images"] = True, services, images
    return h


def test_an_attack_tools_random_names_never_form_a_habit_by_their_shape() -> None:
    # an intruder's Impacket psexec from its foothold on four days, same account and hours: each use
    # draws a new 4-letter service and 8-letter exe in ADMIN$; the payload shape rule fires, so the
    # names are kept as they are and no routine forms (the same names without the rule would)
    from graph.scoring import habit

    svc = [("Abcd",), ("Qwer",), ("Zxcv",), ("Poiu",)]
    img = [("kqzwxtbm.exe",), ("plmnbvcx.exe",), ("asdfghjk.exe",), ("qwertyui.exe",)]
    spec = "S>X@0d S>X@1d S>X@2d S>X@3d"
    plain = _tool_hops(spec, svc, img)
    plain["rules"] = [("lg.service.install",)] * 4
    assert habit.score(plain, CFG).tolist() == [1.0, 1.0, 1.0, 1.0]
    shaped = plain.assign(rules=[("lg.service.install", "lg.service.random_systemroot_exe")] * 4)
    assert habit.score(shaped, CFG).tolist() == [0.0, 0.0, 0.0, 0.0]


def test_habit_sees_an_admin_tool_with_random_names_per_use_as_one_tool() -> None:
    # an IT admin's daily `sc \\X create <random> binPath= C:\Windows\Temp\<random>.exe` and PAExec
    # (PAExec-<pid>-<seat>): every use draws new names, the routine is the same tool
    from graph.scoring import habit

    sc = [("Qzkwpfmt",), ("Hbnrtxle",), ("Vdkqpmsa",), ("Lmxwzrto",)]
    img = [("ktwzqp.exe",), ("bnvxqr.exe",), ("plmqzx.exe",), ("wqzrtk.exe",)]
    spec = "S>X@0d S>X@1d S>X@2d S>Y@3d"
    assert habit.score(_tool_hops(spec, sc, img), CFG).tolist() == [1.0, 1.0, 1.0, 1.0]
    pa = [(f"paexec-{pid}-s",) for pid in (4711, 815, 2323, 9999)]
    assert habit.score(_tool_hops(spec, pa, [()] * 4), CFG).tolist() == [1.0, 1.0, 1.0, 1.0]
    # another seat with the same tool: no routine of its own; the seat's routine, but another
    # tool's random names (Impacket psexec: 4-letter service, 8-letter exe) on the last day: novel
    other = "S>X@0d S>X@1d S>X@2d T>Y@3d"
    assert habit.score(_tool_hops(other, sc, img), CFG).tolist() == [1.0, 1.0, 1.0, 0.0]
    assert habit.score(_tool_hops(spec, [*sc[:3], ("Abcd",)], [*img[:3], ("kqzwxtbm.exe",)]),
                       CFG).tolist() == [1.0, 1.0, 1.0, 0.0]
    # a fixed name used on several days stays itself: PSEXESVC is not the random tool's class
    fixed = [("psexesvc",)] * 3 + [("Pqzwxtmb",)]
    assert habit.score(_tool_hops(spec, fixed, [()] * 4), CFG).tolist() == [1.0, 1.0, 1.0, 0.0]
