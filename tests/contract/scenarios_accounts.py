"""Accounts: sign-up, tokens, the profile, follows and blocks."""

from tests.accounts.factories import TEST_PASSWORD, UserFactory
from tests.contract.runner import Contract
from tests.contract.scenarios import drives
from tests.moderation.factories import banned_word


@drives("auth_signup", "auth_login", "auth_refresh", "auth_logout", "auth_logout_everywhere")
def tokens(contract: Contract) -> None:
    anonymous = contract.anonymous()
    signup = {
        "username": "contract_new",
        "password": "a-long-Pass-phrase-77",
        "date_of_birth": "1998-04-01",
        "email": "new@example.com",
    }
    contract.call("auth_signup", anonymous, status=201, body=contract.body("auth_signup", signup))
    contract.call("auth_signup", anonymous, status=400, code="invalid", body=contract.body("auth_signup", signup))
    # a name with a banned word, however spelt, is refused (the word is seeded by a migration, which a
    # transactional test's flush before this one may have emptied)
    banned_word("fuck", severity=85, inside_words=True)
    rude = {**signup, "username": "f_u_c_k_new", "email": "rude@example.com"}
    contract.call(
        "auth_signup", anonymous, status=400, code="name_not_allowed", body=contract.body("auth_signup", rude)
    )

    login = {"identifier": "contract_new", "password": "a-long-Pass-phrase-77"}
    tokens = contract.call("auth_login", anonymous, status=200, body=contract.body("auth_login", login))
    wrong = {**login, "password": "not-the-password"}
    contract.call("auth_login", anonymous, status=401, body=contract.body("auth_login", wrong))

    first = {"refresh": tokens.tokens.refresh}
    renewed = contract.call("auth_refresh", anonymous, status=200, body=contract.body("auth_refresh", first))
    contract.call(
        "auth_refresh", anonymous, status=401, code="token_invalid", body=contract.body("auth_refresh", first)
    )

    user = contract.package.AuthenticatedClient(
        base_url=contract.base_url, token=renewed.access, raise_on_unexpected_status=True
    )
    latest = {"refresh": renewed.refresh}
    contract.call("auth_logout", user, status=204, body=contract.body("auth_logout", latest))
    contract.call("auth_logout", user, status=401, code="token_not_valid", body=contract.body("auth_logout", latest))

    # logging out everywhere ends this session too: its access token is refused at once
    again = contract.call("auth_login", anonymous, status=200, body=contract.body("auth_login", login))
    everywhere = contract.package.AuthenticatedClient(
        base_url=contract.base_url, token=again.tokens.access, raise_on_unexpected_status=True
    )
    contract.call("auth_logout_everywhere", everywhere, status=204)
    contract.call("auth_logout_everywhere", everywhere, status=401, code="token_not_valid")


@drives("me_get", "me_update", "me_password_change")
def profile(contract: Contract) -> None:
    user = UserFactory()
    client = contract.as_user(user)
    contract.call("me_get", client, status=200)
    contract.call("me_update", client, status=200, body=contract.body("me_update", {"bio": "Namaste"}))
    bad_phone = contract.body("me_update", {"phone": "12345"})
    contract.call("me_update", client, status=400, code="invalid", body=bad_phone)
    change = {"old_password": TEST_PASSWORD, "new_password": "another-Long-pass-88"}
    wrong_old = {**change, "old_password": "not-the-password"}
    contract.call("me_password_change", client, status=400, body=contract.body("me_password_change", wrong_old))
    contract.call("me_password_change", client, status=204, body=contract.body("me_password_change", change))
    # the change ended every session, this one included
    contract.call("me_get", client, status=401, code="token_not_valid")


@drives("user_profile", "user_follow", "user_unfollow", "user_followers", "user_following")
def follows(contract: Contract) -> None:
    fan, star = UserFactory(), UserFactory()
    client = contract.as_user(fan)
    contract.call("user_follow", client, status=204, username=star.username)
    contract.call("user_follow", client, status=400, username=fan.username)
    contract.call("user_profile", client, status=200, username=star.username)
    contract.call("user_profile", client, status=404, code="not_found", username="nobody-here")
    contract.call("user_followers", client, status=200, username=star.username)
    contract.call("user_following", client, status=200, username=fan.username)
    contract.call("user_followers", client, status=404, code="not_found", username="nobody-here")
    contract.call("user_following", client, status=404, code="not_found", username="nobody-here")
    contract.call("user_unfollow", client, status=204, username=star.username)
    contract.call("user_unfollow", client, status=404, code="not_found", username="nobody-here")


@drives("user_block", "user_unblock", "me_blocked")
def blocks(contract: Contract) -> None:
    user, pest = UserFactory(), UserFactory()
    client = contract.as_user(user)
    contract.call("user_block", client, status=204, username=pest.username)
    contract.call("user_block", client, status=404, code="not_found", username="nobody-here")
    contract.call("me_blocked", client, status=200)
    contract.call("user_unblock", client, status=204, username=pest.username)
    contract.call("user_unblock", client, status=404, code="not_found", username="nobody-here")


@drives("me_export", "me_deletion_request", "me_deletion_undo")
def deletion(contract: Contract) -> None:
    user = UserFactory()
    client = contract.as_user(user)
    contract.call("me_export", client, status=200)
    wrong = contract.body("me_deletion_request", {"password": "not-the-password"})
    contract.call("me_deletion_request", client, status=400, code="wrong_password", body=wrong)
    right = contract.body("me_deletion_request", {"password": TEST_PASSWORD, "reason": "moving on"})
    contract.call("me_deletion_request", client, status=202, body=right)
    # every session ended (the account is inactive); signing in offers the undo, which signs in again
    contract.call("me_get", client, status=401, code="authentication_failed")
    anonymous = contract.anonymous()
    login = {"identifier": user.username, "password": TEST_PASSWORD}
    contract.call(
        "auth_login", anonymous, status=403, code="account_deletion_pending", body=contract.body("auth_login", login)
    )
    contract.call("me_deletion_undo", anonymous, status=200, body=contract.body("me_deletion_undo", login))
    contract.call(
        "me_deletion_undo",
        anonymous,
        status=409,
        code="deletion_not_pending",
        body=contract.body("me_deletion_undo", login),
    )
