from django.utils.translation import gettext
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.authentication import request_user
from apps.core.idempotency import idempotent
from apps.core.pagination import FeedCursorPagination
from apps.core.serializers import StrictInputSerializer
from apps.games import selectors, services
from apps.games.exceptions import RoundNotFound
from apps.games.fairness import WEIGHT_TOTAL
from apps.games.models import FairSeed, Game, client_seed_validator
from apps.games.registry import game_type_get


class PrizeSlotSerializer(serializers.Serializer):
    # DRF's metaclass moves declared fields off the class, so this does not replace Field.label.
    label = serializers.CharField()  # type: ignore[assignment]
    face = serializers.CharField(allow_blank=True)
    multiplier = serializers.CharField(help_text="Pays bet x multiplier, rounded down.")
    weight = serializers.IntegerField(help_text=f"Probability in parts per million (of {WEIGHT_TOTAL:,}).")


class PrizeTableSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    rtp = serializers.DecimalField(max_digits=12, decimal_places=8)
    digest = serializers.CharField()
    total_weight = serializers.SerializerMethodField()
    slots = PrizeSlotSerializer(many=True)

    def get_total_weight(self, obj) -> int:
        return WEIGHT_TOTAL


class GameSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    description = serializers.SerializerMethodField()
    choices = serializers.SerializerMethodField()
    min_bet = serializers.IntegerField()
    max_bet = serializers.IntegerField()
    table = PrizeTableSerializer(source="current_table")

    def get_description(self, obj: Game) -> str:
        game_type = game_type_get(obj.slug)
        return game_type.description if game_type else ""

    def get_choices(self, obj: Game) -> list[str]:
        game_type = game_type_get(obj.slug)
        return list(game_type.choices) if game_type else []


class RoundSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    game = serializers.CharField(source="game.slug")
    choice = serializers.CharField()
    bet = serializers.IntegerField()
    roll = serializers.IntegerField()
    slot_index = serializers.IntegerField()
    label = serializers.CharField()  # type: ignore[assignment]  # a declared field, as in PrizeSlotSerializer
    face = serializers.CharField()
    multiplier = serializers.DecimalField(max_digits=7, decimal_places=2)
    payout = serializers.IntegerField()
    server_seed_hash = serializers.CharField(source="seed.server_seed_hash")
    client_seed = serializers.CharField()
    nonce = serializers.IntegerField()
    seed_revealed = serializers.BooleanField(source="seed.is_revealed")
    created_at = serializers.DateTimeField()


class GameListApi(APIView):
    """The games one can play: a whole catalogue (small and fixed), answered as one array, not paginated."""

    @extend_schema(responses={200: GameSerializer(many=True)}, operation_id="games_list")
    def get(self, request: Request) -> Response:
        return Response(GameSerializer(selectors.game_list_playable(), many=True).data)


class GamePlayApi(APIView):
    class InputSerializer(StrictInputSerializer):
        bet = serializers.IntegerField(min_value=1, max_value=10**12, help_text="Coins staked.")
        choice = serializers.CharField(required=False, allow_blank=True, max_length=20, default="")

    @extend_schema(request=InputSerializer, responses={201: RoundSerializer}, operation_id="games_play")
    @idempotent(required=True)
    def post(self, request: Request, game: str) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        game_round = services.game_play(user=request_user(request), game_slug=game, **data.validated_data)
        return Response(RoundSerializer(game_round).data, status=status.HTTP_201_CREATED)


class RoundListApi(APIView):
    pagination_class = FeedCursorPagination

    @extend_schema(responses={200: RoundSerializer(many=True)}, operation_id="games_rounds")
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.round_list(user_id=request_user(request).pk), request, view=self)
        return paginator.get_paginated_response(RoundSerializer(page, many=True).data)


class RoundVerificationSerializer(serializers.Serializer):
    hash_matches = serializers.BooleanField()
    outcome_matches = serializers.BooleanField()
    verified = serializers.BooleanField()
    computed = serializers.DictField()


class RoundVerifyApi(APIView):
    """Anyone may verify a round: the body names no user, and the server seed shows only once revealed."""

    permission_classes = [AllowAny]

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        game = serializers.CharField(source="game.slug")
        choice = serializers.CharField()
        bet = serializers.IntegerField()
        roll = serializers.IntegerField()
        slot_index = serializers.IntegerField()
        multiplier = serializers.DecimalField(max_digits=7, decimal_places=2)
        payout = serializers.IntegerField()
        server_seed_hash = serializers.CharField(source="seed.server_seed_hash")
        server_seed = serializers.SerializerMethodField()
        client_seed = serializers.CharField()
        nonce = serializers.IntegerField()
        table = PrizeTableSerializer()
        created_at = serializers.DateTimeField()

        def get_server_seed(self, obj) -> str | None:
            return obj.seed.server_seed if obj.seed.is_revealed else None

    class ResponseSerializer(OutputSerializer):
        """The round and, once its server seed is revealed, the check of it (else null and a message)."""

        verification = RoundVerificationSerializer(allow_null=True)
        message = serializers.CharField(required=False, help_text="Why there is no verification yet.")

    @extend_schema(responses={200: ResponseSerializer}, operation_id="games_round_verify")
    def get(self, request: Request, round_id: int) -> Response:
        game_round = selectors.round_get_for_verify(round_id=round_id)
        if game_round is None:
            raise RoundNotFound()
        verification = selectors.round_verification(game_round=game_round)
        body = self.OutputSerializer(game_round).data
        if verification is None:
            body["verification"] = None
            body["message"] = gettext("The server seed is still secret: its owner reveals it by rotating their seed.")
        else:
            body["verification"] = RoundVerificationSerializer(verification).data
        return Response(body)


class FairSeedSerializer(serializers.Serializer):
    server_seed_hash = serializers.CharField()
    client_seed = serializers.CharField()
    next_nonce = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class RevealedSeedSerializer(FairSeedSerializer):
    server_seed = serializers.CharField()
    revealed_at = serializers.DateTimeField()


class FairSeedApi(APIView):
    class OutputSerializer(serializers.Serializer):
        active = FairSeedSerializer()
        previous = RevealedSeedSerializer(allow_null=True)

    @extend_schema(responses={200: OutputSerializer}, operation_id="games_seed")
    def get(self, request: Request) -> Response:
        user = request_user(request)
        active: FairSeed = services.fair_seed_active(user_id=user.pk)
        previous = selectors.fair_seed_last_revealed(user_id=user.pk)
        return Response(self.OutputSerializer({"active": active, "previous": previous}).data)


class FairSeedRotateApi(APIView):
    class InputSerializer(StrictInputSerializer):
        client_seed = serializers.CharField(required=False, validators=[client_seed_validator], max_length=64)

    class OutputSerializer(serializers.Serializer):
        active = FairSeedSerializer()
        revealed = RevealedSeedSerializer()

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer}, operation_id="games_seed_rotate")
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        revealed, active = services.fair_seed_rotate(user=request_user(request), **data.validated_data)
        return Response(self.OutputSerializer({"active": active, "revealed": revealed}).data)
