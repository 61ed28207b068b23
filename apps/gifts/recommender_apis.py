from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.authentication import request_user
from apps.core.serializers import IdField, StrictInputSerializer
from apps.gifts.apis import GiftSerializer
from apps.gifts.recommender import gift_recommendations
from apps.live.selectors import stream_get


class GiftRecommendationsApi(APIView):
    """The five gifts this viewer is most likely to send in this stream, best first."""

    class FilterSerializer(StrictInputSerializer):
        stream = IdField()

    class OutputSerializer(serializers.Serializer):
        stream = serializers.IntegerField()
        # DRF's metaclass moves declared fields off the class, so this does not replace Field.source.
        source = serializers.ChoiceField(  # type: ignore[assignment]
            choices=["model", "popularity"], help_text="popularity for new senders"
        )
        model_version = serializers.CharField(help_text="Empty while no model has been trained.")
        gifts = GiftSerializer(many=True, help_text="Catalogue entries, as GET /api/v1/gifts/ gives them.")

    @extend_schema(
        parameters=[FilterSerializer], responses={200: OutputSerializer}, operation_id="gift_recommendations"
    )
    def get(self, request: Request) -> Response:
        params = self.FilterSerializer(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        stream = stream_get(stream_id=params.validated_data["stream"])
        result = gift_recommendations(user_id=request_user(request).pk, stream=stream)
        body = {
            "stream": stream.pk,
            "source": result.source,
            "model_version": result.model_version,
            "gifts": [gift.as_dict() for gift in result.gifts],
        }
        return Response(self.OutputSerializer(body).data)
