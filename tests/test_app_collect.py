"""POST /collect: the tracker's text/plain beacons run as one trackEvents call."""

from __future__ import annotations

import json

import httpx

from storage.embedded import EmbeddedDatabase
from tests.conftest import token


async def test_a_beacon_stores_its_events_and_links_the_token(
    client: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    beacon = {
        "events": [
            {"eventType": "page_view", "sessionId": "s1", "idempotencyKey": "k1"},
            {"eventType": "Bad Type", "sessionId": "s1"},
            {"eventType": "time_on_page", "sessionId": "s1", "metadata": {"seconds": 12}},
        ],
        "token": token(admin=False, email="ana@shop.co"),
    }
    response = await client.post(
        "/collect", content=json.dumps(beacon), headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 200
    assert response.json() == {
        "trackEvents": [
            {"index": 0, "status": "OK", "error": None},
            {
                "index": 1,
                "status": None,
                "error": {
                    "code": "BAD_USER_INPUT",
                    "field": "events[1].eventType",
                    "message": "eventType must match ^[a-z][a-z0-9_.:-]{0,63}$",
                    "retryAfter": None,
                },
            },
            {"index": 2, "status": "OK", "error": None},
        ]
    }
    stored = sorted((d["eventType"], d["userId"]) for d in database.documents())
    assert stored == [("page_view", "ana@shop.co"), ("time_on_page", "ana@shop.co")]


async def test_bad_beacons_are_refused_in_the_json_error_shape(client: httpx.AsyncClient) -> None:
    cases = [
        ("text/plain", b"not json", 400),
        ("text/plain", b'{"events": {}}', 400),
        ("text/plain", b"[]", 400),
        ("application/x-www-form-urlencoded", b"a=b", 415),
    ]
    for content_type, content, status in cases:
        response = await client.post(
            "/collect", content=content, headers={"Content-Type": content_type}
        )
        assert response.status_code == status, content
        (error,) = response.json()["errors"]
        assert error["extensions"]["code"] in {"BAD_REQUEST", "UNSUPPORTED_MEDIA_TYPE"}
    too_many = {"events": [{"eventType": "page_view"}] * 101}
    response = await client.post(
        "/collect", content=json.dumps(too_many), headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"] == {
        "code": "BAD_USER_INPUT",
        "field": "events",
    }


async def test_a_mistyped_item_is_refused_alone(
    client: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    beacon = {
        "events": [
            {"eventType": "page_view", "sessionId": "a"},
            {"eventType": "add_to_cart", "sessionId": "a", "price": "19.90"},
            {"eventType": "page_view", "sessionId": "a", "quantity": 2},
            "not an object",
            {"eventType": "page_view", "sessionId": "b"},
        ]
    }
    response = await client.post(
        "/collect", content=json.dumps(beacon), headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 200
    items = response.json()["trackEvents"]
    assert [(i["index"], i["status"]) for i in items] == [
        (0, "OK"),
        (1, None),
        (2, None),
        (3, None),
        (4, "OK"),
    ]
    assert [i["error"]["field"] for i in items[1:4]] == [
        "events[1].price",
        "events[2]",
        "events[3]",
    ]
    assert {i["error"]["code"] for i in items[1:4]} == {"BAD_USER_INPUT"}
    assert sorted(d["sessionId"] for d in database.documents()) == ["a", "b"]


async def test_a_bad_token_in_a_beacon_stores_the_events_anonymously(
    client: httpx.AsyncClient, database: EmbeddedDatabase
) -> None:
    raw = '{"events": [{"eventType": "page_view", "sessionId": "t"}], "token": "\\ud800"}'
    response = await client.post("/collect", content=raw, headers={"Content-Type": "text/plain"})
    assert response.json() == {"trackEvents": [{"index": 0, "status": "OK", "error": None}]}
    assert [d["userId"] for d in database.documents()] == [None]
