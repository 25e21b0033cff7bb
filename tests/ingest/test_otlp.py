"""OTLP decoding: protobuf and JSON agree, and every bad payload is a located DecodeError."""

from __future__ import annotations

import base64
import gzip
import json
import zlib

import pytest
from google.protobuf.json_format import MessageToDict, MessageToJson
from tests.ingest.conftest import SPAN_ID, TRACE_ID, make_request, make_span

from tracejudge.errors import ConfigurationError, DecodeError
from tracejudge.ingest.otlp import (
    DecodeLimits,
    decode_json,
    decode_protobuf,
    decode_request,
    decompress,
)

ATTRS = {
    "s": "text",
    "empty": "",
    "i": -(2**63),
    "f": 1.5,
    "b": False,
    "raw": b"\x00\xffbytes",
    "arr": ["a", 1, [True]],
    "kv": {"inner": {"deep": 2}},
    "long": "x" * 200_000,  # long values are kept, not rejected
}


def _request():
    child = make_span({"n": 1}, span_id=bytes.fromhex("00f067aa0ba902b7"), parent=SPAN_ID)
    child.links.add(trace_id=TRACE_ID, span_id=SPAN_ID, attributes=[])
    return make_request(
        [make_span(ATTRS, events=[("evt", 5, {"k": "v"})])], [child], resource={"service.name": "s"}
    )


def _hex_json(request) -> dict:
    doc = MessageToDict(request, use_integers_for_enums=True)
    for rs in doc["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for sp in ss["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in sp:
                        sp[key] = base64.b64decode(sp[key]).hex()
                for link in sp.get("links", []):
                    link["traceId"] = base64.b64decode(link["traceId"]).hex()
                    link["spanId"] = base64.b64decode(link["spanId"]).hex()
    return doc


def test_protobuf_values_become_plain_json_types() -> None:
    spans = decode_protobuf(_request().SerializeToString())
    root, child = spans
    assert root.trace_id == TRACE_ID.hex() and root.span_id == SPAN_ID.hex()
    assert root.parent_span_id is None and child.parent_span_id == SPAN_ID.hex()
    assert root.attributes == {**ATTRS, "raw": base64.b64encode(b"\x00\xffbytes").decode()}
    assert root.otel_kind == "CLIENT" and root.status_code == "OK" and root.status_message is None
    assert root.events == [{"name": "evt", "time_ns": 5, "attributes": {"k": "v"}}]
    assert child.links == [{"trace_id": TRACE_ID.hex(), "span_id": SPAN_ID.hex(), "attributes": {}}]
    assert root.resource == {"service.name": "s"}
    assert root.scope == {"name": "", "version": ""}


def test_json_hex_ids_base64_ids_and_protobuf_decode_identically() -> None:
    request = _request()
    from_pb = decode_protobuf(request.SerializeToString())
    from_base64_json = decode_json(MessageToJson(request).encode())  # enum names, base64 ids
    from_hex_json = decode_json(json.dumps(_hex_json(request)).encode())  # the OTLP/JSON spec
    assert from_pb == from_base64_json == from_hex_json


def test_json_accepts_numbers_for_int64_and_snake_case_names() -> None:
    doc = {
        "resource_spans": [
            {
                "scope_spans": [
                    {
                        "spans": [
                            {
                                "trace_id": TRACE_ID.hex(),
                                "span_id": SPAN_ID.hex(),
                                "name": "n",
                                "kind": "SPAN_KIND_SERVER",
                                "start_time_unix_nano": 10,
                                "endTimeUnixNano": "20",
                                "status": {"code": 2, "message": "boom"},
                                "attributes": [
                                    {"key": "i", "value": {"intValue": 7}},
                                    {"key": "d", "value": {"doubleValue": "Infinity"}},
                                ],
                            }
                        ]
                    }
                ]
            }
        ]
    }
    (span,) = decode_json(json.dumps(doc).encode())
    assert (span.start_ns, span.end_ns, span.otel_kind) == (10, 20, "SERVER")
    assert (span.status_code, span.status_message) == ("ERROR", "boom")
    assert span.attributes == {"i": 7, "d": float("inf")}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda sp: setattr(sp, "trace_id", b"\x01" * 5),
            "resourceSpans[0].scopeSpans[1].spans[0].traceId: expected 16 bytes, got 5",
        ),
        (
            lambda sp: setattr(sp, "span_id", bytes(8)),
            "resourceSpans[0].scopeSpans[1].spans[0].spanId: all-zero id is invalid",
        ),
        (
            lambda sp: setattr(sp, "trace_id", bytes(16)),
            "resourceSpans[0].scopeSpans[1].spans[0].traceId: all-zero id is invalid",
        ),
        (
            lambda sp: setattr(sp, "parent_span_id", b"\x01\x02"),
            "resourceSpans[0].scopeSpans[1].spans[0].parentSpanId: expected 8 bytes, got 2",
        ),
        (
            lambda sp: setattr(sp, "kind", 9),
            "resourceSpans[0].scopeSpans[1].spans[0].kind: unknown value 9",
        ),
    ],
)
def test_bad_ids_name_their_location_in_both_encodings(mutate, message: str) -> None:
    request = _request()
    mutate(request.resource_spans[0].scope_spans[1].spans[0])
    with pytest.raises(DecodeError) as pb_error:
        decode_protobuf(request.SerializeToString())
    assert str(pb_error.value) == message
    with pytest.raises(DecodeError) as json_error:
        decode_json(MessageToJson(request).encode())
    assert str(json_error.value).split(":")[0] == message.split(":")[0]


@pytest.mark.parametrize(
    ("body", "location"),
    [
        (b"{not json", "body: not valid JSON"),
        (b"[]", "body: expected an object, got array"),
        (b'{"resourceSpans": {}}', "resourceSpans: expected an array, got object"),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": 5}]}]}]}',
            "resourceSpans[0].scopeSpans[0].spans[0].traceId: expected a string, got number",
        ),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "'
            + b"z" * 32
            + b'"}]}]}]}',
            "resourceSpans[0].scopeSpans[0].spans[0].traceId: invalid hex id",
        ),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "AQID"}]}]}]}',
            "resourceSpans[0].scopeSpans[0].spans[0].traceId: expected 16 bytes, got 3",
        ),
        (
            b'{"resourceSpans": [{"resource": {"attributes": [{"key": "k", "value": '
            b'{"intValue": "9223372036854775808"}}]}}]}',
            "resourceSpans[0].resource.attributes[0].value.intValue: 9223372036854775808 is "
            "out of range",
        ),
        (
            b'{"resourceSpans": [{"resource": {"attributes": [{"key": "k", "value": '
            b'{"weirdValue": 1}}]}}]}',
            "resourceSpans[0].resource.attributes[0].value: unknown value field 'weirdValue'",
        ),
    ],
)
def test_malformed_json_is_a_located_decode_error(body: bytes, location: str) -> None:
    with pytest.raises(DecodeError) as error:
        decode_json(body)
    assert str(error.value).startswith(location)


def test_deeply_nested_json_values_are_rejected() -> None:
    value: dict = {"stringValue": "leaf"}
    for _ in range(50):
        value = {"arrayValue": {"values": [value]}}
    doc = {"resourceSpans": [{"resource": {"attributes": [{"key": "k", "value": value}]}}]}
    with pytest.raises(DecodeError, match="nested deeper than 32"):
        decode_json(json.dumps(doc).encode())


def test_malformed_protobuf_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="not a valid protobuf"):
        decode_protobuf(b"\x0a\xff\xff\xff\xff\x0f garbage")
    bad_utf8 = _request()
    bad_utf8.resource_spans[0].scope_spans[0].spans[0].name = "ok"
    data = bad_utf8.SerializeToString().replace(b"*\x02ok", b"*\x02\xff\xfe")
    with pytest.raises(DecodeError, match="not a valid protobuf"):
        decode_protobuf(data)


def test_gzip_bomb_and_oversize_bodies_are_refused() -> None:
    bomb = gzip.compress(b"\x00" * (8 * 1024 * 1024))
    limits = DecodeLimits(max_decompressed_bytes=1024 * 1024)
    with pytest.raises(DecodeError, match="decompressed size exceeds the limit of 1048576"):
        decode_request(bomb, "application/x-protobuf", "gzip", limits)
    with pytest.raises(DecodeError, match="exceeds the limit of 10"):
        decode_request(b"x" * 11, "application/json", None, DecodeLimits(max_body_bytes=10))
    with pytest.raises(DecodeError, match="invalid gzip"):
        decode_request(b"not gzip", "application/x-protobuf", "gzip")
    with pytest.raises(DecodeError, match="truncated gzip"):
        decode_request(gzip.compress(b"abc" * 100)[:-12], "application/x-protobuf", "gzip")


def test_compressed_bodies_round_trip() -> None:
    data = _request().SerializeToString()
    expected = decode_protobuf(data)
    assert decode_request(gzip.compress(data), "application/x-protobuf", "gzip") == expected
    assert decode_request(zlib.compress(data), "application/x-protobuf", "deflate") == expected
    two_members = gzip.compress(data[:10]) + gzip.compress(data[10:])
    assert decompress(two_members, "gzip", max_bytes=len(data)) == data


def test_span_count_limit_and_transport_errors() -> None:
    data = _request().SerializeToString()
    with pytest.raises(DecodeError, match="2 spans exceeds the limit of 1"):
        decode_request(data, "application/x-protobuf", None, DecodeLimits(max_spans=1))
    with pytest.raises(DecodeError, match="Content-Type"):
        decode_request(data, "text/plain")
    with pytest.raises(DecodeError, match="Content-Encoding"):
        decode_request(data, "application/x-protobuf", "br")
    with pytest.raises(ConfigurationError, match="max_spans"):
        DecodeLimits(max_spans=0)


def test_empty_request_decodes_to_no_spans() -> None:
    assert decode_protobuf(b"") == []
    assert decode_json(b"{}") == []
