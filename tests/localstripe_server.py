"""localstripe, a stateful fake Stripe, with Stripe's idempotency: `python tests/localstripe_server.py HOST PORT`.

Stripe answers a POST sent again with the same `Idempotency-Key` (and the same API key) with the
answer it gave the first time, creating nothing more; localstripe ignores the header and creates a
second object. The portal relies on the real behaviour (a payment start retried after a lost
answer must not make a second PaymentIntent), so this wraps localstripe's app with a middleware
that keeps the first answer per key and replays it. Everything else is localstripe as published;
it starts from an empty store.
"""

import asyncio
import sys

from aiohttp import web
from localstripe import server

answers = {}
locks = {}


@web.middleware
async def idempotency(request, handler):
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not key:
        return await handler(request)
    ident = (request.headers.get("Authorization", ""), request.path, key)
    async with locks.setdefault(ident, asyncio.Lock()):
        if ident not in answers:
            response = await handler(request)
            answers[ident] = (response.status, response.body, response.content_type)
        status, body, content_type = answers[ident]
        return web.Response(status=status, body=body, content_type=content_type)


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    server.app.middlewares.insert(0, idempotency)
    web.run_app(server.app, host=host, port=port, print=None)


if __name__ == "__main__":
    main()
