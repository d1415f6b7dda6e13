"""``python -m bench.cache_flood``: the server's memory after distinct ~1 MiB queries.

Starts the real server (embedded store, fresh temporary ``DATA_DIR``, a free
port on 127.0.0.1) and sends ``--queries`` distinct queries over ``--connections``
keep-alive connections, each body just under ``--size`` (default: the 1 MiB body
limit) yet only a few tokens long. Queries over 64 Ki characters are refused before
parsing; smaller ones parse and are answered:

* ``blank``: ``{ __typename }``, a comment with one emoji, ~1 MiB of blanks; the
  emoji makes the decoded text four bytes a character, a 4 MiB str;
* ``string``: ``{ __type(name: "...") { name } }`` with a ~1 MiB string literal,
  kept twice (the text and the literal's value).

It prints the server's ``VmRSS`` / ``VmHWM`` as it goes and at the end; the
caches must not hold these documents (schema.caches), so RSS stays flat.

    python -m bench.cache_flood                       # 3,000 blank queries, 4 connections
    python -m bench.cache_flood --queries 300 --kind string
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from app.graphql_request import MAX_QUERY_CHARS
from bench.server import ServerProcess, api_env

MIB = 1024 * 1024


def query(kind: str, i: int, size: int = MIB) -> str:
    room = size - 200  # the JSON around it, and the emoji's escape
    if kind == "blank":
        return f"{{ __typename }} # {i} \U0001f600" + " " * room
    return f'{{ __type(name: "{i} ' + "x" * room + '") { name } }'


def expected_answer(kind: str, size: int) -> dict[str, Any]:
    """What the server answers: the data, or, past the query size limit, the refusal."""
    if size > MAX_QUERY_CHARS:
        message = f"query must be at most {MAX_QUERY_CHARS:,} characters"
        return {"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]}
    return {"data": {"__typename": "Query"}} if kind == "blank" else {"data": {"__type": None}}


async def flood(
    server: ServerProcess, kind: str, queries: int, connections: int, size: int = MIB
) -> int:
    """Send the queries; the number of answers that were not the expected ones."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    expected = expected_answer(kind, size)
    bad = done = 0
    step = max(1, queries // 10)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60, limits=limits) as client:
        gate = asyncio.Semaphore(connections)

        async def one(i: int) -> None:
            nonlocal bad, done
            async with gate:
                response = await client.post("/graphql", json={"query": query(kind, i, size)})
            bad += response.json() != expected
            done += 1
            if done % step == 0:
                memory = server.memory()
                print(f"  {done:6} queries  VmRSS {memory['VmRSS'] / 1024:7.1f} MiB", flush=True)

        await asyncio.gather(*(one(i) for i in range(queries)))
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=3000, help="distinct queries (3000)")
    parser.add_argument("--connections", type=int, default=4, help="keep-alive connections (4)")
    parser.add_argument("--kind", choices=("blank", "string"), default="blank")
    parser.add_argument(
        "--size", type=int, default=MIB, help="query size in bytes (1 MiB: refused unparsed)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cache-flood-") as scratch:
        env = api_env(Path(scratch) / "data", secrets.token_hex(32))
        log = Path(scratch) / "server.log"
        with ServerProcess("api", ["main.py"], env, log) as server:
            before = server.memory()
            print(f"start: VmRSS {before['VmRSS'] / 1024:.1f} MiB", flush=True)
            started, cpu = time.monotonic(), server.cpu()
            bad = asyncio.run(flood(server, args.kind, args.queries, args.connections, args.size))
            after = server.memory()
            print(
                f"after {args.queries} distinct {args.size:,}-byte {args.kind} queries "
                f"({time.monotonic() - started:.0f} s, server CPU {server.cpu() - cpu:.0f} s, "
                f"{bad} bad answers): VmRSS {after['VmRSS'] / 1024:.1f} MiB, "
                f"VmHWM {after['VmHWM'] / 1024:.1f} MiB"
            )


if __name__ == "__main__":
    main()
