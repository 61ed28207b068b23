"""The fault suite's clients: app users, a Finance reviewer and room viewers, over real HTTP and WebSockets.

Each client behaves as the real app would. An answer is one of:
- acknowledged: a 2xx (or, for a top-up, the payment seen completed);
- refused: a 4xx (the app shows the error; nothing may have been written for it);
- unknown: a 5xx or no answer at all (connection reset, timeout). The app retries the same request
  with the same Idempotency-Key, backing off, until it gets one of the two above.

Every operation is recorded in a `Book`, which the checks compare with the database afterwards.
"""

import asyncio
import json
import random
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlsplit

import requests
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.live.room_contract import room_contract
from tests.timestamps import timestamps_off_format

REQUEST_TIMEOUT = 10.0
GIVE_UP_SECONDS = 90.0  # an operation still without a definite answer after this is reported unresolved


@dataclass
class Answer:
    status: int | None  # None: no answer (reset, refused connection, timeout)
    body: Any = None
    location: str = ""
    text: str = ""
    path: str = ""  # what was asked for: /api/v1/..., /sandbox/..., /admin/...

    @property
    def definite(self) -> bool:
        return self.status is not None and self.status < 500

    @property
    def code(self) -> str:
        """The error code of an API error answer ("" for anything else)."""
        return str(self.body.get("code", "")) if isinstance(self.body, dict) else ""


@dataclass
class Op:
    """One operation as its client saw it."""

    kind: str  # gift, og, game, cashout, review, topup
    user_id: int
    key: str
    started: float
    outcome: str = "unknown"  # acked, refused, unknown (no definite answer in GIVE_UP_SECONDS)
    code: str = ""  # the error code of a refusal
    retries: int = 0  # attempts that got no definite answer
    unclear: list = field(default_factory=list)  # what those attempts got: (a 5xx status or None, path, error code)
    longest_wait: float = 0.0  # the longest time it went without a definite answer
    resolved_at: float | None = None
    result: dict = field(default_factory=dict)


class Book:
    """Every operation of one fault run, shared by the client threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.ops: list[Op] = []
        self.notes: list[str] = []

    def add(self, op: Op) -> Op:
        with self._lock:
            self.ops.append(op)
        return op

    def note(self, text: str) -> None:
        with self._lock:
            self.notes.append(text)

    def of(self, kind: str, outcome: str | None = None) -> list[Op]:
        with self._lock:
            return [op for op in self.ops if op.kind == kind and (outcome is None or op.outcome == outcome)]


def http(method: str, url: str, **kwargs: Any) -> Answer:
    """One HTTP request on a fresh connection; never raises for a lost answer."""
    kwargs.setdefault("timeout", REQUEST_TIMEOUT)
    kwargs.setdefault("allow_redirects", False)
    path = urlsplit(url).path
    try:
        response = requests.request(method, url, **kwargs)
    except requests.RequestException:
        return Answer(None, path=path)
    body = None
    if response.headers.get("Content-Type", "").startswith("application/json"):
        try:
            body = response.json()
        except ValueError:
            body = None
    return Answer(response.status_code, body, response.headers.get("Location", ""), response.text, path)


def api(base: str, method: str, path: str, token: str, key: str | None = None, body: dict | None = None) -> Answer:
    """A call of the JSON API as the signed-in user, with an Idempotency-Key when given."""
    headers = {"Authorization": f"Bearer {token}"}
    if key:
        headers["Idempotency-Key"] = key
    return http(method, f"{base}{path}", json=body, headers=headers)


def until_definite(op: Op, request) -> Answer:
    """Call `request()` until it gives a definite answer (retrying as the app would), and record it."""
    delay, unclear_since = 0.2, None
    while True:
        answer = request()
        now = time.monotonic()
        if answer.definite:
            if unclear_since is not None:
                op.longest_wait = max(op.longest_wait, now - unclear_since)
            op.resolved_at = now
            return answer
        op.retries += 1
        op.unclear.append((answer.status, answer.path, answer.code))
        unclear_since = unclear_since or now
        if now - unclear_since > GIVE_UP_SECONDS:
            op.longest_wait = max(op.longest_wait, now - unclear_since)
            return answer
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


def settle(op: Op, answer: Answer) -> bool:
    """Record an API answer on the operation; True when acknowledged."""
    if answer.status is not None and 200 <= answer.status < 300:
        op.outcome, op.result = "acked", answer.body or {}
        return True
    if answer.definite:
        op.outcome = "refused"
        op.code = (answer.code or str(answer.status)) if isinstance(answer.body, dict) else ""
    return False


class Clients:
    """The users of one fault run: each a thread doing what the app does, until `stop` is set."""

    def __init__(self, base: str, world: dict, book: Book, *, payments: str = "app_asks_again") -> None:
        self.base = base
        self.world = world
        self.book = book
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.payments = payments  # app_asks_again | worker_only: who may re-queue a verification
        self.payment_scenario: dict = {}
        self.host_of_stream = {h["stream"]: h for h in world["hosts"]}
        self.admin = Admin(base, **world["finance"])

    def start(self) -> None:
        w = self.world
        targets = [(self.gifter, s, 0.1) for s in w["senders"]] + [(self.gifter, s, 0.5) for s in w["poor_senders"]]
        targets += [(self.og_buyer, u, 0.3) for u in w["og_buyers"]]
        targets += [(self.gamer, u, 0.2) for u in w["gamers"]]
        targets += [(self.host_cashouts, h, 0.7) for h in w["hosts"]]
        targets += [(self.payer, u, 0.5) for u in w["payers"]]
        targets += [(self.finance_reviewer, None, 0.3)]
        for target, who, pause in targets:
            thread = threading.Thread(target=self._loop, args=(target, who, pause), daemon=True)
            thread.start()
            self.threads.append(thread)

    def finish(self, timeout: float = GIVE_UP_SECONDS + 60) -> None:
        """Stop starting operations; wait until every client has a definite answer for the ones it began."""
        self.stop.set()
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.1, deadline - time.monotonic()))

    def _loop(self, target, who, pause: float) -> None:
        while not self.stop.is_set():
            try:
                target(who)
            except Exception as exc:  # noqa: BLE001 - a client bug must show in the report, not hang the run
                self.book.note(f"client {target.__name__} crashed: {exc!r}")
                return
            time.sleep(pause * random.uniform(0.5, 1.5))  # noqa: S311 - spreading clients out, not security

    def api(self, method: str, path: str, token: str, key: str | None = None, body: dict | None = None) -> Answer:
        return api(self.base, method, path, token, key, body)

    # --- app users ---------------------------------------------------------------------------

    def gifter(self, sender: dict) -> None:
        stream = random.choice(self.world["hosts"])["stream"]  # noqa: S311
        op = self.book.add(Op("gift", sender["id"], uuid.uuid4().hex, time.monotonic()))
        body = {"stream": stream, "gift": self.world["gift"], "quantity": 1}
        answer = until_definite(op, lambda: self.api("POST", "/api/v1/gifts/send/", sender["token"], op.key, body))
        if settle(op, answer):
            op.result["host_id"] = self.host_of_stream[stream]["id"]

    def og_buyer(self, buyer: dict) -> None:
        op = self.book.add(Op("og", buyer["id"], uuid.uuid4().hex, time.monotonic()))
        body = {"tier": self.world["og_tier"]}
        settle(op, until_definite(op, lambda: self.api("POST", "/api/v1/og/buy/", buyer["token"], op.key, body)))

    def gamer(self, player: dict) -> None:
        slug = random.choice(sorted(self.world["games"]))  # noqa: S311
        # One round in five bets above the table's limit: the app shows bet_out_of_range.
        bet = 10 if random.random() < 0.8 else self.world["games"][slug] + 1  # noqa: S311
        body = {"bet": bet, "choice": "heads" if slug == "coin_flip" else ""}
        op = self.book.add(Op("game", player["id"], uuid.uuid4().hex, time.monotonic()))
        path = f"/api/v1/games/{slug}/play/"
        settle(op, until_definite(op, lambda: self.api("POST", path, player["token"], op.key, body)))

    def host_cashouts(self, host: dict) -> None:
        op = self.book.add(Op("cashout", host["id"], uuid.uuid4().hex, time.monotonic()))
        body = {"coins": 10, "destination_id": host["destination"]}
        settle(
            op, until_definite(op, lambda: self.api("POST", "/api/v1/wallet/cashouts/", host["token"], op.key, body))
        )

    def payer(self, payer: dict) -> None:
        """A top-up as the app and the payer's browser do it: start, pay at the gateway, come back,
        then watch the payment (asking again when it takes long, unless only the worker may)."""
        gateway = random.choice(["esewa", "khalti"])  # noqa: S311
        op = self.book.add(Op("topup", payer["id"], uuid.uuid4().hex, time.monotonic()))
        body = {"package": self.world["package"], "gateway": gateway}
        answer = until_definite(op, lambda: self.api("POST", "/api/v1/payments/", payer["token"], op.key, body))
        if answer.status != 201:
            settle(op, answer)
            return
        payment = answer.body
        op.result = {
            "payment_id": payment["id"],
            "gateway": gateway,
            "coins": payment["coins"] + payment["bonus_coins"],
        }
        if self.payment_scenario:
            http("POST", f"{self.base}/sandbox/scenarios/{payment['merchant_ref']}/", json=self.payment_scenario)
        if not self._pay_at_gateway(op, payment):
            return
        op.result["paid"], op.result["paid_at"] = True, time.monotonic()
        self._watch_payment(op, payer, payment["id"])

    def _pay_at_gateway(self, op: Op, payment: dict) -> bool:
        """The payer's browser: the gateway's pages, then the redirect back to our callback."""
        checkout = payment["checkout"]
        if op.result["gateway"] == "esewa":
            form = until_definite(op, lambda: http("POST", checkout["form_url"], data=checkout["fields"]))
            if form.status != 302:
                op.outcome, op.code = "refused", f"esewa form {form.status}"
                return False
            pay_url = f"{self.base}{form.location}" if form.location.startswith("/") else form.location
            confirm = {"action": "confirm"}
        else:
            pay_url = checkout["payment_url"]
            confirm = {"action": "confirm", "pidx": checkout["pidx"]}
        # Pressing "confirm" twice is harmless: a second press finds the payment finished.
        redirect = until_definite(op, lambda: http("POST", pay_url, data=confirm))
        if redirect.status == 302:
            until_definite(op, lambda: http("GET", redirect.location))  # our callback: records and queues
        return True

    def _watch_payment(self, op: Op, payer: dict, payment_id: int) -> None:
        asked_again = False
        while True:
            answer = self.api("GET", f"/api/v1/payments/{payment_id}/", payer["token"])
            status = (answer.body or {}).get("status") if answer.status == 200 else None
            if status == "completed":
                op.outcome, op.resolved_at = "acked", time.monotonic()
                return
            if status in ("failed", "canceled", "expired", "needs_review", "refunded"):
                op.outcome, op.code, op.resolved_at = "refused", status, time.monotonic()
                return
            waited = time.monotonic() - op.started
            if self.payments == "app_asks_again" and not asked_again and waited > 8:
                asked_again = self.api("POST", f"/api/v1/payments/{payment_id}/verify/", payer["token"]).status == 200
            if time.monotonic() - op.started > GIVE_UP_SECONDS:
                return
            time.sleep(0.5)

    # --- Finance in the admin ----------------------------------------------------------------

    def finance_reviewer(self, _: None) -> None:
        """Review the acknowledged cash-outs one at a time in the admin (approve one, reject the next)."""
        reviewed = {op.result.get("id") for op in self.book.of("review")}
        waiting = [op for op in self.book.of("cashout", "acked") if op.result.get("id") not in reviewed]
        if not waiting:
            return
        cashout = waiting[0]
        approve = cashout.result["id"] % 2 == 0
        op = self.book.add(Op("review", cashout.user_id, f"review-{cashout.result['id']}", time.monotonic()))
        op.result = {
            "id": cashout.result["id"],
            "coins": cashout.result["coins"],
            "decision": "approved" if approve else "rejected",
        }
        host = next(h for h in self.world["hosts"] if h["id"] == cashout.user_id)
        message = until_definite(op, lambda: self.admin.review(cashout.result["id"], approve))
        if message.status == 200 and f"{'Approved' if approve else 'Rejected'} 1 cash-out" in message.text:
            op.outcome = "acked"
            return
        # Not pending any more (an earlier attempt went through unseen) or refused: look at the request.
        if not message.definite:
            return  # no definite answer in GIVE_UP_SECONDS: unresolved
        status = self._cashout_status(op, host, cashout.result["id"])
        op.outcome = "acked" if status == op.result["decision"] else "refused"
        op.code = "" if op.outcome == "acked" else f"admin said: {message.status}, request {status}"

    def _cashout_status(self, op: Op, host: dict, cashout_id: int) -> str | None:
        """The cash-out's status as its host's app lists it (page by page, newest first)."""
        url: str | None = f"{self.base}/api/v1/wallet/cashouts/"
        headers = {"Authorization": f"Bearer {host['token']}"}
        while url:
            page = until_definite(op, lambda u=url: http("GET", u, headers=headers))
            body = page.body if page.status == 200 and isinstance(page.body, dict) else {}
            for cashout in body.get("results", []):
                if cashout["id"] == cashout_id:
                    return cashout["status"]
            url = body.get("next")
        return None


class Admin:
    """A Finance staff member signed in to the admin (session cookie, CSRF), as a browser would be.

    The stack serves plain HTTP with no proxy in front, and production cookies are Secure: the
    requests say X-Forwarded-Proto: https, as the ingress would, and carry the cookies themselves
    (an HTTP client keeps Secure cookies to https URLs)."""

    def __init__(self, base: str, *, username: str, password: str) -> None:
        self.base = base
        self.username, self.password = username, password
        self.cookies: dict[str, str] = {}
        origin = "https://" + base.split("://", 1)[1]
        self.headers = {"X-Forwarded-Proto": "https", "Origin": origin, "Referer": f"{origin}/admin/"}
        self.signed_in = False

    def _request(self, method: str, path: str, data: dict | None = None) -> Answer:
        cookie = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        try:
            response = requests.request(
                method,
                f"{self.base}{path}",
                data=data,
                headers={**self.headers, "Cookie": cookie},
                allow_redirects=False,
                timeout=REQUEST_TIMEOUT,
            )
        except requests.RequestException:
            return Answer(None, path=path)
        for header in response.raw.headers.getlist("Set-Cookie"):
            for name, morsel in SimpleCookie(header).items():
                if morsel.value and morsel["max-age"] != "0":
                    self.cookies[name] = morsel.value
                else:  # deleted (the messages cookie once they are shown)
                    self.cookies.pop(name, None)
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.text)
        token = match.group(1) if match else None
        return Answer(response.status_code, token, response.headers.get("Location", ""), response.text, path)

    def sign_in(self) -> Answer:
        page = self._request("GET", "/admin/login/")
        if page.status != 200 or not page.body:
            return page
        data = {"csrfmiddlewaretoken": page.body, "username": self.username, "password": self.password}
        answer = self._request("POST", "/admin/login/?next=/admin/", data)
        self.signed_in = answer.status == 302
        return answer

    def review(self, cashout_id: int, approve: bool) -> Answer:
        """Run the approve or reject action on one cash-out; the answer is the page with its messages
        (or whichever step had no definite answer, so the caller retries)."""
        changelist = "/admin/wallet/cashoutrequest/"
        if not self.signed_in:
            answer = self.sign_in()
            if not self.signed_in:
                return answer
        page = self._request("GET", changelist)
        if page.status == 302:  # the session is gone: sign in again on the next attempt
            self.signed_in = False
            return Answer(None, path=changelist)
        if page.status != 200 or not page.body:
            return page
        data = {
            "csrfmiddlewaretoken": page.body,
            "action": "approve" if approve else "reject",
            "_selected_action": str(cashout_id),
            "index": "0",
        }
        done = self._request("POST", changelist, data)
        if done.status != 302:
            return done
        return self._request("GET", changelist)


# --- Viewers in a room ------------------------------------------------------------------------


class Viewers:
    """Room sockets on one stream, each reconnecting with backoff when its socket closes (the
    protocol's advice for close codes other than 4001/4003/4004/4010), in a thread of their own."""

    def __init__(self, ws_base: str, stream_id: int, viewers: list[dict]) -> None:
        self.ws_base, self.stream_id, self.viewers = ws_base, stream_id, viewers
        self.loop = asyncio.new_event_loop()
        self.connected: set[int] = set()
        self.counts: dict[int, int] = {}  # viewer id -> the viewer count it last heard
        self.gift_ids: dict[int, set[int]] = {v["id"]: set() for v in viewers}
        self.reconnects = 0
        self.closed_for_good: list[str] = []
        self.contract_breaks: list[str] = []  # frames that break apps/live/asyncapi.yaml (tests/live/room_contract.py)
        self._stop = asyncio.Event()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._run(),), daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(15)

    async def _run(self) -> None:
        tasks = [asyncio.ensure_future(self._viewer(v)) for v in self.viewers]
        await self._stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _viewer(self, viewer: dict) -> None:
        url = f"{self.ws_base}/ws/streams/{self.stream_id}/?token={viewer['token']}"
        delay, first = 0.2, True
        while True:
            try:
                async with connect(url, open_timeout=5, close_timeout=1) as ws:
                    if not first:
                        self.reconnects += 1
                    first, delay = False, 0.2
                    async for frame in ws:
                        event = json.loads(frame)
                        self.contract_breaks += room_contract().problems(event) + timestamps_off_format(event)
                        payload = event.get("payload") or {}
                        if event["type"] == "room.welcome":
                            self.connected.add(viewer["id"])
                            self.counts[viewer["id"]] = payload.get("viewers", -1)
                        elif event["type"] == "viewers.updated":
                            self.counts[viewer["id"]] = payload["count"]
                        elif event["type"] == "gift.sent":
                            self.gift_ids[viewer["id"]].add(payload["id"])
                        elif event["type"] == "gift.combo":  # a streak is named after its first send
                            self.gift_ids[viewer["id"]].add(payload["streak_id"])
            except (OSError, ConnectionClosed, InvalidStatus, TimeoutError):
                pass
            self.connected.discard(viewer["id"])
            self.counts.pop(viewer["id"], None)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    def settled(self) -> bool:
        """Every viewer is in the room and hears the right number of viewers."""
        n = len(self.viewers)
        return len(self.connected) == n and all(self.counts.get(v["id"]) == n for v in self.viewers)
