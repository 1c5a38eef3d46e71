/* The ops page's boards and display tokens sections: ops.js builds them once logged in, with its kit (the
 * page's state P, the DOM and API helpers, the validation patterns); see ops.js and dash_app/ops.py. */
"use strict";
window.wbOpsParts = Object.assign(window.wbOpsParts || {}, {
  boards(kit) {
    const { P, t, I18N, $, el, field, withError, setError, select, message, say, list, when, armed, api, why,
      refused, showProblems, path, labelled, WHOLE, BOARD_NAME } = kit;
    // ---- boards ---------------------------------------------------------------------------------------------------
    function boards(section) {
      const C = P.config;
      const state = { boards: {}, name: null, version: 0, stored: false, pages: [] };
      const note = message("board-message");
      const picker = el("div", { className: "board-list", id: "board-list", role: "group", "aria-label": t("Boards") });
      const c = {
        name: el("input", { id: "board-name", type: "text", autocomplete: "off" }),
        title: el("input", { id: "board-title", type: "text", maxlength: "80" }),
        queues: el("input", { id: "board-queues", type: "text" }),
        groups: el("input", { id: "board-groups", type: "text" }),
        teams: el("input", { id: "board-teams", type: "text" }),
        campaigns: el("input", { id: "board-campaigns", type: "text" }),
        group_tiles: el("input", { id: "board-group-tiles", type: "checkbox" }),
        team_tiles: el("input", { id: "board-team-tiles", type: "checkbox" }),
        campaign_tiles: el("input", { id: "board-campaign-tiles", type: "checkbox" }),
        sound: el("input", { id: "board-sound", type: "checkbox" }),
        kiosk: el("input", { id: "board-kiosk", type: "checkbox" }),
        language: select("board-language",
          [["", t("each TV's browser")], ...Object.entries(I18N().languages)], ""),
      };
      const tileBoxes = C.tiles.map((tile) => el("input", { type: "checkbox", id: `board-tile-${tile.key}`,
        value: tile.key }));
      const tilesError = el("span", { className: "error", id: "board-tiles-error" });
      c.tiles = { wbError: tilesError, setAttribute: () => {}, focus: () => tileBoxes[0].focus() };
      // Only the queues of the ticked channels (none ticked: every channel): the board's "channels".
      const channelBoxes = C.channels.map((channel) => el("input", { type: "checkbox", id: `board-channel-${channel}`,
        value: channel }));
      const channelsError = el("span", { className: "error", id: "board-channels-error" });
      c.channels = { wbError: channelsError, setAttribute: () => {}, focus: () => channelBoxes[0].focus() };
      const pagesBox = el("div", { id: "board-pages" });
      const frame = el("div", { className: "preview", id: "board-preview" });
      const check = (control, text) => { withError(control); return el("label", { className: "check" }, control, text); };

      function pageRow(page) {
        const i = pagesBox.children.length;
        const r = {
          title: el("input", { id: `board-page-${i}-title`, type: "text", value: page.title || "" }),
          queues: el("input", { id: `board-page-${i}-queues`, type: "text", value: (page.queues || []).join(", ") }),
          seconds: el("input", { id: `board-page-${i}-seconds`, type: "text", inputmode: "numeric",
            value: String(page.seconds ?? 15) }),
        };
        const node = el("div", { className: "page-row" },
          field(t("Page {n} title", { n: i + 1 }), r.title), field(t("Page {n} queues", { n: i + 1 }), r.queues),
          field(t("Page {n} seconds", { n: i + 1 }), r.seconds),
          el("button", { type: "button", className: "btn", onclick: () => { node.remove(); renumber(); } },
            t("Remove page {n}", { n: i + 1 })));
        node.wbControls = r;
        pagesBox.append(node);
      }
      function renumber() {  // ids and labels follow the rows' order after a removal
        const kept = [...pagesBox.children].map((n) => ({
          title: n.wbControls.title.value, queues: list(n.wbControls.queues.value), seconds: n.wbControls.seconds.value,
        }));
        pagesBox.replaceChildren();
        kept.forEach(pageRow);
      }
      function fill(name, board, stored) {
        state.name = name;
        state.version = board.version || 0;
        state.stored = stored;
        c.name.value = name;
        c.name.readOnly = stored;
        c.title.value = board.title || "";
        c.queues.value = (board.queues || []).join(", ");
        c.groups.value = (board.groups || []).join(", ");
        c.teams.value = (board.teams || []).join(", ");
        c.group_tiles.checked = Boolean(board.group_tiles);
        c.team_tiles.checked = Boolean(board.team_tiles);
        c.campaigns.value = (board.campaigns || []).join(", ");
        c.campaign_tiles.checked = Boolean(board.campaign_tiles);
        c.sound.checked = Boolean(board.sound);
        c.kiosk.checked = Boolean(board.kiosk);
        c.language.value = board.language || "";
        for (const box of tileBoxes) box.checked = (board.tiles || []).includes(box.value);
        for (const box of channelBoxes) box.checked = (board.channels || []).includes(box.value);
        pagesBox.replaceChildren();
        (board.pages || []).forEach(pageRow);
        for (const control of Object.values(c)) setError(control, "");
        for (const b of picker.querySelectorAll("button[data-board]")) {
          b.setAttribute("aria-pressed", String(b.dataset.board === name));
        }
        $("board-delete").hidden = !stored || !board.updated_by;
        preview(stored ? name : null);
        showMessage(stored ? name : null);
      }
      // The banner on the board's TVs: GET/POST/DELETE /api/v1/boards/{name}/message.
      const m = {
        text: el("input", { id: "board-msg-text", type: "text", maxlength: "280" }),
        level: select("board-msg-level", [["info", t("info")], ["warn", t("warning")]], "info"),
        minutes: el("input", { id: "board-msg-minutes", type: "text", inputmode: "numeric", value: "60" }),
      };
      const msgNow = el("p", { id: "board-msg-now", className: "ops-hint" });
      const msgNote = message("board-msg-message");
      async function showMessage(name) {
        if (!name) { msgNow.textContent = t("Save the board to post a message on its TVs."); return; }
        const r = await api("GET", `/api/v1/boards/${encodeURIComponent(name)}/message`);
        const now = r.status === 200 ? r.data.message : null;
        msgNow.textContent = now
          ? t("Showing now ({level}): “{text}” by {user}, {minutes} min left", {
            level: now.level === "warn" ? t("warning") : t("info"), text: now.text, user: now.posted_by,
            minutes: Math.ceil(now.expires_in_s / 60) })
          : t("No message on this board's TVs.");
      }
      async function postMessage(event) {
        event.preventDefault();
        for (const control of Object.values(m)) setError(control, "");
        const minutes = m.minutes.value.trim();
        if (!m.text.value.trim()) { setError(m.text, t("write the message")); m.text.focus(); return; }
        if (!WHOLE.test(minutes)) {
          setError(m.minutes, t("“{value}” is not a whole number of minutes", { value: minutes }));
          m.minutes.focus();
          return;
        }
        const body = { text: m.text.value.trim(), level: m.level.value, expires_in_s: Number(minutes) * 60 };
        const r = await api("POST", `/api/v1/boards/${encodeURIComponent(state.name)}/message`, body);
        if (r.status === 200 || r.status === 201) {
          m.text.value = "";
          say(msgNote, t("posted on {board}", { board: state.name }), "ok");
          await showMessage(state.name);
          return;
        }
        if (r.status === 422) {
          showProblems(r.data.detail, (f) => ({ ...m, expires_in_s: m.minutes })[path(f)[0]], msgNote, t("not posted"));
          return;
        }
        await refused(r, msgNote, t("not posted"));
      }
      async function clearMessage() {
        const r = await api("DELETE", `/api/v1/boards/${encodeURIComponent(state.name)}/message`);
        if (r.status !== 204) { await refused(r, msgNote, t("not taken down")); return; }
        say(msgNote, t("taken down from {board}", { board: state.name }), "ok");
        await showMessage(state.name);
      }
      const messageForm = el("form", { id: "board-msg-form", novalidate: true, onsubmit: postMessage },
        el("h3", {}, t("Message on the board's TVs")), msgNow,
        el("div", { className: "fields" }, field(t("Message"), m.text), field(t("Level"), m.level),
          field(t("Minutes"), m.minutes, t("1 to 1440")),
          el("button", { type: "submit", id: "board-msg-post", className: "btn primary" }, t("Post")),
          el("button", { type: "button", id: "board-msg-clear", className: "btn", onclick: clearMessage },
            t("Take down"))),
        msgNote);
      function preview(name) {
        if (!name) {
          frame.replaceChildren(el("p", { className: "preview-empty" }, t("Save the board to preview it.")));
          return;
        }
        const iframe = el("iframe", { title: t("TV preview of board {board}", { board: name }), tabindex: "-1",
          src: `${C.tv_prefix}/${encodeURIComponent(name)}?t=${Date.now()}` });
        frame.replaceChildren(iframe);
        scale();
      }
      const scale = () => {
        const iframe = frame.querySelector("iframe");
        if (iframe) iframe.style.transform = `scale(${frame.clientWidth / 1920})`;
      };
      new ResizeObserver(scale).observe(frame);

      function collect() {
        for (const control of Object.values(c)) setError(control, "");
        let bad = null;
        const fail = (control, reason) => { setError(control, reason); bad = bad || control; };
        const name = c.name.value.trim();
        if (!BOARD_NAME.test(name)) {
          fail(c.name, t("lower case letters, digits, _ and -, at most 64, starting with a letter or digit"));
        }
        const pages = [...pagesBox.children].map((node) => {
          const r = node.wbControls;
          for (const control of Object.values(r)) setError(control, "");
          const seconds = r.seconds.value.trim();
          if (!WHOLE.test(seconds)) fail(r.seconds, t("“{value}” is not a whole number of seconds", { value: seconds }));
          return { title: r.title.value.trim(), queues: list(r.queues.value), seconds: Number(seconds) };
        });
        const body = {
          title: c.title.value.trim(), queues: list(c.queues.value), groups: list(c.groups.value),
          teams: list(c.teams.value), tiles: tileBoxes.filter((b) => b.checked).map((b) => b.value), pages,
          group_tiles: c.group_tiles.checked, team_tiles: c.team_tiles.checked, sound: c.sound.checked,
          campaign_tiles: c.campaign_tiles.checked, campaigns: list(c.campaigns.value),
          channels: channelBoxes.filter((b) => b.checked).map((b) => b.value),
          kiosk: c.kiosk.checked, language: c.language.value || null,
          version: state.name === name ? state.version : 0,
        };
        return { name, body, bad };
      }
      async function save(event) {
        event.preventDefault();
        const { name, body, bad } = collect();
        if (bad) { say(note, t("not saved: fix the marked fields (nothing was sent)"), "bad"); bad.focus(); return; }
        const r = await api("PUT", `/api/v1/boards/${encodeURIComponent(name)}`, body);
        if (r.status === 200) {
          await load("");
          select_(name);
          say(note, t("saved board {board}: version {version}", { board: name, version: r.data.version }), "ok");
          return;
        }
        if (r.status === 422) {
          showProblems(r.data.detail, (f) => {
            const [top, index, sub] = path(f);
            if (top === "pages" && Number.isInteger(index) && pagesBox.children[index]) {
              return pagesBox.children[index].wbControls[sub] || pagesBox.children[index].wbControls.queues;
            }
            return c[top] || (top === "path" ? c.name : null);
          }, note, t("not saved"));
          return;
        }
        if (r.status === 409) { say(note, t("not saved: {reason}", { reason: why(r) }), "bad"); return; }
        await refused(r, note, t("not saved"));
      }
      async function remove() {
        const name = state.name;
        const r = await api("DELETE", `/api/v1/boards/${encodeURIComponent(name)}`);
        if (r.status !== 204) { await refused(r, note, t("not deleted")); return; }
        await load(t("deleted board {board}", { board: name }));
      }
      const select_ = (name) => fill(name, state.boards[name], true);
      async function load(status) {
        const r = await api("GET", "/api/v1/boards");
        if (r.status !== 200) { await refused(r, note, t("cannot load the boards")); return; }
        state.boards = r.data;
        P.boards = Object.keys(r.data).sort();
        picker.replaceChildren(...P.boards.map((name) => el("button", { type: "button", className: "btn",
          "data-board": name, "aria-pressed": "false", onclick: () => { select_(name); say(note, ""); } },
        state.boards[name].title ? `${name} · ${state.boards[name].title}` : name)),
        el("button", { type: "button", className: "btn", id: "board-new", onclick: () => {
          fill("", { version: 0 }, false);
          say(note, t("a new board: give it a name"));
          c.name.focus();
        } }, t("+ New board")));
        const keep = state.name && state.boards[state.name] ? state.name : P.boards[0];
        if (keep) select_(keep);
        say(note, status || "");
      }
      const form = el("form", { id: "board-form", novalidate: true, onsubmit: save },
        el("div", { className: "fields" }, field(t("Name"), c.name),
          field(t("Title"), c.title, t("shown in the TV's header")),
          field(t("Language"), c.language, t("the language of the board's TVs"))),
        el("div", { className: "fields" },
          field(t("Queues"), c.queues, t("comma-separated; none: every queue")),
          field(t("Groups"), c.groups, t("comma-separated queue groups")),
          field(t("Teams"), c.teams, t("for team tiles; none: every team")),
          field(t("Campaigns"), c.campaigns, t("for campaign tiles; none: every campaign"))),
        el("div", { className: "fields" }, check(c.group_tiles, t("one tile per group")),
          check(c.team_tiles, t("adherence tile per team")),
          check(c.campaign_tiles, t("drop rate tile per campaign")), check(c.sound, t("chime on alarm")),
          check(c.kiosk, t("kiosk: sound without a click"))),
        el("fieldset", { className: "tiles", "aria-describedby": "board-tiles-error" },
          el("legend", {}, t("Tiles (none ticked: the standard set)")),
          tileBoxes.map((box, i) => el("label", { className: "check" }, box, t(C.tiles[i].label))), tilesError),
        el("fieldset", { className: "tiles", id: "board-channels", "aria-describedby": "board-channels-error" },
          el("legend", {}, t("Channels (none ticked: every channel)")),
          labelled("channels", C.channels).map(([, text], i) => el("label", { className: "check" }, channelBoxes[i],
            text)), channelsError),
        el("h3", {}, t("Rotation")),
        el("p", { className: "ops-hint" },
          t("Pages the TV turns through, each with its queues and seconds; none: one page.")),
        pagesBox,
        el("div", { className: "actions" },
          el("button", { type: "submit", id: "board-save", className: "btn primary" }, t("Save board")),
          el("button", { type: "button", className: "btn", id: "board-add-page", onclick: () => pageRow({}) },
            t("Add rotation page")),
          armed(t("Delete board"), t("Click again to delete"), remove, { id: "board-delete" })),
        note);
      section.append(picker, el("div", { className: "board-grid" }, form,
        el("div", {}, el("h3", {}, t("Preview (the stored board, as a TV shows it)")), frame, messageForm)));
      return { load: () => load("") };
    }

    // ---- display tokens (each bound to a board: /api/v1/boards/{board}/tokens) ------------------------------------
    function tokens(section) {
      const note = message("token-message");
      const board = el("select", { id: "token-board" });
      const label = el("input", { id: "token-label", type: "text", maxlength: "200", placeholder: t("e.g. floor 2 TV") });
      const once = el("div", { id: "token-once", className: "token-once", hidden: true, role: "region",
        "aria-label": t("The new display token") });
      const rows = el("tbody", { id: "token-rows" });
      const base = (name) => `/api/v1/boards/${encodeURIComponent(name)}/tokens`;
      function shown(data) {
        const url = data.url ||
          `${location.origin}${P.config.tv_prefix}/${encodeURIComponent(data.board)}?token=${encodeURIComponent(data.token)}`;
        const qr = typeof data.qr === "string" && data.qr.startsWith("data:") ? data.qr : null;
        once.replaceChildren(
          el("div", {},
            el("p", {}, el("strong", {}, t("Copy it now: this token is shown only once."))),
            el("p", {}, t("Token:"), " ", el("code", { className: "mono", id: "token-value" }, data.token)),
            el("p", {}, t("TV URL:"), " ", el("a", { id: "token-url", className: "mono", href: url, target: "_blank",
              rel: "noopener" }, url)),
            el("button", { type: "button", className: "btn", onclick: () => { once.hidden = true; label.focus(); } },
              t("Done"))),
          qr ? el("img", { id: "token-qr", src: qr, alt: t("QR code of the TV URL for board {board}", { board: data.board }) })
            : "");
        once.hidden = false;
      }
      async function create(event) {
        event.preventDefault();
        setError(label, "");
        setError(board, "");
        if (!board.value) { setError(board, t("choose a board")); board.focus(); return; }
        const r = await api("POST", base(board.value), { label: label.value.trim() });
        if (r.status === 201) {
          shown(r.data);
          label.value = "";
          await load(t("created token {token} for board {board}", { token: r.data.id, board: r.data.board }));
          return;
        }
        if (r.status === 422) {
          showProblems(r.data.detail, (f) => ({ label, name: board })[path(f).pop()], note, t("not created"));
          return;
        }
        if (r.status === 404) {
          setError(board, why(r));
          say(note, t("not created: {reason}", { reason: why(r) }), "bad");
          return;
        }
        await refused(r, note, t("not created"));
      }
      const revoke = (token) => async () => {
        const r = await api("DELETE", `${base(token.board)}/${encodeURIComponent(token.id)}`);
        if (r.status !== 204) { await refused(r, note, t("not revoked")); return; }
        await load(t("revoked token {token}", { token: token.id }));
      };
      async function load(status) {
        const got = await api("GET", "/api/v1/boards");
        if (got.status !== 200) { await refused(got, note, t("cannot list the boards")); return; }
        const names = Object.keys(got.data).sort();
        const chosen = board.value || names[0];
        board.replaceChildren(...names.map((n) => el("option", { value: n, selected: n === chosen }, n)));
        const found = [];
        for (const name of names) {
          const r = await api("GET", base(name));
          if (r.status !== 200) { await refused(r, note, t("cannot list the tokens")); return; }
          found.push(...r.data);
        }
        rows.replaceChildren(...found.map((tok) => el("tr", { "data-token": tok.id },
          el("td", { className: "mono" }, tok.id), el("td", {}, tok.board), el("td", {}, tok.label),
          el("td", {}, when(tok.created)),
          el("td", {}, armed(t("Revoke"), t("Click again to revoke"), revoke(tok),
            { "aria-label": t("Revoke token {token}", { token: tok.id }) })))));
        if (!found.length) {
          rows.append(el("tr", {}, el("td", { colspan: "5", className: "ops-hint" }, t("No display token."))));
        }
        say(note, status || "", status ? "ok" : "");
      }
      section.append(
        el("form", { id: "token-form", novalidate: true, onsubmit: create },
          el("div", { className: "fields" }, field(t("Board"), board, t("the only board the TV may open")),
            field(t("Label"), label, t("where the TV hangs")),
            el("button", { type: "submit", id: "token-create", className: "btn primary" }, t("Create token")))),
        once, note,
        el("div", { className: "table-wrap" }, el("table", { className: "ops-table", id: "token-table" },
          el("thead", {}, el("tr", {}, [t("Id"), t("Board"), t("Label"), t("Created"), t("Actions")]
            .map((h) => el("th", { scope: "col" }, h)))),
          rows)));
      return { load: () => load("") };
    }
    return { boards, tokens };
  },
});
