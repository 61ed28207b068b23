from channels.generic.websocket import AsyncJsonWebsocketConsumer


class HealthConsumer(AsyncJsonWebsocketConsumer):
    """Accepts and answers a ping: lets probes and tests check the WebSocket path end to end."""

    async def connect(self) -> None:
        # A browser that offered ["jwt", token] fails the handshake unless one subprotocol is picked.
        await self.accept(subprotocol=self.scope.get("auth_subprotocol"))
        await self.send_json({"type": "hello", "payload": {"authenticated": self.scope["user"].is_authenticated}})

    async def receive_json(self, content, **kwargs) -> None:
        await self.send_json({"type": "pong", "payload": {}})
