// HaloBuzz web room: chat, likes, viewer count, gifts, PK battles and moderation notices over the stream's
// WebSocket (protocol: apps/live/PROTOCOL.md). The access token lives in memory only.
(function () {
  "use strict";
  const room = document.getElementById("room");
  const streamId = room.dataset.streamId;
  const $ = (id) => document.getElementById(id);
  const state = { token: null, user: null, ws: null, seen: new Set(), closedForGood: false, retry: 0, agora: null };
  // The page's texts in its language (apps/live/views.py ROOM_PAGE_STRINGS); numbers in Devanagari for Nepali.
  const strings = JSON.parse(document.getElementById("room-strings").textContent);
  const nepali = document.documentElement.lang.startsWith("ne");
  const digits = (value) => (nepali ? String(value).replace(/[0-9]/g, (d) => "०१२३४५६७८९"[d]) : String(value));
  function t(key, params) {
    return (strings[key] || key).replace(/%\((\w+)\)s/g, (_, name) =>
      typeof params[name] === "number" ? digits(params[name]) : String(params[name]));
  }

  function wsUrl() {
    const base = room.dataset.wsBase || `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}`;
    return `${base}/ws/streams/${streamId}/`;
  }

  function who(user) {
    return (user && (user.display_name || user.username)) || t("someone");
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
    const gift = (p.gift && (p.gift.name || p.gift.code)) || p.gift_name || p.name || t("a_gift");
    const count = p.count || p.quantity || 1;
    const coins = p.coins != null ? t("gift_coins", { coins: p.coins }) : "";
    addLine("gift-list", "gift", sender, t("gift_sent", { gift, count }) + coins);
  }

  // A gift streak is one line, updated in place: the highest count seen wins (a frame may come
  // late) and nothing changes it after its ended frame.
  const streaks = new Map();
  function giftCombo(p) {
    const shown = streaks.get(p.streak_id);
    if (shown && (shown.ended || shown.count > p.count)) return;
    const coins = t("gift_coins", { coins: p.coins });
    const text = t("gift_sent", { gift: p.gift.name, count: p.count }) + coins;
    const li = shown ? shown.li : addLine("gift-list", "gift", who(p.sender), text);
    if (shown) li.lastChild.textContent = text;
    streaks.set(p.streak_id, { li, count: p.count, ended: p.ended });
    if (streaks.size > 200) streaks.delete(streaks.keys().next().value);
  }

  function pkEnded(p) {
    if (p.status === "cancelled") return notice(t("pk_cancelled"));
    const here = p.sides.find((side) => String(side.stream_id) === streamId) || p.sides[0];
    const there = p.sides.find((side) => side !== here);
    const score = t("pk_score", { here: here.coins, there: there.coins });
    if (!p.winner_id) return notice(t("pk_draw", { score }));
    notice(t(p.winner_id === here.user_id ? "pk_this_host_wins" : "pk_other_host_wins", { score }));
  }

  function setConnection(text) {
    $("connection").textContent = t(text);
    $("connection").dataset.state = text;
  }

  const handlers = {
    "room.welcome": (p) => {
      $("viewer-count").textContent = digits(p.viewers);
      $("like-count").textContent = digits(p.likes_total);
      setPinned(p.stream.pinned);
      (p.history || []).forEach(chatLine);
      $("chat-form").hidden = false;
    },
    "chat.message": chatLine,
    "chat.pinned": (p) => setPinned(p.message),
    "chat.unpinned": () => setPinned(null),
    "chat.deleted": (p) => {
      const line = document.querySelector(`#chat-list [data-message-id="${CSS.escape(p.message_id)}"]`);
      if (line) line.remove();
    },
    "chat.mode": (p) => {
      const mode = strings[`chat_mode_${p.mode}`] || p.mode;
      notice(p.slow_mode_seconds ? t("chat_mode_slow", { mode, seconds: p.slow_mode_seconds }) : t("chat_mode", { mode }));
    },
    "chat.muted": (p) => { if (state.user && p.user_id === state.user.id) notice(t("muted")); },
    "chat.unmuted": (p) => { if (state.user && p.user_id === state.user.id) notice(t("unmuted")); },
    "likes.updated": (p) => { $("like-count").textContent = digits(p.total); },
    "viewers.updated": (p) => { $("viewer-count").textContent = digits(p.count); },
    "gift.sent": giftLine,
    "gift.combo": giftCombo,
    "viewer.kicked": () => {},
    "moderation.warning": (p) => notice(`⚠ ${p.message || p.reason || t("moderation_warning")}`),
    "stream.ended": () => {
      $("stream-status").textContent = t("ended");
      $("stream-status").dataset.status = "ended";
      notice(t("stream_ended"));
    },
    "session.closed": (p) => {
      state.closedForGood = true;
      if (p.reason !== "stream_ended") notice(t("left_room", { reason: p.reason }));
    },
    "linkcast.started": (p) => notice(t("linkcast_started", { hosts: p.hosts.map((h) => who(h.user)).join(" + ") })),
    "linkcast.ended": () => notice(t("linkcast_ended")),
    "pk.started": (p) => notice(t("pk_started", { seconds: p.duration_seconds })),
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
    if (!resp.ok) throw Object.assign(new Error(data.message || t("request_failed")), { body: data });
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
      startVideo(session.agora).catch(() => notice(t("video_failed")));
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
