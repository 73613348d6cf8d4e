"""The EVTX fast decoder (msgspec structs) gives what the generic decoder + flatten give, on every shape."""

from __future__ import annotations

import orjson
import pytest
from evtx import PyEvtxParser

from ingest.formats.evtx_file import _FIELDS, EvtxRecord, decode_records, flatten
from ingest.report import FileReport
from tests.conftest import datasets_or_skip

SYSTEM = ('"System":{"Provider":{"#attributes":{"Name":"X"}},"EventID":%s,"TimeCreated":'
          '{"#attributes":{"SystemTime":"2024-03-01T09:00:00.5Z"}},"EventRecordID":7,'
          '"Channel":"Security","Computer":"srv01.corp","Security":null}')
SHAPES = {
    "plain": '{"Event":{%s,"EventData":{"TargetUserName":"bob","LogonType":3,"Other":[1,2]}}}'
             % (SYSTEM % "4624"),
    "qualified id": '{"Event":{%s,"EventData":{"ServiceName":"PSEXESVC"}}}'
                    % (SYSTEM % '{"#attributes":{"Qualifiers":16384},"#text":7045}'),
    "user data": '{"Event":{%s,"UserData":{"LogFileCleared":{"SubjectUserName":{"#text":"eve"}}}}}'
                 % (SYSTEM % "1102"),
    "no event data": '{"Event":{%s}}' % (SYSTEM % "4634"),
    "null event data": '{"Event":{%s,"EventData":null}}' % (SYSTEM % "4634"),
    "unnamed data": '{"Event":{%s,"EventData":["a","b"]}}' % (SYSTEM % "4624"),
    "text time": '{"Event":{"System":{"EventID":4624,"TimeCreated":"2024","Computer":"A"},'
                 '"EventData":{"IpAddress":"10.0.0.1"}}}',
    "no record id": '{"Event":{"System":{"EventID":4624,"Computer":"A"},"EventData":{}}}',
    "null system": '{"Event":{"System":null,"EventData":{"IpAddress":"::1"}}}',
    "no wrapper": '{"System":{"EventID":4624,"Computer":"A"},"EventData":{"IpAddress":"1.2.3.4"}}',
}


def _expected(data: str, rid: int) -> dict[str, object]:
    flat = flatten(orjson.loads(data), rid)
    return {k: flat.get(k) for k in _FIELDS}


def _as_dict(rec: object) -> dict[str, object]:
    assert isinstance(rec, EvtxRecord)
    return {k: getattr(rec, k) for k in _FIELDS}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_each_shape_decodes_like_flatten_alone_and_in_a_batch(shape: str) -> None:
    data = SHAPES[shape]
    report = FileReport("f")
    alone = decode_records([data], [99], "f", report)
    batch = decode_records(list(SHAPES.values()), list(range(len(SHAPES))), "f", report)
    assert [_as_dict(r) for r in alone] == [_expected(data, 99)]
    assert [_as_dict(r) for r in batch] == [_expected(d, i) for i, d in enumerate(SHAPES.values())]
    assert not report.skipped


def test_broken_json_is_counted_with_file_and_record_and_the_rest_decodes() -> None:
    report = FileReport("f")
    datas = [SHAPES["plain"], '{"Event":{"System":', SHAPES["qualified id"]]
    recs = decode_records(datas, [1, 2, 3], "f.evtx", report)
    assert [r.EventID for r in recs] == [4624, 7045]
    assert report.skipped["malformed record"] == 1
    assert report.problems[0].startswith("f.evtx, record 2:")


def test_real_records_decode_like_flatten() -> None:
    root = datasets_or_skip()
    for name in ("omerbenamram-evtx-samples/security.evtx", "omerbenamram-evtx-samples/system.evtx",
                 "evtx-attack-samples/LM_wmiexec_impacket_sysmon_whoami.evtx"):
        recs = list(PyEvtxParser(str(root / name), number_of_threads=1).records_json())
        datas, rids = [r["data"] for r in recs], [r["event_record_id"] for r in recs]
        report = FileReport(name)
        got = decode_records(datas, rids, name, report)
        assert [_as_dict(r) for r in got] == [_expected(d, i) for d, i in zip(datas, rids, strict=True)]
        assert not report.skipped


def test_system_fields_win_over_event_data_fields_of_the_same_name() -> None:
    data = ('{"Event":{"System":{"EventID":4624,"Computer":"A","Channel":"Security"},'
            '"EventData":{"TimeCreated":"2020-01-01T00:00:00Z","Computer":"B","EventRecordID":5}}}')
    (rec,) = decode_records([data], [77], "f", FileReport("f"))
    assert _as_dict(rec) == _expected(data, 77)
    assert (rec.TimeCreated, rec.Computer, rec.EventRecordID) == (None, "A", 77)
