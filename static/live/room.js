// HaloBuzz web room: chat, likes, viewer count, gifts, PK battles and moderation notices over the stream's
// WebSocket (protocol: apps/live/PROTOCOL.md). The access token lives in memory only.
(function () {
  "use strict";
  const room = document.getElementById("room");
  const streamId = room.dataset.streamId;
  const $ = (id) => document.getElementById(id);
  const state = { token: null, user: null, ws: null, seen: new Set(), closedForGood: false, retry: 0, agora: null };

  function wsUrl() {
    const base = room.dataset.wsBase || `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}`;
    return `${base}/ws/streams/${streamId}/`;
  }

  function who(user) {
    return (user && (user.display_name || user.username)) || "someone";
  }

  function addLine(listId, cls, name, text) {
    const li = document.createElement("li");
    if (cls) li.className = cls;
    if (name) {
      const span = document.createElement("span");
      span.className = "who";
      span.textContent = name;
      li.appendChild(span);
    }
    li.appendChild(document.createTextNode(text));
    const list = $(listId);
    list.appendChild(li);
    while (list.children.length > 200) list.removeChild(list.firstChild);
    list.scrollTop = list.scrollHeight;
    return li;
  }

  function notice(text) {
    const div = document.createElement("div");
    div.className = "notice";
    div.textContent = text;
    $("notices").appendChild(div);
  }

  function chatLine(message) {
    if (!message || state.seen.has(message.id)) return;
    state.seen.add(message.id);
    const li = addLine("chat-list", "chat-message", who(message.user), message.text);
    li.dataset.messageId = message.id;
  }

  function setPinned(message) {
    const pinned = $("pinned");
    if (message) {
      pinned.textContent = `📌 ${who(message.user)}: ${message.text}`;
      pinned.hidden = false;
    } else {
      pinned.hidden = true;
    }
  }

  function giftLine(p) {
    const sender = who(p.sender || p.from || p.user);
    const gift = (p.gift && (p.gift.name || p.gift.code)) || p.gift_name || p.name || "a gift";
    const count = p.count || p.quantity || 1;
    const coins = p.coins != null ? ` (${p.coins} coins)` : "";
    addLine("gift-list", "gift", sender, ` sent ${gift} ×${count}${coins}`);
  }

  function pkEnded(p) {
    if (p.status === "cancelled") return notice("PK battle cancelled");
    const here = p.sides.find((side) => String(side.stream_id) === streamId) || p.sides[0];
    const there = p.sides.find((side) => side !== here);
    const score = `${here.coins} – ${there.coins} coins`;
    if (!p.winner_id) return notice(`PK battle over: a draw, ${score}`);
    notice(`PK battle over: ${p.winner_id === here.user_id ? "this host" : "the other host"} wins, ${score}`);
  }

  function setConnection(text) {
    $("connection").textContent = text;
    $("connection").dataset.state = text;
  }

  const handlers = {
    "room.welcome": (p) => {
      $("viewer-count").textContent = p.viewers;
      $("like-count").textContent = p.likes_total;
      setPinned(p.stream.pinned);
      (p.history || []).forEach(chatLine);
      $("chat-form").hidden = false;
    },
    "chat.message": chatLine,
    "chat.pinned": (p) => setPinned(p.message),
    "chat.unpinned": () => setPinned(null),
    "chat.mode": (p) => notice(`Chat is now open to: ${p.mode}${p.slow_mode_seconds ? `, slow mode ${p.slow_mode_seconds}s` : ""}`),
    "chat.muted": (p) => { if (state.user && p.user_id === state.user.id) notice("The host muted you in this chat."); },
    "chat.unmuted": (p) => { if (state.user && p.user_id === state.user.id) notice("You can chat again."); },
    "likes.updated": (p) => { $("like-count").textContent = p.total; },
    "viewers.updated": (p) => { $("viewer-count").textContent = p.count; },
    "gift.sent": giftLine,
    "viewer.kicked": () => {},
    "moderation.warning": (p) => notice(`⚠ ${p.message || p.reason || "Warning from the moderators"}`),
    "stream.ended": () => {
      $("stream-status").textContent = "Ended";
      $("stream-status").dataset.status = "ended";
      notice("The stream has ended.");
    },
    "session.closed": (p) => {
      state.closedForGood = true;
      if (p.reason !== "stream_ended") notice(`You left the room: ${p.reason}`);
    },
    "linkcast.started": (p) => notice(`LinkCast: ${p.hosts.map((h) => who(h.user)).join(" + ")} are live together`),
    "linkcast.ended": () => notice("LinkCast ended"),
    "pk.started": (p) => notice(`PK battle: ${p.duration_seconds} s, the host with more gift coins wins`),
    "pk.ended": pkEnded,
    error: (p) => notice(`${p.message}`),
  };

  function connect() {
    if (!state.token) return;
    setConnection("connecting");
    const ws = new WebSocket(wsUrl(), ["jwt", state.token]);
    state.ws = ws;
    ws.onopen = () => { state.retry = 0; setConnection("online"); };
    ws.onmessage = (msg) => {
      let event;
      try { event = JSON.parse(msg.data); } catch (e) { return; }
      const handler = handlers[event.type];
      if (handler) handler(event.payload || {});
    };
    ws.onclose = (ev) => {
      setConnection("offline");
      $("chat-form").hidden = true;
      // 4001 sign in again, 4003 refused, 4004 not live, 4010 ended: no point retrying.
      if (state.closedForGood || [4001, 4003, 4004, 4010].includes(ev.code)) return;
      state.retry = Math.min(state.retry + 1, 6);
      setTimeout(connect, 500 * 2 ** state.retry);
    };
  }

  function send(type, payload) {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify({ type, payload }));
  }

  async function api(path, body) {
    const headers = { "Content-Type": "application/json" };
    if (state.token) headers.Authorization = `Bearer ${state.token}`;
    const resp = await fetch(path, { method: "POST", headers, body: JSON.stringify(body || {}) });
    const data = resp.status === 204 ? {} : await resp.json();
    if (!resp.ok) throw Object.assign(new Error(data.message || "Request failed"), { body: data });
    return data;
  }

  async function startVideo(agora) {
    if (!agora || !window.AgoraRTC) return;
    const client = window.AgoraRTC.createClient({ mode: "live", codec: "vp8" });
    await client.setClientRole("audience");
    client.on("user-published", async (user, mediaType) => {
      await client.subscribe(user, mediaType);
      if (mediaType === "video") {
        const box = document.createElement("div");
        box.id = `video-${user.uid}`;
        $("video").appendChild(box);
        user.videoTrack.play(box);
      }
      if (mediaType === "audio") user.audioTrack.play();
    });
    client.on("user-unpublished", (user) => { const box = $(`video-${user.uid}`); if (box) box.remove(); });
    const rtc = agora.linkcast_rtc || agora.rtc;
    await client.join(rtc.app_id, rtc.channel, rtc.token, rtc.uid);
    state.agora = client;
  }

  $("login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    $("login-error").hidden = true;
    try {
      const login = await api("/api/v1/auth/login/", {
        identifier: $("login-identifier").value,
        password: $("login-password").value,
      });
      state.token = login.tokens.access;
      state.user = login.user;
      $("login-form").hidden = true;
      const session = await api(`/api/v1/streams/${streamId}/join/`);
      connect();
      startVideo(session.agora).catch(() => notice("Video could not start."));
    } catch (err) {
      $("login-error").textContent = err.message;
      $("login-error").hidden = false;
    }
  });

  $("chat-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("chat-input").value.trim();
    if (!text) return;
    send("chat.send", { text });
    $("chat-input").value = "";
  });

  $("like-button").addEventListener("click", () => send("like.send", { count: 1 }));
})();
