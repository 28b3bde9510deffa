/* Parley's agent pages, made live: realtime updates, presence, keyboard shortcuts.
 *
 * Plain JavaScript, no framework; every page works without it (links and forms keep
 * their href/action). The sockets carry ids only: on an event this script asks the
 * server for the changed fragment over HTTP, so the agent's own permissions decide
 * what is shown (a private team's ticket never reaches someone outside it).
 *
 * Markup it relies on (all optional; a page without them simply is not live):
 *   [data-live="inbox"]     the inbox rows (tbody#rows) and counts; refetched from this page's URL
 *   [data-live="timeline"]  the ticket's conversation; refetched from the ticket page
 *   #presence[data-ws]      the ticket page's socket and its presence list
 *   [data-live="ticket"]    another region of the ticket page refetched the same way
 *   form.reply              the reply box (textarea[name=text], is_note), maybe in #reply-box
 *   #shortcuts              the '?' help dialog (templates/tickets/shortcuts.html)
 *   [data-shortcut=NAME]    a control a shortcut clicks (assign-me, solve, reply, note, search)
 */
(function () {
  "use strict";

  // ---------------------------------------------------------------- the socket

  var CLOSE_REFUSED = { 4401: "signed out", 4404: "not visible" };

  /* A websocket that comes back by itself: exponential backoff with jitter (0.5 s,
   * 1 s, 2 s ... capped at 30 s), at once when the browser comes back online. A refusal
   * (signed out, ticket not visible) is final: retrying could not change the answer. */
  function LiveSocket(path, handlers) {
    this.path = path;
    this.handlers = handlers;
    this.attempt = 0;
    this.timer = null;
    this.ws = null;
    this.stopped = false;
    this.everOpened = false;
    var self = this;
    window.addEventListener("online", function () { self.reconnectNow(); });
    window.addEventListener("pagehide", function () { self.stop(); });
    this.open();
  }

  LiveSocket.prototype.url = function () {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + this.path;
  };

  LiveSocket.prototype.open = function () {
    var self = this;
    if (this.stopped) return;
    var ws;
    try {
      ws = new WebSocket(this.url());
    } catch (err) {
      this.schedule();
      return;
    }
    this.ws = ws;
    ws.onopen = function () {
      var reconnected = self.everOpened;
      self.attempt = 0;
      self.everOpened = true;
      document.documentElement.dataset.live = "connected";
      if (self.handlers.open) self.handlers.open(reconnected);
    };
    ws.onmessage = function (msg) {
      var data;
      try { data = JSON.parse(msg.data); } catch (err) { return; }
      if (self.handlers.message) self.handlers.message(data);
    };
    ws.onclose = function (ev) {
      self.ws = null;
      document.documentElement.dataset.live = "disconnected";
      if (self.handlers.close) self.handlers.close(ev);
      if (CLOSE_REFUSED[ev.code]) { self.stopped = true; return; }
      self.schedule();
    };
  };

  LiveSocket.prototype.schedule = function () {
    if (this.stopped || this.timer) return;
    var base = Math.min(30000, 500 * Math.pow(2, this.attempt));
    var delay = base / 2 + Math.random() * base / 2;
    this.attempt += 1;
    var self = this;
    this.timer = setTimeout(function () { self.timer = null; self.open(); }, delay);
  };

  LiveSocket.prototype.reconnectNow = function () {
    if (this.stopped || this.ws) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.attempt = 0;
    this.open();
  };

  LiveSocket.prototype.send = function (data) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(data));
  };

  LiveSocket.prototype.stop = function () {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000);
  };

  // ---------------------------------------------------------------- fragments

  function parse(html) {
    // A <template> parses table rows and any other fragment the way the page would.
    var tpl = document.createElement("template");
    tpl.innerHTML = html;
    return tpl.content;
  }

  function get(url, asHtmx, targetId) {
    var headers = { "Accept": "text/html" };
    if (asHtmx) {
      // What htmx itself sends: views pick their fragment by HX-Target.
      headers["HX-Request"] = "true";
      headers["HX-Current-URL"] = location.href;
      if (targetId) headers["HX-Target"] = targetId;
    }
    return fetch(url, { headers: headers, credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      if (r.redirected && /\/login\//.test(r.url)) throw new Error("signed out");
      return r.text();
    });
  }

  /* The region's nearest ancestor with an id that holds every region: what htmx would
   * target to refresh them all in one request. */
  function commonTarget(regions) {
    if (regions.length === 1) return regions[0];
    var node = regions[0].parentElement;
    while (node && node !== document.body) {
      var holdsAll = regions.every(function (r) { return node.contains(r); });
      if (holdsAll && node.id) return node;
      node = node.parentElement;
    }
    return null;
  }

  /* The new content of each region (by id), in one request: the htmx answer of `url` for
   * their common target; a region missing from it is taken from the full page instead.
   * A lone region marked data-live-fragment takes the whole htmx answer as its content. */
  function fetchRegions(regions, url) {
    var target = commonTarget(regions);
    return get(url, true, target && target.id).then(function (html) {
      var doc = parse(html);
      var found = {}, missing = [];
      regions.forEach(function (region) {
        var match = doc.querySelector("#" + CSS.escape(region.id));
        if (match) found[region.id] = match.innerHTML;
        else if (regions.length === 1 && region.hasAttribute("data-live-fragment") && !doc.querySelector("main, body")) found[region.id] = html;
        else missing.push(region);
      });
      if (!missing.length) return found;
      return get(url, false).then(function (page) {
        var full = parse(page);
        missing.forEach(function (region) {
          var match = full.querySelector("#" + CSS.escape(region.id));
          if (match) found[region.id] = match.innerHTML;
        });
        return found;
      });
    });
  }

  function refreshRegions(regions, url) {
    if (!regions.length) return Promise.resolve([]);
    return fetchRegions(regions, url).then(function (found) {
      var fresh = [];
      regions.forEach(function (region) {
        if (found[region.id] !== undefined && document.contains(region)) fresh = fresh.concat(swap(region, found[region.id]));
      });
      return fresh;
    });
  }

  function rowKey(row) {
    if (row.id) return row.id;
    if (row.dataset.ticket) return row.dataset.ticket;
    var link = row.querySelector("a[href]");
    return link ? link.getAttribute("href") : null;
  }

  /* Swap a region's content keeping what the agent was doing in it: ticked checkboxes
   * (bulk actions), the focused link or control, open <details>. */
  function swap(target, html) {
    var checked = [];
    target.querySelectorAll("input[type=checkbox]:checked, input[type=radio]:checked").forEach(function (el) {
      checked.push([el.name, el.value]);
    });
    var opened = [];
    target.querySelectorAll("details[open][id]").forEach(function (el) { opened.push(el.id); });
    var active = document.activeElement;
    var focusKey = null;
    if (active && target.contains(active)) {
      focusKey = active.id ? "#" + CSS.escape(active.id)
        : active.getAttribute("href") ? "[href=\"" + CSS.escape(active.getAttribute("href")) + "\"]"
        : active.name ? "[name=\"" + CSS.escape(active.name) + "\"][value=\"" + CSS.escape(active.value || "") + "\"]"
        : null;
    }
    var before = {};
    target.querySelectorAll("tr, article").forEach(function (row) { before[rowKey(row)] = true; });

    target.innerHTML = html;

    checked.forEach(function (pair) {
      target.querySelectorAll("input[name=\"" + CSS.escape(pair[0]) + "\"]").forEach(function (el) {
        if (el.value === pair[1]) el.checked = true;
      });
    });
    opened.forEach(function (id) { var el = document.getElementById(id); if (el) el.open = true; });
    if (focusKey) {
      var again = target.querySelector(focusKey);
      if (again) again.focus({ preventScroll: true });
    }
    var fresh = [];
    target.querySelectorAll("tr, article").forEach(function (row) {
      var key = rowKey(row);
      if (key && !before[key]) { row.classList.add("live-new"); fresh.push(row); }
    });
    if (window.htmx) window.htmx.process(target);
    return fresh;
  }

  /* At most one refresh in flight and one waiting, at most one a second: a busy inbox
   * (hundreds of messages a minute) costs each open page one request a second. */
  function throttled(fn, minGapMs) {
    var running = false, again = false, last = 0;
    function go() {
      last = Date.now();
      again = false;
      Promise.resolve().then(fn).catch(function (err) {
        if (window.console) console.warn("parley: refresh failed", err);
      }).then(function () {
        running = false;
        if (again) trigger();
      });
    }
    function trigger() {
      if (running) { again = true; return; }
      running = true;
      setTimeout(go, Math.max(0, last + minGapMs - Date.now()));
    }
    return trigger;
  }

  function announce(text) {
    var region = document.getElementById("live-announcer");
    if (!region) {
      region = document.createElement("div");
      region.id = "live-announcer";
      region.className = "visually-hidden";
      region.setAttribute("aria-live", "polite");
      document.body.appendChild(region);
    }
    region.textContent = text;
  }

  // ---------------------------------------------------------------- the inbox

  function liveInbox() {
    // The rows, and any other region of the inbox marked data-live="inbox" (the counts).
    var refresh = throttled(function () {
      var regions = Array.prototype.slice.call(document.querySelectorAll("[data-live=inbox][id]"));
      return refreshRegions(regions, location.href).then(function (fresh) {
        var rows = fresh.filter(function (el) { return el.tagName === "TR"; });
        if (rows.length) announce(rows.length === 1 ? "1 ticket updated" : rows.length + " tickets updated");
      });
    }, 1000);
    new LiveSocket("/ws/inbox/", {
      open: function (reconnected) { if (reconnected) refresh(); }, // events missed while away
      message: function (event) { if (event.ticket_id) refresh(); }
    });
  }

  // ---------------------------------------------------------------- the ticket page

  function replyForm() {
    return document.querySelector("form.reply");
  }

  function replyText() {
    var box = document.querySelector("form.reply textarea[name=text]");
    return box ? box.value.trim() : "";
  }

  /* The notice lives outside the reply box: htmx swaps the box (a macro inserted) and the
   * warning must survive that. */
  function ticketNotice() {
    var notice = document.getElementById("collision-notice");
    if (!notice) {
      notice = document.createElement("div");
      notice.id = "collision-notice";
      notice.className = "collision-notice";
      notice.setAttribute("role", "alert");
      notice.hidden = true;
      var anchor = document.getElementById("reply-box") || replyForm() || document.getElementById("presence");
      anchor.parentNode.insertBefore(notice, anchor);
    }
    return notice;
  }

  function liveTicket(panel) {
    var viewers = document.getElementById("presence-viewers");
    var newSinceLoad = 0; // messages that arrived while the agent had text in the box
    var confirmed = false;
    var heartbeat = null;
    var replying = false;

    // The timeline, and any other region marked data-live="ticket" (unless the agent is
    // working in it: a half-edited form is never swapped away).
    var refresh = throttled(function () {
      var regions = Array.prototype.filter.call(
        document.querySelectorAll("[data-live=timeline][id], [data-live=ticket][id]"),
        function (region) { return region.dataset.live === "timeline" || !region.contains(document.activeElement); }
      );
      return refreshRegions(regions, location.pathname);
    }, 500);

    function warn() {
      var notice = ticketNotice();
      notice.innerHTML = "";
      var text = document.createElement("p");
      text.textContent = (newSinceLoad === 1 ? "A new message arrived" : newSinceLoad + " new messages arrived")
        + " while you were writing. Read it before you send.";
      notice.appendChild(text);
      var send = document.createElement("button");
      send.type = "button";
      send.textContent = "Send anyway";
      send.addEventListener("click", function () {
        var form = replyForm();
        confirmed = true;
        notice.hidden = true;
        if (!form) return;
        var primary = form.querySelector("button[type=submit].primary, button[type=submit]");
        if (form.requestSubmit) form.requestSubmit(primary || undefined); else form.submit();
      });
      notice.appendChild(send);
      notice.hidden = false;
      return send;
    }

    var socket = new LiveSocket(panel.dataset.ws, {
      open: function (reconnected) {
        replying = false;
        setReplying();
        if (reconnected) refresh();
      },
      message: function (event) {
        if (event.kind === "welcome") {
          clearInterval(heartbeat);
          heartbeat = setInterval(function () { socket.send({ type: "heartbeat" }); },
            (event.heartbeat_seconds || 15) * 1000);
        } else if (event.kind === "presence") {
          if (viewers) viewers.innerHTML = event.html;
        } else if (event.kind === "ticket.merged" && event.merged_into_number) {
          var note = ticketNotice();
          note.textContent = "This ticket was merged into ";
          var link = document.createElement("a");
          link.href = "/tickets/" + encodeURIComponent(event.merged_into_number) + "/";
          link.textContent = "#" + event.merged_into_number;
          note.appendChild(link);
          note.hidden = false;
        } else if (event.kind === "visitor.typing") {
          visitorTyping(event); // live chat: the customer is writing (no refetch needed)
        } else if (event.ticket_id) {
          if (event.kind === "message.created" && replyText()) {
            newSinceLoad += 1;
            confirmed = false;
            warn();
          }
          refresh();
        }
      },
      close: function () { clearInterval(heartbeat); }
    });

    function visitorTyping(event) {
      var line = document.getElementById("visitor-typing");
      if (!line) {
        line = document.createElement("p");
        line.id = "visitor-typing";
        line.className = "presence-replying";
        line.setAttribute("aria-live", "polite");
        panel.appendChild(line);
      }
      line.textContent = event.state ? (event.name || "The customer") + " is typing…" : "";
      line.hidden = !event.state;
    }

    function setReplying() {
      var now = replyText() !== "";
      if (now !== replying) {
        replying = now;
        socket.send({ type: "replying", replying: now });
      }
    }

    // Delegated: the reply box may be replaced by htmx (a macro inserted) at any time.
    document.addEventListener("input", function (ev) {
      if (ev.target.closest && ev.target.closest("form.reply")) setReplying();
    });
    document.body.addEventListener("htmx:afterSwap", setReplying);
    document.addEventListener("submit", function (ev) {
      var form = ev.target;
      if (!form.matches || !form.matches("form.reply")) return;
      var sending = !ev.submitter || !ev.submitter.hasAttribute("formaction"); // "Insert" a macro is not sending
      if (sending && newSinceLoad && !confirmed && replyText()) {
        ev.preventDefault();
        warn().focus();
      }
    }, true);
  }

  // ---------------------------------------------------------------- keyboard

  function isTyping(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }

  function shortcutTarget(name) {
    return document.querySelector("[data-shortcut=\"" + name + "\"]");
  }

  function inboxRows() {
    var body = document.querySelector("tbody[data-live=inbox]") || document.querySelector("table.inbox tbody");
    if (!body) return [];
    return Array.prototype.filter.call(body.querySelectorAll("tr"), function (row) {
      return row.querySelector("a[href*='/tickets/']");
    });
  }

  function moveSelection(step) {
    var rows = inboxRows();
    if (!rows.length) return;
    var current = rows.findIndex(function (row) { return row.contains(document.activeElement); });
    var next = current === -1 ? (step > 0 ? 0 : rows.length - 1) : Math.max(0, Math.min(rows.length - 1, current + step));
    rows.forEach(function (row) { row.classList.remove("is-selected"); });
    rows[next].classList.add("is-selected");
    // Focus the ticket's link: the focus ring shows where we are, Enter opens it natively.
    var link = rows[next].querySelector("a[href*='/tickets/']");
    link.focus();
    rows[next].scrollIntoView({ block: "nearest" });
  }

  function openSelection() {
    var row = inboxRows().find(function (r) { return r.contains(document.activeElement) || r.classList.contains("is-selected"); });
    if (row) location.href = row.querySelector("a[href*='/tickets/']").href;
  }

  function focusReply(asNote) {
    var explicit = shortcutTarget(asNote ? "note" : "reply");
    if (explicit && explicit.tagName !== "TEXTAREA") explicit.click();
    var form = document.querySelector("form.reply");
    if (!form) return false;
    var toggle = form.querySelector("input[name=is_note]");
    if (toggle && !explicit) {
      if (toggle.type === "checkbox") {
        if (toggle.checked !== asNote) { toggle.checked = asNote; toggle.dispatchEvent(new Event("change", { bubbles: true })); }
      } else {
        var choice = form.querySelector("input[name=is_note][value=\"" + (asNote ? "True" : "False") + "\"]")
          || form.querySelector("input[name=is_note][value=\"" + (asNote ? "1" : "0") + "\"]")
          || form.querySelector("input[name=is_note][value=\"" + (asNote ? "true" : "false") + "\"]");
        if (choice) choice.click();
      }
    }
    var box = form.querySelector("textarea[name=text]");
    if (box) { box.focus(); box.scrollIntoView({ block: "center" }); }
    return true;
  }

  function submitWith(select, value) {
    if (!select) return false;
    var option = Array.prototype.find.call(select.options, function (o) { return o.value === value; });
    if (!option) return false;
    select.value = value;
    select.dispatchEvent(new Event("change", { bubbles: true }));
    var form = select.form;
    if (form && !form.classList.contains("reply")) {
      if (form.requestSubmit) form.requestSubmit(); else form.submit();
    }
    return true;
  }

  function assignToMe() {
    var button = shortcutTarget("assign-me");
    if (button) { button.click(); return; }
    var dialog = document.getElementById("shortcuts");
    var me = dialog && dialog.dataset.userId;
    var select = document.querySelector("form:not(.reply) select[name=assignee]");
    if (!(me && submitWith(select, me))) announce("Assign to me is not available on this page");
  }

  function solve() {
    var button = shortcutTarget("solve");
    if (button) { button.click(); return; }
    if (!submitWith(document.querySelector("form:not(.reply) select[name=status]"), "solved")) {
      announce("Solve is not available on this page");
    }
  }

  function focusSearch() {
    var box = shortcutTarget("search") || document.querySelector("input[type=search], input[name=q]");
    if (box) { box.focus(); if (box.select) box.select(); return true; }
    return false;
  }

  function inboxUrl() {
    var brand = document.querySelector(".topbar .brand");
    return brand ? brand.getAttribute("href") : "/";
  }

  function setupHelp() {
    var dialog = document.getElementById("shortcuts");
    if (!dialog) return null;
    var opener = null;
    document.querySelectorAll("[data-shortcuts-open]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { show(); });
    });
    function show() {
      if (dialog.open) return;
      opener = document.activeElement;
      dialog.showModal(); // modal: focus moves in, stays in, Esc closes (native)
    }
    dialog.addEventListener("close", function () {
      if (opener && opener.focus && document.contains(opener)) opener.focus();
    });
    return show;
  }

  function setupKeyboard() {
    var showHelp = setupHelp();
    var pendingG = 0;
    document.addEventListener("keydown", function (ev) {
      if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey) return;
      if (isTyping(ev.target)) {
        // Shortcuts never steal letters from a text box; Esc leaves the box (its text stays)
        // so the keyboard gets its shortcuts back without reaching for the mouse.
        if (ev.key === "Escape" && ev.target.tagName !== "SELECT" && !ev.target.closest("dialog")) ev.target.blur();
        return;
      }
      var dialog = document.getElementById("shortcuts");
      if (dialog && dialog.open) return; // the dialog has its own keys (Tab, Esc)
      var key = ev.key;
      if (pendingG && Date.now() - pendingG < 1500) {
        pendingG = 0;
        if (key === "i") { ev.preventDefault(); location.href = inboxUrl(); }
        return;
      }
      pendingG = 0;
      var handled = true;
      switch (key) {
        case "?": if (showHelp) showHelp(); else handled = false; break;
        case "j": moveSelection(1); break;
        case "k": moveSelection(-1); break;
        case "o": openSelection(); break;
        case "Enter":
          // A focused link or button does its own thing; a selected row opens.
          if (document.activeElement && document.activeElement !== document.body) { handled = false; break; }
          openSelection();
          break;
        case "r": handled = focusReply(false); break;
        case "n": handled = focusReply(true); break;
        case "a": assignToMe(); break;
        case "s": solve(); break;
        case "g": pendingG = Date.now(); break;
        case "/": handled = focusSearch(); break;
        default: handled = false;
      }
      if (handled) ev.preventDefault();
    });
  }

  // ---------------------------------------------------------------- dashboards

  /* The managers' live tiles (templates/metrics/dashboard.html): ticket events on the
   * inbox socket ask htmx to refetch the tiles, at most once every 3 s. */
  function liveDashboard() {
    var timer = null;
    new LiveSocket("/ws/inbox/", {
      message: function () {
        if (timer || !window.htmx) return;
        timer = setTimeout(function () { timer = null; window.htmx.trigger(document.body, "parley:dashboard"); }, 3000);
      },
      open: function (reconnected) { if (reconnected && window.htmx) window.htmx.trigger(document.body, "parley:dashboard"); }
    });
  }

  // ---------------------------------------------------------------- start

  function start() {
    setupKeyboard();
    if (document.querySelector("[data-live=dashboard]") && "WebSocket" in window) liveDashboard();
    if (document.querySelector("[data-live=inbox]") && "WebSocket" in window) liveInbox();
    var panel = document.querySelector("#presence[data-ws]");
    if (panel && "WebSocket" in window) liveTicket(panel);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
