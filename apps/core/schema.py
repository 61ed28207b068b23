"""OpenAPI schema conventions: nested `InputSerializer`/`OutputSerializer` classes get unique names."""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema


class AutoSchema(SpectacularAutoSchema):
    def get_serializer_name(self, serializer, direction: str) -> str:
        cls = serializer.__class__
        # "GiftSendApi.InputSerializer" becomes "GiftSendApiInput": unique per API.
        if "." in cls.__qualname__ and "<locals>" not in cls.__qualname__:
            name = cls.__qualname__.replace(".", "")
            return name.removesuffix("Serializer")
        return super().get_serializer_name(serializer, direction)
