"""The ceiling of a room join: a bare ASGI WebSocket app under the same server (daphne) that accepts
every handshake and sends one small text frame shaped like a welcome, then echoes what it gets. No
Django, no Redis, no database: what one daphne process can accept per second on this machine.

    daphne -b 127.0.0.1 -p 8765 ws_accept:application   (from this directory; bench_joins.py runs it)
"""

WELCOME = '{"type": "room.welcome", "payload": {}}'


async def application(scope, receive, send):
    if scope["type"] == "http":  # a readiness probe
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    if scope["type"] != "websocket":
        return
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            subprotocols = scope.get("subprotocols") or []
            await send({"type": "websocket.accept", "subprotocol": subprotocols[0] if subprotocols else None})
            await send({"type": "websocket.send", "text": WELCOME})
        elif message["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": message.get("text") or ""})
        elif message["type"] == "websocket.disconnect":
            return
