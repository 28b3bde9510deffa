/* Parley live-chat widget: plain JavaScript, no dependencies, no build step.
 *
 * Served inside /widget/<channel-key>.js, which appends ParleyWidget.boot({...settings}).
 * Everything is drawn in a shadow root so the host page's styles cannot reach it, and
 * message text only ever enters the page through textContent (links are anchors built
 * element by element), never through innerHTML.
 *
 * Delivery: every message the visitor writes goes to an outbox kept in localStorage and is
 * sent with its client_id until the server acknowledges it (after storing it); a re-sent
 * client_id is stored once by the server, so a flaky network loses nothing and doubles
 * nothing. The websocket reconnects with exponential backoff and jitter; after repeated
 * failures the widget polls the HTTPS endpoints instead and keeps trying the socket.
 */
(function () {
  "use strict";
  if (window.ParleyWidget) return;

  var T = {
    en: {
      open: "Chat with us", close: "Close chat", placeholder: "Write a message…", send: "Send", attach: "Attach a file",
      name: "Your name", email: "Your email", optional: "optional", start: "Start chat",
      offline: "No one is available right now. Leave your email and we will answer there.",
      offlineKnown: "No one is available right now. We will answer by email.",
      saveEmail: "Save email", emailSaved: "Thanks! We will reply to {email}.", typing: "{name} is typing…",
      rate: "How would you rate this conversation?", comment: "Anything to add? (optional)", submit: "Send rating",
      thanks: "Thank you for your feedback!", closed: "This conversation has been closed. Write again any time.",
      pending: "Sending", sent: "Sent", read: "Read", failed: "Not sent", tooBig: "{name} is larger than {size}.",
      badType: "Files of this type cannot be sent: {name}.", reconnecting: "Reconnecting…", agent: "Support",
      you: "You", error: "Something went wrong. Please try again.", required: "Please fill in the required fields.",
      star: "{n} of 5"
    },
    fr: {
      open: "Discuter avec nous", close: "Fermer la discussion", placeholder: "Écrivez un message…", send: "Envoyer",
      attach: "Joindre un fichier", name: "Votre nom", email: "Votre e-mail", optional: "facultatif", start: "Commencer",
      offline: "Personne n'est disponible pour le moment. Laissez votre e-mail et nous vous répondrons.",
      offlineKnown: "Personne n'est disponible pour le moment. Nous vous répondrons par e-mail.",
      saveEmail: "Enregistrer", emailSaved: "Merci ! Nous répondrons à {email}.", typing: "{name} écrit…",
      rate: "Comment évaluez-vous cette conversation ?", comment: "Un commentaire ? (facultatif)", submit: "Envoyer la note",
      thanks: "Merci pour votre avis !", closed: "Cette conversation est terminée. Écrivez-nous quand vous voulez.",
      pending: "Envoi", sent: "Envoyé", read: "Lu", failed: "Non envoyé", tooBig: "{name} dépasse {size}.",
      badType: "Ce type de fichier ne peut pas être envoyé : {name}.", reconnecting: "Reconnexion…", agent: "Support",
      you: "Vous", error: "Une erreur est survenue. Veuillez réessayer.", required: "Veuillez remplir les champs obligatoires.",
      star: "{n} sur 5"
    },
    de: {
      open: "Chatten Sie mit uns", close: "Chat schließen", placeholder: "Nachricht schreiben…", send: "Senden",
      attach: "Datei anhängen", name: "Ihr Name", email: "Ihre E-Mail", optional: "optional", start: "Chat starten",
      offline: "Gerade ist niemand erreichbar. Hinterlassen Sie Ihre E-Mail, wir antworten dorthin.",
      offlineKnown: "Gerade ist niemand erreichbar. Wir antworten per E-Mail.",
      saveEmail: "E-Mail speichern", emailSaved: "Danke! Wir antworten an {email}.", typing: "{name} schreibt…",
      rate: "Wie bewerten Sie dieses Gespräch?", comment: "Möchten Sie etwas ergänzen? (optional)", submit: "Bewertung senden",
      thanks: "Vielen Dank für Ihr Feedback!", closed: "Dieses Gespräch wurde beendet. Schreiben Sie uns jederzeit.",
      pending: "Wird gesendet", sent: "Gesendet", read: "Gelesen", failed: "Nicht gesendet", tooBig: "{name} ist größer als {size}.",
      badType: "Dieser Dateityp kann nicht gesendet werden: {name}.", reconnecting: "Verbindung wird wiederhergestellt…",
      agent: "Support", you: "Sie", error: "Etwas ist schiefgelaufen. Bitte erneut versuchen.",
      required: "Bitte füllen Sie die Pflichtfelder aus.", star: "{n} von 5"
    },
    es: {
      open: "Chatea con nosotros", close: "Cerrar chat", placeholder: "Escribe un mensaje…", send: "Enviar",
      attach: "Adjuntar un archivo", name: "Tu nombre", email: "Tu correo", optional: "opcional", start: "Empezar chat",
      offline: "Ahora no hay nadie disponible. Déjanos tu correo y te responderemos allí.",
      offlineKnown: "Ahora no hay nadie disponible. Te responderemos por correo.",
      saveEmail: "Guardar correo", emailSaved: "¡Gracias! Responderemos a {email}.", typing: "{name} está escribiendo…",
      rate: "¿Cómo valoras esta conversación?", comment: "¿Algo que añadir? (opcional)", submit: "Enviar valoración",
      thanks: "¡Gracias por tu opinión!", closed: "Esta conversación se ha cerrado. Escríbenos cuando quieras.",
      pending: "Enviando", sent: "Enviado", read: "Leído", failed: "No enviado", tooBig: "{name} supera {size}.",
      badType: "No se pueden enviar archivos de este tipo: {name}.", reconnecting: "Reconectando…", agent: "Soporte",
      you: "Tú", error: "Algo salió mal. Inténtalo de nuevo.", required: "Rellena los campos obligatorios.", star: "{n} de 5"
    }
  };

  var SVG = "http://www.w3.org/2000/svg";
  var URL_RE = /\bhttps?:\/\/[^\s<>"']+/gi;
  var WS_FAILURES_BEFORE_POLLING = 3;
  var RESEND_AFTER_MS = 8000;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      for (var k in attrs) {
        if (k === "text") node.textContent = attrs[k];
        else if (k === "class") node.className = attrs[k];
        else if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) node.setAttribute(k, attrs[k] === true ? "" : attrs[k]);
      }
    }
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  function icon(d) {
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(SVG, "path");
    path.setAttribute("d", d);
    svg.appendChild(path);
    return svg;
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function safeUrl(value, base) {
    if (!value) return null;
    try {
      var u = new URL(value, base);
      return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
    } catch (e) {
      return null;
    }
  }

  function link(href, text) {
    // Links open in a new tab and give the opened page no handle on this one.
    return el("a", { href: href, target: "_blank", rel: "noopener noreferrer nofollow", text: text });
  }

  /* Text with its http(s) links made clickable: text nodes and anchors, nothing parsed as HTML. */
  function linkify(text) {
    var frag = document.createDocumentFragment();
    var last = 0;
    text = String(text || "");
    text.replace(URL_RE, function (match, offset) {
      var url = match.replace(/[.,;:!?)\]}]+$/, "");
      var href = safeUrl(url);
      if (!href) return match;
      frag.appendChild(document.createTextNode(text.slice(last, offset)));
      frag.appendChild(link(href, url));
      last = offset + url.length;
      return match;
    });
    frag.appendChild(document.createTextNode(text.slice(last)));
    return frag;
  }

  function humanSize(bytes) {
    return bytes >= 1048576 ? Math.round(bytes / 104857.6) / 10 + " MB" : Math.max(1, Math.round(bytes / 1024)) + " KB";
  }

  /* localStorage that never throws (blocked storage, private modes, quota). */
  function Store(prefix) {
    this.get = function (name, fallback) {
      try {
        var v = window.localStorage.getItem(prefix + name);
        return v === null ? fallback : JSON.parse(v);
      } catch (e) {
        return fallback;
      }
    };
    this.set = function (name, value) {
      try {
        if (value === null || value === undefined) window.localStorage.removeItem(prefix + name);
        else window.localStorage.setItem(prefix + name, JSON.stringify(value));
      } catch (e) { /* storage unavailable: the conversation lasts as long as the page */ }
    };
    this.key = function (name) { return prefix + name; };
  }

  function Widget(cfg, scriptSrc) {
    var self = this;
    // Where the loader came from (right behind proxies too), else what the server thinks it is.
    var base = (scriptSrc ? new URL(scriptSrc).origin : cfg.base).replace(/\/$/, "");
    var key = cfg.key;
    var hostSettings = window.ParleySettings || {};
    var lang = String(hostSettings.language || cfg.language || navigator.language || "en").slice(0, 2).toLowerCase();
    var strings = T[lang] || T.en;
    var store = new Store("parley." + key + ".");
    var state = {
      token: store.get("token", null), open: false, ws: null, wsFailures: 0, wsTimer: null, polling: false, pollTimer: null,
      lastId: 0, readSent: 0, agentsAvailable: true, typingSent: false, typingTimer: null, peerTypingTimer: null,
      unread: 0, starting: null, control: [], seenRead: 0, csatScore: 0
    };
    var byId = {};
    var byClientId = {};
    var ui = {};

    function t(name, vars) {
      var s = strings[name] || T.en[name] || name;
      for (var k in vars || {}) s = s.split("{" + k + "}").join(vars[k]);
      return s;
    }

    /* ---------- drawing ---------- */

    function build() {
      var host = el("div", { "data-parley-widget": key });
      var root = host.attachShadow({ mode: "open" });
      if (/^#[0-9a-fA-F]{3,8}$/.test(cfg.color || "")) host.style.setProperty("--parley-color", cfg.color);
      root.appendChild(el("style", { text: cfg.css || "" }));

      ui.badge = el("span", { class: "badge", hidden: true });
      ui.launcher = el("button", { type: "button", class: "launcher", "aria-label": t("open"), "aria-expanded": "false" },
        [icon("M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"), ui.badge]);
      ui.title = el("strong", { text: cfg.title || t("agent") });
      ui.closeBtn = el("button", { type: "button", class: "close", "aria-label": t("close"), text: "×" });
      ui.notice = el("p", { class: "notice", role: "status", hidden: true });
      ui.log = el("ol", { class: "log", "aria-live": "polite" });
      ui.typing = el("p", { class: "typing", hidden: true });

      ui.prechat = el("form", { class: "prechat", hidden: true, novalidate: true });
      // A signed-in user of the host site (verified identity) is asked only for a required name it lacks.
      var pre = cfg.prechat || {};
      var user = identity() && hostSettings.user;
      ui.prechatName = field(ui.prechat, "name", "text", user ? (pre.name === "required" && !user.name ? "required" : "off") : pre.name);
      ui.prechatEmail = field(ui.prechat, "email", "email", user ? "off" : pre.email);
      ui.prechatError = el("p", { class: "error", role: "alert", hidden: true });
      ui.prechat.appendChild(ui.prechatError);
      ui.prechat.appendChild(el("button", { type: "submit", class: "primary", text: t("start") }));

      ui.emailForm = el("form", { class: "email-form", hidden: true });
      ui.emailInput = el("input", { type: "email", name: "email", required: true, "aria-label": t("email"), placeholder: t("email"), autocomplete: "email" });
      ui.emailForm.appendChild(ui.emailInput);
      ui.emailForm.appendChild(el("button", { type: "submit", text: t("saveEmail") }));

      ui.csat = el("form", { class: "csat", hidden: true });
      ui.csat.appendChild(el("p", { text: t("rate") }));
      var stars = el("div", { class: "stars", role: "radiogroup", "aria-label": t("rate") });
      ui.stars = [];
      for (var n = 1; n <= 5; n++) {
        var b = el("button", { type: "button", class: "star", role: "radio", "aria-checked": "false", "aria-label": t("star", { n: n }), "data-score": n, text: "★" });
        ui.stars.push(b);
        stars.appendChild(b);
      }
      ui.csat.appendChild(stars);
      ui.csatComment = el("textarea", { name: "comment", rows: "2", maxlength: "2000", placeholder: t("comment"), "aria-label": t("comment") });
      ui.csat.appendChild(ui.csatComment);
      ui.csatSubmit = el("button", { type: "submit", class: "primary", disabled: true, text: t("submit") });
      ui.csat.appendChild(ui.csatSubmit);

      ui.file = el("input", { type: "file", hidden: true, accept: (cfg.upload && cfg.upload.types || []).join(",") });
      ui.attach = el("button", { type: "button", class: "attach", "aria-label": t("attach"), title: t("attach") },
        [icon("M16.5 6.5 8 15a2.1 2.1 0 0 0 3 3l8.5-8.5a4.2 4.2 0 0 0-6-6L5 12a6.4 6.4 0 0 0 9 9l7-7")]);
      ui.text = el("textarea", { name: "text", rows: "1", maxlength: String(cfg.max_text || 5000), placeholder: t("placeholder"), "aria-label": t("placeholder") });
      ui.sendBtn = el("button", { type: "submit", class: "send", "aria-label": t("send"), title: t("send") }, [icon("M3 20 21 12 3 4v6l12 2-12 2z")]);
      ui.composer = el("form", { class: "composer" }, [ui.attach, ui.file, ui.text, ui.sendBtn]);

      ui.panel = el("section", { class: "panel", role: "dialog", "aria-label": cfg.title || t("open"), hidden: true }, [
        el("header", null, [ui.title, ui.closeBtn]), ui.notice, ui.log, ui.typing, ui.prechat, ui.emailForm, ui.csat, ui.composer
      ]);
      var wrap = el("div", { class: "parley " + (cfg.position === "left" ? "left" : "right"), lang: lang }, [ui.panel, ui.launcher]);
      root.appendChild(wrap);
      (document.body || document.documentElement).appendChild(host);
      ui.host = host;
      ui.root = root;
      if (cfg.greeting) ui.log.appendChild(el("li", { class: "msg system greeting" }, [el("div", { class: "bubble" }, [linkify(cfg.greeting)])]));
      wire();
    }

    function field(form, name, type, mode) {
      if (mode !== "optional" && mode !== "required") return null;
      var input = el("input", { type: type, name: name, required: mode === "required", autocomplete: name });
      var label = el("label", null, [el("span", { text: t(name) + (mode === "optional" ? " (" + t("optional") + ")" : " *") }), input]);
      form.appendChild(label);
      return input;
    }

    function wire() {
      ui.launcher.addEventListener("click", function () { setOpen(!state.open); });
      ui.closeBtn.addEventListener("click", function () { setOpen(false); ui.launcher.focus(); });
      ui.panel.addEventListener("keydown", function (e) { if (e.key === "Escape") { setOpen(false); ui.launcher.focus(); } });
      ui.composer.addEventListener("submit", function (e) { e.preventDefault(); submitText(); });
      ui.text.addEventListener("keydown", function (e) {
        if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); submitText(); }
      });
      ui.text.addEventListener("input", onTyping);
      ui.attach.addEventListener("click", function () { ui.file.click(); });
      ui.file.addEventListener("change", function () {
        Array.prototype.forEach.call(ui.file.files || [], upload);
        ui.file.value = "";
      });
      ui.prechat.addEventListener("submit", function (e) { e.preventDefault(); submitPrechat(); });
      ui.emailForm.addEventListener("submit", function (e) { e.preventDefault(); submitEmail(); });
      ui.stars.forEach(function (b) {
        b.addEventListener("click", function () {
          state.csatScore = Number(b.getAttribute("data-score"));
          ui.stars.forEach(function (s, i) {
            s.setAttribute("aria-checked", String(i + 1 === state.csatScore));
            s.classList.toggle("on", i < state.csatScore);
          });
          ui.csatSubmit.disabled = false;
        });
      });
      ui.csat.addEventListener("submit", function (e) { e.preventDefault(); submitCsat(); });
      document.addEventListener("visibilitychange", sendRead);
      window.addEventListener("online", function () { if (state.token && !socketOpen()) connect(); });
      window.addEventListener("storage", onStorage);
      if (window.BroadcastChannel) {
        state.bus = new BroadcastChannel("parley." + key);
        state.bus.onmessage = function (e) { onTabMessage(e.data); };
      }
    }

    function setOpen(open) {
      state.open = open;
      ui.panel.hidden = !open;
      ui.launcher.setAttribute("aria-expanded", String(open));
      if (!open) return;
      state.unread = 0;
      showBadge();
      if (!state.token && !state.starting) {
        if (needsPrechat()) showPrechat(true);
        else startSession({});
      }
      scrollDown();
      sendRead();
      (ui.prechat.hidden ? ui.text : ui.prechat.querySelector("input") || ui.text).focus();
    }

    function showBadge() {
      ui.badge.hidden = !state.unread;
      ui.badge.textContent = state.unread > 9 ? "9+" : String(state.unread);
    }

    function notice(text, kind) {
      ui.notice.hidden = !text;
      ui.notice.textContent = text || "";
      ui.notice.className = "notice" + (kind ? " " + kind : "");
    }

    function scrollDown() { ui.log.scrollTop = ui.log.scrollHeight; }

    function identity() {
      var u = hostSettings.user;
      if (!u || !u.signature || state.identityRefused) return null;
      return { user_id: String(u.id), email: String(u.email || ""), timestamp: Number(u.timestamp), signature: String(u.signature) };
    }

    function needsPrechat() {
      return !!(ui.prechatName || ui.prechatEmail);
    }

    function showPrechat(show) {
      ui.prechat.hidden = !show;
      ui.composer.hidden = show;
    }

    /* ---------- messages ---------- */

    function mark(node, status) {
      if (!node || node.getAttribute("data-status") === "read" && status !== "failed") return;
      node.setAttribute("data-status", status);
      var m = node.querySelector(".mark");
      if (m) {
        m.textContent = { pending: "○", sent: "✓", read: "✓✓", failed: "!" }[status];
        m.setAttribute("title", t(status));
        m.setAttribute("aria-label", t(status));
      }
    }

    function attachmentNode(a) {
      var href = safeUrl(a.url, base);
      var label = String(a.name || "file") + (a.size ? " (" + humanSize(a.size) + ")" : "");
      if (!href) return el("span", { class: "file placeholder", text: label });
      if (/^image\//.test(a.content_type || "")) {
        var anchor = link(href, "");
        anchor.appendChild(el("img", { src: href, alt: String(a.name || ""), loading: "lazy" }));
        return anchor;
      }
      var file = link(href, label);
      file.className = "file";
      return file;
    }

    /* Draw a message once, or update the one already drawn (matched by id or client_id). */
    function addMessage(m) {
      var node = (m.id && byId[m.id]) || (m.client_id && byClientId[m.client_id]);
      var mine = m.author === "visitor";
      if (!node) {
        var bubble = el("div", { class: "bubble" }, [linkify(m.text)]);
        (m.attachments || []).forEach(function (a) { bubble.appendChild(attachmentNode(a)); });
        var when = m.at ? new Date(m.at) : new Date();
        var meta = el("div", { class: "meta" }, [
          el("span", { class: "who", text: mine ? t("you") : String(m.name || t("agent")) }),
          el("time", { datetime: when.toISOString(), text: when.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" }) })
        ]);
        if (mine) meta.appendChild(el("span", { class: "mark" }));
        node = el("li", { class: "msg " + (mine ? "visitor" : m.author === "system" ? "system" : "agent") }, [bubble, meta]);
        ui.log.appendChild(node);
        if (mine) mark(node, m.id ? "sent" : "pending");
        if (m.author === "agent" && !state.quiet && (!state.open || document.hidden)) {
          state.unread++;
          showBadge();
        }
        scrollDown();
      } else if (m.attachments && m.attachments.length && node.querySelector(".bubble .placeholder")) {
        // An upload drawn while it was sending: now the server's links to the stored file.
        Array.prototype.forEach.call(node.querySelectorAll(".bubble .placeholder"), function (p) { p.remove(); });
        m.attachments.forEach(function (a) { node.querySelector(".bubble").appendChild(attachmentNode(a)); });
      }
      if (m.client_id) byClientId[m.client_id] = node;
      if (m.id) {
        byId[m.id] = node;
        node.setAttribute("data-id", m.id);
        state.lastId = Math.max(state.lastId, m.id);
        if (mine) mark(node, m.id <= state.seenRead ? "read" : "sent");
        if (m.client_id) dropFromOutbox(m.client_id);
      }
      if (m.author === "agent") {
        showTyping(null, false);
        sendRead();
      }
    }

    function showTyping(name, on) {
      clearTimeout(state.peerTypingTimer);
      ui.typing.hidden = !on;
      ui.typing.textContent = on ? t("typing", { name: name || t("agent") }) : "";
      if (on) state.peerTypingTimer = setTimeout(function () { showTyping(null, false); }, 8000);
    }

    function markRead(upTo) {
      state.seenRead = Math.max(state.seenRead, upTo);
      for (var id in byId) {
        if (Number(id) <= upTo && byId[id].classList.contains("visitor")) mark(byId[id], "read");
      }
    }

    /* ---------- outbox ---------- */

    function outbox() { return store.get("outbox", []); }

    function dropFromOutbox(clientId) {
      var items = outbox();
      var rest = items.filter(function (i) { return i.client_id !== clientId; });
      if (rest.length !== items.length) store.set("outbox", rest.length ? rest : null);
    }

    function submitText() {
      var text = ui.text.value.replace(/^\s+|\s+$/g, "");
      if (!text) return;
      ui.text.value = "";
      stopTyping();
      var item = { client_id: uuid(), text: text, at: new Date().toISOString() };
      store.set("outbox", outbox().concat([item]));
      var m = { client_id: item.client_id, author: "visitor", text: text, at: item.at };
      addMessage(m);
      tell({ kind: "local", message: m });
      if (!state.token) startSession({});
      else flush();
    }

    /* Send every unacknowledged message not sent within RESEND_AFTER_MS (same client_id). */
    function flush() {
      if (!state.token) return;
      var now = Date.now();
      state.sentAt = state.sentAt || {};
      outbox().forEach(function (item) {
        if (now - (state.sentAt[item.client_id] || 0) < RESEND_AFTER_MS) return;
        if (!byClientId[item.client_id]) addMessage({ client_id: item.client_id, author: "visitor", text: item.text, at: item.at });
        state.sentAt[item.client_id] = now;
        sendFrame({ type: "message", client_id: item.client_id, text: item.text });
      });
      state.control.splice(0).forEach(sendFrame);
    }

    /* Stored on the server: never send it again (its id is null when the pipeline will replay it later). */
    function onAck(f) {
      dropFromOutbox(f.client_id);
      var node = byClientId[f.client_id];
      if (!node) return;
      if (f.id) {
        byId[f.id] = node;
        node.setAttribute("data-id", f.id);
        state.lastId = Math.max(state.lastId, f.id);
      }
      mark(node, f.id && f.id <= state.seenRead ? "read" : "sent");
    }

    /* ---------- transport ---------- */

    function socketOpen() { return state.ws && state.ws.readyState === 1; }

    function sendFrame(frame) {
      if (socketOpen()) {
        state.ws.send(JSON.stringify(frame));
        return true;
      }
      if (state.polling) {
        request("POST", "/messages", frame).then(handleFrame, function (err) {
          if (err.data && err.data.type === "error") handleFrame(err.data);
          else if (frame.type === "message") state.sentAt[frame.client_id] = 0;  // network: retry at the next poll
        });
        return true;
      }
      return false;
    }

    /* Control frames (email, csat) wait for a connection; typing and read do not matter later. */
    function sendControl(frame) {
      if (!sendFrame(frame)) state.control.push(frame);
    }

    function request(method, path, body) {
      var headers = { "X-Visitor-Token": state.token || "" };
      var init = { method: method, headers: headers, credentials: "omit", mode: "cors" };
      if (body instanceof FormData) init.body = body;
      else if (body) {
        headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
      return fetch(base + "/widget/" + encodeURIComponent(key) + path, init).then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (data) {
          if (!r.ok) {
            var err = new Error(data.detail || r.statusText);
            err.status = r.status;
            err.data = data;
            throw err;
          }
          return data;
        });
      });
    }

    function startSession(extra) {
      if (state.starting) return state.starting;
      var body = {};
      if (state.token) body.visitor_token = state.token;
      var name = extra.name || (hostSettings.user && hostSettings.user.name);
      if (name) body.name = String(name);
      if (extra.email) body.email = extra.email;
      var id = identity();
      if (id) body.identity = id;
      state.starting = request("POST", "/session", body).then(function (s) {
        state.starting = null;
        state.token = s.visitor_token;
        store.set("token", state.token);
        showPrechat(false);
        state.sentAt = {};  // a new session: send what waits in the outbox now
        // What was already there when the page loaded is history, not news: no unread badge.
        state.quiet = true;
        (s.history || []).forEach(addMessage);
        state.quiet = false;
        setAvailable(s.agents_available !== false);
        state.ticket = s.ticket || null;
        // A solved conversation this browser has not rated yet: ask again (answering twice updates).
        if (state.ticket && state.ticket.status === "solved" && !store.get("rated." + state.ticket.number, false)) onSolved({ csat: true });
        connect();
        flush();
      }, function (err) {
        state.starting = null;
        if (err.status === 404) { ui.host.remove(); return; }
        var code = err.data && err.data.code;
        if (/_signature$|^invalid_identity$/.test(code || "") && !cfg.require_verification && identity()) {
          // The host page's signature was refused (wrong, stale, replayed): chat anonymously.
          if (window.console) console.warn("Parley: identity refused (" + code + "): " + (err.data.detail || ""));
          state.identityRefused = true;
          return startSession(extra);
        }
        if (err.status && err.status < 500 && state.token && !extra.retried) {
          // Our token is unknown (expired, another site's): start over rather than fail.
          state.token = null;
          store.set("token", null);
          return startSession({ name: extra.name, email: extra.email, retried: true });
        }
        notice(err.status === 403 && err.data && err.data.detail ? err.data.detail : t("error"), "error");
        if (!err.status || err.status >= 500) setTimeout(function () { startSession(extra); }, 5000);
      });
      return state.starting;
    }

    function backoff(failures) {
      // Exponential with "equal jitter": between half and all of min(30 s, 1 s * 2^n).
      var cap = Math.min(30000, 1000 * Math.pow(2, failures));
      return cap / 2 + Math.random() * cap / 2;
    }

    function connect() {
      if (!state.token || state.ws) return;
      clearTimeout(state.wsTimer);
      var url = base.replace(/^http/, "ws") + "/ws/widget/" + encodeURIComponent(key) + "/?token=" + encodeURIComponent(state.token);
      var ws;
      try {
        ws = new WebSocket(url);
      } catch (e) {
        return onSocketClosed(null, false);
      }
      var opened = false;
      state.ws = ws;
      ws.onopen = function () {
        opened = true;
        state.wsFailures = 0;
        stopPolling();
        notice("");
        ui.root.host.setAttribute("data-transport", "websocket");
        state.sentAt = {};
        ws.send(JSON.stringify({ type: "history", after: state.lastId }));
        flush();
        sendRead();
      };
      ws.onmessage = function (e) {
        try { handleFrame(JSON.parse(e.data)); } catch (err) { /* a frame we do not understand */ }
      };
      ws.onclose = function (e) { if (state.ws === ws) onSocketClosed(e, opened); };
    }

    function onSocketClosed(event, opened) {
      state.ws = null;
      if (!opened || (event && event.code >= 4000)) state.wsFailures++;
      if (event && event.code >= 4400 && event.code < 4500 && state.wsFailures === 1) {
        // The server refused the token or origin: refresh the session once, then back off.
        startSession({});
        return;
      }
      if (state.wsFailures >= WS_FAILURES_BEFORE_POLLING) startPolling();
      else if (state.open) notice(t("reconnecting"));
      state.wsTimer = setTimeout(connect, backoff(state.wsFailures));
    }

    function startPolling() {
      if (state.polling) return;
      state.polling = true;
      notice("");
      ui.root.host.setAttribute("data-transport", "polling");
      state.sentAt = {};
      poll();
    }

    function stopPolling() {
      state.polling = false;
      clearTimeout(state.pollTimer);
    }

    function poll() {
      if (!state.polling) return;
      flush();
      request("GET", "/events?after=" + state.lastId).then(function (data) {
        (data.events || []).forEach(handleFrame);
        state.pollFailures = 0;
      }, function () {
        state.pollFailures = (state.pollFailures || 0) + 1;
      }).then(function () {
        if (!state.polling) return;
        var delay = state.pollFailures ? backoff(state.pollFailures) : (state.open && !document.hidden ? 2500 : 10000);
        state.pollTimer = setTimeout(poll, delay);
      });
    }

    function handleFrame(f) {
      if (!f || typeof f !== "object") return;
      switch (f.type) {
        case "ack": onAck(f); tell({ kind: "frame", frame: f }); break;
        case "message": if (f.message) addMessage(f.message); break;
        case "history": (f.messages || []).forEach(addMessage); break;
        case "typing": showTyping(f.name, !!f.state); break;
        case "read": markRead(Number(f.up_to) || 0); break;
        case "status": setAvailable(f.agents_available !== false); break;
        case "solved": onSolved(f); break;
        case "error": onError(f); break;
      }
    }

    function onError(f) {
      // A refused token: the socket closes next and the widget renews its session quietly.
      if (f.code === "unknown_visitor") return;
      if (f.code === "prechat_required" && needsPrechat()) {
        // The message stays in the outbox and goes out once the visitor has answered.
        return showPrechat(true);
      }
      if (f.client_id && f.code !== "rate_limited") {
        dropFromOutbox(f.client_id);
        mark(byClientId[f.client_id], "failed");
      }
      notice(f.detail || t("error"), "error");
    }

    /* ---------- typing, read receipts ---------- */

    function onTyping() {
      if (!state.token) return;
      if (!state.typingSent) {
        state.typingSent = true;
        sendFrame({ type: "typing", state: true });
      }
      clearTimeout(state.typingTimer);
      state.typingTimer = setTimeout(stopTyping, 3000);
    }

    function stopTyping() {
      clearTimeout(state.typingTimer);
      if (state.typingSent) {
        state.typingSent = false;
        sendFrame({ type: "typing", state: false });
      }
    }

    function sendRead() {
      if (!state.open || document.hidden || !state.token) return;
      var upTo = 0;
      for (var id in byId) if (byId[id].classList.contains("agent")) upTo = Math.max(upTo, Number(id));
      if (upTo > state.readSent && sendFrame({ type: "read", up_to: upTo })) state.readSent = upTo;
    }

    /* ---------- uploads ---------- */

    function upload(file) {
      var limits = cfg.upload || {};
      if (limits.max_bytes && file.size > limits.max_bytes) return notice(t("tooBig", { name: file.name, size: humanSize(limits.max_bytes) }), "error");
      var types = limits.types || [];
      var allowed = !types.length || types.some(function (p) {
        return p.charAt(0) === "." ? file.name.toLowerCase().slice(-p.length) === p : p.slice(-2) === "/*" ? file.type.indexOf(p.slice(0, -1)) === 0 : file.type === p;
      });
      if (!allowed) return notice(t("badType", { name: file.name }), "error");
      var cid = uuid();
      addMessage({ client_id: cid, author: "visitor", text: "", attachments: [{ name: file.name, size: file.size, url: "" }] });
      var attempt = function (n) {
        var ready = state.token ? Promise.resolve() : startSession({});
        return ready.then(function () {
          var form = new FormData();
          form.append("file", file, file.name);
          form.append("client_id", cid);
          return request("POST", "/upload", form);
        }).then(handleFrame, function (err) {
          if ((!err.status || err.status >= 500 || err.status === 429) && n < 3) return setTimeout(function () { attempt(n + 1); }, backoff(n + 1));
          mark(byClientId[cid], "failed");
          notice(err.data && err.data.detail || t("error"), "error");
        });
      };
      attempt(0);
    }

    /* ---------- offline, CSAT ---------- */

    function setAvailable(available) {
      state.agentsAvailable = available;
      ui.root.host.setAttribute("data-agents", available ? "available" : "away");
      var user = identity();
      var email = (user && user.email) || store.get("email", null);
      if (available) {
        ui.emailForm.hidden = true;
        if (ui.notice.classList.contains("offline")) notice("");
        return;
      }
      notice(email ? t("emailSaved", { email: email }) : t("offline"), "offline");
      ui.emailForm.hidden = !!email;
    }

    function submitEmail() {
      var email = ui.emailInput.value.trim();
      if (!ui.emailInput.checkValidity() || !email) return ui.emailInput.reportValidity();
      sendControl({ type: "email", email: email });
      store.set("email", email);
      ui.emailForm.hidden = true;
      notice(t("emailSaved", { email: email }), "offline");
      tell({ kind: "email", email: email });
    }

    function onSolved(f) {
      if (f.csat) {
        state.rated = false;
        ui.csat.hidden = false;
        ui.csat.classList.remove("done");
        scrollDown();
      } else if (!state.rated) {
        notice(t("closed"));
      }
    }

    function submitCsat() {
      if (!state.csatScore) return;
      sendControl({ type: "csat", score: state.csatScore, comment: ui.csatComment.value.trim() });
      state.rated = true;
      if (state.ticket) store.set("rated." + state.ticket.number, true);
      ui.csat.hidden = true;
      notice(t("thanks"), "thanks");
      tell({ kind: "csat" });
    }

    function submitPrechat() {
      var ok = [ui.prechatName, ui.prechatEmail].every(function (i) { return !i || i.checkValidity(); });
      ui.prechatError.hidden = ok;
      ui.prechatError.textContent = ok ? "" : t("required");
      if (!ok) return;
      var email = ui.prechatEmail && ui.prechatEmail.value.trim();
      if (email) store.set("email", email);
      startSession({ name: ui.prechatName && ui.prechatName.value.trim(), email: email });
    }

    /* ---------- other tabs ---------- */

    function tell(msg) {
      if (state.bus) state.bus.postMessage(msg);
    }

    function onTabMessage(msg) {
      if (!msg) return;
      if (msg.kind === "local") addMessage(msg.message);
      else if (msg.kind === "frame") handleFrame(msg.frame);
      else if (msg.kind === "email") { ui.emailForm.hidden = true; notice(t("emailSaved", { email: msg.email }), "offline"); }
      else if (msg.kind === "csat") { state.rated = true; ui.csat.hidden = true; notice(t("thanks"), "thanks"); }
    }

    function onStorage(e) {
      // Another tab started the conversation: join it.
      if (e.key === store.key("token") && !state.token && e.newValue) {
        state.token = JSON.parse(e.newValue);
        startSession({});
      }
    }

    build();
    if (state.token || outbox().length) {
      startSession({});
    }
    if (hostSettings.open) setOpen(true);
    self.open = function () { setOpen(true); };
    self.close = function () { setOpen(false); };
    setInterval(function () { if (socketOpen()) flush(); }, RESEND_AFTER_MS);
  }

  window.ParleyWidget = {
    boot: function (cfg) {
      var src = document.currentScript && document.currentScript.src;
      var start = function () { window.ParleyWidget.instance = new Widget(cfg, src); };
      if (document.body) start();
      else document.addEventListener("DOMContentLoaded", start);
    }
  };
})();
