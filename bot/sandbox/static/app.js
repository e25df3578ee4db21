// Steward Sandbox page: polls /ui/state for the workspace as one person sees it, renders the Block Kit the app
// posted, and sends what the person types or clicks to /ui/command and /ui/click (signed there, like Slack).
"use strict";

const POLL_MS = 500;
const GROUP_SECONDS = 300;  // consecutive messages from one sender within 5 minutes share a name line
const AVATAR_COLOURS = ["#2f6fb0", "#7a4fb0", "#b0532f", "#2f8f6f", "#9b2f6f", "#5f6b2f"];
const EMOJI = {
  white_check_mark: "✅", warning: "⚠️", rotating_light: "🚨", fire: "🔥", eyes: "👀", rocket: "🚀",
  memo: "📝", pushpin: "📌", lock: "🔒", x: "❌", heavy_check_mark: "✔️", hourglass: "⌛", bell: "🔔",
  red_circle: "🔴", large_orange_circle: "🟠", large_yellow_circle: "🟡", large_blue_circle: "🔵",
  compass: "🧭", mag: "🔍", wave: "👋", mega: "📣", bust_in_silhouette: "👤", tada: "🎉",
};

const state = {
  user: null, channel: null, version: null, view: null,
  seq: 0, follow: true, plays: 0, offline: false,
  expanded: new Set(), lastSeen: {}, known: new Set(), renderedFor: null,
};

const $ = (id) => document.getElementById(id);

// --- escaping and Slack's mrkdwn -------------------------------------------------------------------

function escapeHtml(text) {
  return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

// Slack sends &, < and > escaped inside mrkdwn; everything else is literal.
function decodeSlack(text) {
  return String(text).replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function emojify(html) {
  return html.replace(/:([a-z0-9_+-]+):/g, (all, name) => EMOJI[name] || all);
}

function personName(id) {
  const person = state.view && state.view.people[id];
  return person ? person.name : null;
}

// One <...> token: a user, channel or special mention, or a link.
function slackMarkup(inner) {
  const [target, label] = splitOnce(inner, "|");
  if (/^@[UW][A-Z0-9]+$/.test(target)) {
    const id = target.slice(1);
    const name = personName(id) || (label || id).replace(/^@/, "");
    const self = id === state.user ? " self" : "";
    return `<span class="mention${self}" data-user-id="${escapeHtml(id)}">@${escapeHtml(name)}</span>`;
  }
  if (/^#[CGD][A-Z0-9]+$/.test(target)) {
    const id = target.slice(1);
    const name = (state.view && state.view.channel_names[id]) || label || id;
    return `<span class="mention channel-mention" data-channel-id="${escapeHtml(id)}">#${escapeHtml(name)}</span>`;
  }
  if (target.startsWith("!")) {
    const special = target.slice(1).split("^")[0];
    if (["here", "channel", "everyone"].includes(special)) return `<span class="mention">@${special}</span>`;
    return escapeHtml(decodeSlack(label || target));
  }
  if (/^(https?:\/\/|mailto:)/i.test(target)) {
    const href = escapeHtml(decodeSlack(target));
    return `<a href="${href}" target="_blank" rel="noopener noreferrer">${escapeHtml(decodeSlack(label || target))}</a>`;
  }
  return escapeHtml(decodeSlack(`<${inner}>`));
}

function splitOnce(text, separator) {
  const at = text.indexOf(separator);
  return at < 0 ? [text, ""] : [text.slice(0, at), text.slice(at + 1)];
}

function mrkdwn(source) {
  const held = [];
  const hold = (html) => `\u0000${held.push(html) - 1}\u0000`;
  let text = String(source);
  text = text.replace(/```([\s\S]*?)```/g, (_, code) =>
    hold(`<pre>${escapeHtml(decodeSlack(code.replace(/^\n/, "")))}</pre>`));
  text = text.replace(/`([^`\n]+)`/g, (_, code) => hold(`<code>${escapeHtml(decodeSlack(code))}</code>`));
  text = text.replace(/<([^<>\n]+)>/g, (_, inner) => hold(slackMarkup(inner)));
  let html = emojify(escapeHtml(decodeSlack(text)));
  // Bold, italic and strike only at word edges, as Slack does (so snake_case stays as typed).
  html = html.replace(/(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])/g, "<b>$1</b>");
  html = html.replace(/(?<![\w_])_(?!\s)([^_\n]+?)(?<!\s)_(?![\w_])/g, "<i>$1</i>");
  html = html.replace(/(?<![\w~])~(?!\s)([^~\n]+?)(?<!\s)~(?![\w~])/g, "<s>$1</s>");
  html = html.split("\n").map((line) => line.startsWith("&gt; ")
    ? `<blockquote>${line.slice(5)}</blockquote>` : line).join("\n")
    .replace(/<\/blockquote>\n<blockquote>/g, "<br>").replace(/\n/g, "<br>")
    .replace(/<\/blockquote><br>/g, "</blockquote>");
  return html.replace(/\u0000(\d+)\u0000/g, (_, index) => held[Number(index)]);
}

function textObject(object) {
  if (!object || typeof object.text !== "string") return "";
  if (object.type === "mrkdwn") return mrkdwn(object.text);
  return emojify(escapeHtml(object.text)).replace(/\n/g, "<br>");
}

// --- Block Kit -------------------------------------------------------------------------------------

// Each renderer takes the block and `after`, HTML to end its text with (the "(edited)" mark on the last block).
const BLOCKS = {
  header: (block, after) => `<div class="b-header">${textObject(block.text)}${after}</div>`,
  divider: (block, after) => `<hr class="b-divider">${after}`,
  section: (block, after) => {
    const main = [];
    const fields = Array.isArray(block.fields) && block.fields.length ? block.fields : [];
    if (block.text) main.push(`<div class="b-text">${textObject(block.text)}${fields.length ? "" : after}</div>`);
    if (fields.length) {
      main.push(`<div class="b-fields">${fields.map((f) => `<div class="b-text">${textObject(f)}</div>`).join("")}</div>${after}`);
    }
    const accessory = block.accessory ? element(block.accessory, block.block_id) : "";
    return `<div class="b-section"><div class="b-section-main">${main.join("")}</div>${accessory}</div>`;
  },
  context: (block, after) => `<div class="b-context">${(block.elements || []).map((e) => e.type === "image"
    ? imageTag(e.image_url, e.alt_text) : `<span class="b-text">${textObject(e)}</span>`).join("")}${after}</div>`,
  actions: (block, after) => `<div class="b-actions">${(block.elements || []).map((e) => element(e, block.block_id)).join("")}</div>${after}`,
  image: (block, after) => `<figure class="b-image">${imageTag(block.image_url, block.alt_text)}</figure>${after}`,
  markdown: (block, after) => `<div class="b-text">${mrkdwn(block.text || "")}${after}</div>`,
  rich_text: (block, after) => `<div class="b-text">${escapeHtml(richText(block.elements || []))}${after}</div>`,
};

function imageTag(url, alt) {
  return /^https?:\/\//i.test(url || "") ? `<img src="${escapeHtml(url)}" alt="${escapeHtml(alt || "")}">` : "";
}

function richText(elements) {
  return elements.map((e) => {
    if (Array.isArray(e.elements)) return richText(e.elements) + (e.type === "rich_text_section" ? "" : "\n");
    if (e.type === "user") return `@${personName(e.user_id) || e.user_id}`;
    if (e.type === "channel") return `#${(state.view.channel_names || {})[e.channel_id] || e.channel_id}`;
    if (e.type === "emoji") return e.unicode ? String.fromCodePoint(parseInt(e.unicode, 16)) : `:${e.name}:`;
    return e.text || e.url || "";
  }).join("");
}

function element(el, blockId) {
  if (el.type === "button") {
    const style = el.style === "primary" ? " primary" : el.style === "danger" ? " danger" : "";
    return `<button type="button" class="button b-button${style}" data-action-id="${escapeHtml(el.action_id || "")}"
      data-block-id="${escapeHtml(blockId || "")}">${textObject(el.text)}</button>`;
  }
  if (el.type === "image") return imageTag(el.image_url, el.alt_text);
  return `<span class="b-unsupported">(${escapeHtml(el.type || "element")} is not shown in the sandbox)</span>`;
}

function renderBlocks(message) {
  const edited = message.edited ? `<span class="edited">(edited)</span>` : "";
  const blocks = message.blocks || [];
  if (!blocks.length) return `<div class="b-text">${mrkdwn(message.text || "")}${edited}</div>`;
  return blocks.map((block, index) => {
    const after = index === blocks.length - 1 ? edited : "";
    const render = BLOCKS[block.type];
    return render ? render(block, after)
      : `<div class="b-unsupported">(a ${escapeHtml(block.type)} block is not shown in the sandbox)${after}</div>`;
  }).join("");
}

// --- messages --------------------------------------------------------------------------------------

function timeOf(ts) {
  return new Date(parseFloat(ts) * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
}

function avatar(id) {
  const person = state.view.people[id] || { name: id };
  if (person.is_bot) return `<div class="avatar" style="background:#0b4f6c">S</div>`;
  const colour = AVATAR_COLOURS[[...id].reduce((sum, ch) => sum + ch.charCodeAt(0), 0) % AVATAR_COLOURS.length];
  return `<div class="avatar" style="background:${colour}">${escapeHtml(person.name.slice(0, 1).toUpperCase())}</div>`;
}

function messageHtml(message, compact, inThread) {
  const person = state.view.people[message.user] || { name: message.user };
  const sender = person.is_bot ? person.real_name : person.name;
  const time = timeOf(message.ts);
  const gutter = compact ? `<div class="hover-time">${time}</div>` : avatar(message.user);
  const notes = [];
  if (message.pinned) notes.push(`<div class="note-line pinned-note">📌 Pinned by Steward</div>`);
  if (message.ephemeral) notes.push(`<div class="note-line ephemeral-note">👁 Only visible to you</div>`);
  const meta = compact ? "" : `<div class="meta"><span class="sender">${escapeHtml(sender)}</span>${
    person.is_bot ? `<span class="app-badge">APP</span>` : ""}<time>${time}</time></div>`;
  let thread = "";
  if (!inThread && message.replies && message.replies.length) {
    const open = state.expanded.has(message.ts);
    const count = message.replies.length;
    thread = `<button type="button" class="thread-toggle" aria-expanded="${open}">${
      open ? "Hide replies" : `${count} ${count === 1 ? "reply" : "replies"}`}</button>`;
    if (open) thread += `<div class="replies">${message.replies.map((r) => messageHtml(r, false, true)).join("")}</div>`;
  }
  const classes = ["message", compact && "compact", message.pinned && "pinned", message.ephemeral && "ephemeral"]
    .filter(Boolean).join(" ");
  return `<div class="${classes}" data-ts="${escapeHtml(message.ts)}" data-user="${escapeHtml(message.user)}"
    data-ephemeral="${message.ephemeral}">${gutter}<div class="message-body">${notes.join("")}${meta}
    <div class="blocks">${renderBlocks(message)}</div>${thread}</div></div>`;
}

function isCompact(message, previous) {
  return Boolean(previous && previous.user === message.user && previous.ephemeral === message.ephemeral
    && !message.pinned && !previous.pinned && !(previous.replies && previous.replies.length)
    && parseFloat(message.ts) - parseFloat(previous.ts) < GROUP_SECONDS);
}

// Keyed update: a message whose content did not change keeps its element, an edited one is replaced where it
// stands, so the list never flickers and an edit shows in place.
function renderMessages() {
  const list = $("messages");
  const view = state.view;
  const key = `${view.channel.id}/${state.user}`;
  const switched = state.renderedFor !== key;
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 60;
  const previousTop = list.scrollTop;
  const existing = new Map([...list.querySelectorAll(":scope > [data-key]")].map((el) => [el.dataset.key, el]));
  const wanted = [];
  const intro = `<div class="intro"><strong>${view.channel.is_im ? "" : "#"}${escapeHtml(view.channel.name)}</strong>${
    view.channel.is_im ? "Your direct messages with Steward." : `This is the very beginning of #${escapeHtml(view.channel.name)}.`
    }${view.channel.purpose ? " " + mrkdwn(view.channel.purpose) : ""}</div>`;
  wanted.push({ key: "intro", signature: intro, html: intro });
  const names = JSON.stringify([view.people, view.channel_names, state.user]);
  view.messages.forEach((message, index) => {
    const compact = isCompact(message, view.messages[index - 1]);
    const open = state.expanded.has(message.ts);
    const signature = JSON.stringify([message, compact, open, names]);
    wanted.push({ key: `${message.ephemeral ? "e" : "m"}${message.ts}`, signature,
      html: () => messageHtml(message, compact, false) });
  });
  let cursor = list.firstElementChild;
  for (const item of wanted) {
    let el = existing.get(item.key);
    existing.delete(item.key);
    if (!el || el.dataset.signature !== item.signature) {
      const holder = document.createElement("div");
      holder.innerHTML = typeof item.html === "function" ? item.html() : item.html;
      const fresh = holder.firstElementChild;
      fresh.dataset.key = item.key;
      fresh.dataset.signature = item.signature;
      if (el) {
        if (el === cursor) cursor = fresh;
        el.replaceWith(fresh);
      }
      el = fresh;
    }
    if (el !== cursor) list.insertBefore(el, cursor);
    cursor = el.nextElementSibling;
  }
  existing.forEach((el) => el.remove());
  state.renderedFor = key;
  if (switched || atBottom) list.scrollTop = list.scrollHeight;
  else list.scrollTop = previousTop;
}

// --- the rest of the page --------------------------------------------------------------------------

function renderUsers() {
  const select = $("user-switcher");
  const wanted = state.view.users.map((u) => `${u.id}:${u.name}:${u.title}`).join("|");
  if (select.dataset.users !== wanted) {
    select.innerHTML = state.view.users.map((u) =>
      `<option value="${escapeHtml(u.id)}">${escapeHtml(u.name)} (${escapeHtml(u.title)})</option>`).join("");
    select.dataset.users = wanted;
  }
  select.value = state.user;
}

function renderChannels() {
  const view = state.view;
  const item = (c) => {
    const seen = state.lastSeen[`${state.user}/${c.id}`];
    const unread = c.id !== view.channel.id && c.latest && (!seen || parseFloat(c.latest) > parseFloat(seen));
    const classes = ["channel", c.id === view.channel.id && "active", unread && "unread", !c.is_member && "not-member"]
      .filter(Boolean).join(" ");
    const glyph = c.is_im ? "●" : c.is_private ? "🔒" : "#";
    return `<li><button type="button" class="${classes}" data-channel-id="${escapeHtml(c.id)}"
      data-name="${escapeHtml(c.name)}" title="${escapeHtml(c.name)}" ${c.id === view.channel.id ? 'aria-current="page"' : ""}>
      <span class="glyph">${glyph}</span><span class="name">${escapeHtml(c.name)}</span></button></li>`;
  };
  const channels = view.channels.filter((c) => !c.is_im);
  const dms = view.channels.filter((c) => c.is_im);
  setHtml($("channel-list"), channels.map(item).join(""));
  setHtml($("dm-list"), dms.map(item).join(""));
  $("dm-heading").hidden = !dms.length;
}

function setHtml(el, html) {
  if (el.dataset.html !== html) {
    el.innerHTML = html;
    el.dataset.html = html;
  }
}

function renderHeader() {
  const channel = state.view.channel;
  $("channel-title").textContent = channel.is_im ? channel.name : `${channel.is_private ? "🔒 " : "# "}${channel.name}`;
  setHtml($("channel-topic"), channel.topic ? mrkdwn(channel.topic) : channel.purpose ? mrkdwn(channel.purpose) : "");
  $("channel-members").textContent = channel.is_im ? "" : `${channel.members} ${channel.members === 1 ? "member" : "members"}`;
  $("composer").placeholder = channel.is_im ? "Message Steward" : `Message #${channel.name} — try /incident help`;
  document.title = `${channel.is_im ? "" : "#"}${channel.name} · Steward Sandbox`;
  if (!hint.busy && !hint.problem) showHint(defaultHint());
}

function defaultHint() {
  const channel = state.view && state.view.channel;
  if (channel && !channel.is_member) return `You are previewing #${escapeHtml(channel.name)}; sending a message joins it.`;
  return "Type <code>/incident help</code> to see what Steward can do · Enter sends";
}

function renderScenario() {
  const scenario = state.view.scenario;
  const status = $("scenario-status");
  const replay = $("replay");
  if (!scenario) {
    replay.hidden = true;
    setStatus("<span>Type <code>/incident declare &lt;title&gt;</code> in #general to start an incident.</span>");
    return;
  }
  replay.hidden = false;
  replay.disabled = scenario.running;
  replay.textContent = scenario.running ? "Replaying…" : "Replay scenario";
  status.classList.toggle("problem", Boolean(scenario.problem));
  if (scenario.running && scenario.step) {
    // A source's step (a webhook) names the source; a person's step names the person.
    const who = scenario.source ? `${scenario.source} → Steward` : personName(scenario.user) || "someone";
    setStatus(`<span class="step">Replaying ${scenario.step}/${scenario.total}</span><span>${escapeHtml(who)}: <code>${
      escapeHtml(scenario.caption)}</code></span>`);
  } else if (scenario.running) {
    setStatus(`<span class="step">Replaying the scripted incident…</span>`);
  } else if (scenario.problem) {
    setStatus(`<span>The scenario stopped: ${escapeHtml(scenario.problem)}</span>`);
  } else if (scenario.plays) {
    setStatus(`<span class="step">Scenario replayed.</span><span>Now try it yourself: <code>/incident help</code>, or switch people at the top right.</span>`);
  } else {
    setStatus(`<span>Press <b>Replay scenario</b> to watch a scripted incident, or type <code>/incident help</code>.</span>`);
  }
}

function setStatus(html) {
  setHtml($("scenario-status"), html);
}

// Files outside Slack that the scenario changes (the demo's flag file), read by the sandbox on every poll.
function renderOutside() {
  const el = $("outside");
  const files = state.view.outside || [];
  el.hidden = !files.length;
  const html = files.map((f) => `<span class="file" title="${escapeHtml(f.name)}: ${escapeHtml(f.text)}">🗂 <b>${
    escapeHtml(f.name)}</b> ${escapeHtml(f.text)}</span>`).join("");
  const changed = el.dataset.html !== undefined && el.dataset.html !== html;
  setHtml(el, html);
  if (changed) {  // a short highlight, without moving anything
    el.classList.remove("changed");
    void el.offsetWidth;
    el.classList.add("changed");
  }
}

// A replay moves between people and channels; the page follows it until the person picks their own way.
function followScenario() {
  const scenario = state.view.scenario;
  if (!scenario) return false;
  if (scenario.plays > state.plays) {
    state.plays = scenario.plays;
    state.follow = true;
  }
  if (!state.follow || !scenario.running || !scenario.user || !scenario.channel) return false;
  if (scenario.user === state.user && scenario.channel === state.channel) return false;
  state.user = scenario.user;
  state.channel = scenario.channel;
  return true;
}

function apply(data) {
  state.version = data.version;
  state.view = data;
  state.user = data.user;
  state.channel = data.channel.id;
  if (followScenario()) {
    refresh(true);
    return;
  }
  if (!state.known.has(state.user)) {  // what was there when this page first showed the person counts as read
    state.known.add(state.user);
    data.channels.forEach((c) => { state.lastSeen[`${state.user}/${c.id}`] = c.latest; });
  }
  state.lastSeen[`${state.user}/${state.channel}`] =
    (data.channels.find((c) => c.id === state.channel) || {}).latest || null;
  remember();
  renderUsers();
  renderChannels();
  renderHeader();
  renderScenario();
  renderOutside();
  renderMessages();
}

function remember() {
  const params = new URLSearchParams({ as: state.user, channel: state.channel });
  history.replaceState(null, "", `?${params}`);
}

async function refresh(force) {
  const seq = ++state.seq;
  const params = new URLSearchParams({ user: state.user || "", channel: state.channel || "",
    since: force ? "" : state.version || "" });
  let data;
  try {
    const response = await fetch(`/ui/state?${params}`, { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    data = await response.json();
  } catch (error) {
    if (seq !== state.seq) return;
    state.offline = true;
    showHint("The sandbox is not answering. Is <code>steward demo</code> still running?", true);
    return;
  }
  if (state.offline) {
    state.offline = false;
    showHint(defaultHint());
  }
  if (seq !== state.seq || !data.changed) return;
  apply(data);
}

async function poll() {
  try {
    await refresh(false);
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

// --- acting --------------------------------------------------------------------------------------

const hint = { busy: false, problem: false };

function showHint(html, problem = false) {
  hint.problem = problem;
  const el = $("composer-hint");
  el.classList.toggle("problem", problem);
  setHtml(el, html);
}

async function post(path, body) {
  const response = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body) });
  let answer = {};
  try { answer = await response.json(); } catch (error) { answer = {}; }
  if (!response.ok || !answer.ok) throw new Error(answer.error || `HTTP ${response.status}`);
  return answer;
}

async function send(event) {
  event.preventDefault();
  const input = $("composer");
  const text = input.value.trim();
  if (!text || hint.busy) return;
  hint.busy = true;
  $("send").disabled = true;
  showHint(text.startsWith("/") ? `Sending <code>${escapeHtml(text.split(" ")[0])}</code> as ${escapeHtml(personName(state.user))}…` : "Sending…");
  try {
    await post("/ui/command", { user: state.user, channel: state.channel, text });
    input.value = "";
    showHint(defaultHint());
  } catch (error) {
    showHint(escapeHtml(error.message), true);
  } finally {
    hint.busy = false;
    $("send").disabled = false;
    input.focus();
    refresh(true);
  }
}

function buttonElement(message, actionId) {
  for (const block of message.blocks || []) {
    const candidates = [...(block.type === "actions" ? block.elements || [] : []), block.accessory].filter(Boolean);
    const found = candidates.find((e) => e.action_id === actionId);
    if (found) return found;
  }
  return null;
}

function findMessage(ts) {
  for (const message of state.view.messages) {
    if (message.ts === ts) return message;
    const reply = (message.replies || []).find((r) => r.ts === ts);
    if (reply) return reply;
  }
  return null;
}

async function press(button) {
  const ts = button.closest(".message").dataset.ts;
  const message = findMessage(ts);
  const el = message && buttonElement(message, button.dataset.actionId);
  if (!el) return;
  if (el.url) window.open(el.url, "_blank", "noopener");
  if (el.confirm && !(await confirmDialog(el.confirm))) return;
  button.disabled = true;
  button.classList.add("busy");
  try {
    await post("/ui/click", { user: state.user, channel: state.channel, ts, action_id: el.action_id });
    if (!hint.busy) showHint(defaultHint());
  } catch (error) {
    showHint(escapeHtml(error.message), true);
  } finally {
    button.disabled = false;
    button.classList.remove("busy");
    refresh(true);
  }
}

function confirmDialog(confirm) {
  const dialog = $("confirm");
  $("confirm-title").innerHTML = textObject(confirm.title) || "Are you sure?";
  $("confirm-text").innerHTML = textObject(confirm.text);
  $("confirm-ok").innerHTML = textObject(confirm.confirm) || "Yes";
  $("confirm-deny").innerHTML = textObject(confirm.deny) || "Cancel";
  $("confirm-ok").className = `button ${confirm.style === "danger" ? "danger-filled" : "primary"}`;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
  });
}

function openChannel(id) {
  if (!id || id === state.channel) return closeDrawer();
  state.follow = false;
  state.channel = id;
  closeDrawer();
  refresh(true);
}

function setDrawer(open) {
  document.body.classList.toggle("drawer-open", open);
  $("scrim").hidden = !open;
  $("toggle-channels").setAttribute("aria-expanded", String(open));
}

function closeDrawer() {
  setDrawer(false);
}

function start() {
  const params = new URLSearchParams(location.search);
  state.user = params.get("as") || "U0COMMANDER";
  state.channel = params.get("channel");
  $("composer-form").addEventListener("submit", send);
  $("user-switcher").addEventListener("change", (event) => {
    state.follow = false;
    state.user = event.target.value;
    hint.problem = false;
    refresh(true);
  });
  $("replay").addEventListener("click", async () => {
    $("replay").disabled = true;
    try {
      await post("/ui/replay", {});
    } catch (error) {
      showHint(escapeHtml(error.message), true);
    }
    refresh(true);
  });
  document.addEventListener("click", (event) => {
    const channel = event.target.closest("[data-channel-id]");
    if (channel) {
      openChannel(channel.dataset.channelId);
      return;
    }
    const button = event.target.closest(".b-button");
    if (button) {
      press(button);
      return;
    }
    const toggle = event.target.closest(".thread-toggle");
    if (toggle) {
      const ts = toggle.closest(".message").dataset.ts;
      if (state.expanded.has(ts)) state.expanded.delete(ts); else state.expanded.add(ts);
      renderMessages();
    }
  });
  $("toggle-channels").addEventListener("click", () => setDrawer(!document.body.classList.contains("drawer-open")));
  $("scrim").addEventListener("click", closeDrawer);
  showHint("Loading the workspace…");
  poll();
}

document.addEventListener("DOMContentLoaded", start);
