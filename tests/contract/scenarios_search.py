"""Search: users, live streams and reels, in Devanagari and romanised Nepali."""

from tests.accounts.factories import UserFactory
from tests.contract.runner import Contract
from tests.contract.scenarios import drives
from tests.live.factories import LiveStreamFactory
from tests.reels.factories import ReelFactory


@drives("search_users", "search_streams", "search_reels", "search_top")
def search(contract: Contract) -> None:
    viewer = UserFactory()
    host = UserFactory(display_name="नमस्ते साथी")
    LiveStreamFactory(host=host, title="नमस्ते from Pokhara")
    ReelFactory(caption="#namaste #nepal")
    client = contract.as_user(viewer)

    found = contract.call("search_users", client, status=200, q="namaste")
    assert [row.id for row in found.results] == [host.pk]
    assert contract.call("search_streams", client, status=200, q="namaste").results
    assert contract.call("search_reels", client, status=200, q="नमस्ते", page_size=5).results
    top = contract.call("search_top", client, status=200, q="namaste")
    assert top.users and top.streams and top.reels

    for operation in ("search_users", "search_streams", "search_reels", "search_top"):
        contract.call(operation, client, status=400, code="invalid", q="a")
    contract.call("search_users", client, status=404, code="not_found", q="namaste", cursor="not-a-cursor")
    contract.call("search_reels", contract.anonymous(), status=401, q="namaste")
