// codeproof workbench: vanilla JS over the JSON API (cookie session + CSRF header).
(function () {
  "use strict";
  const CSRF = { "X-Codeproof-CSRF": "1" };

  async function api(method, url, body) {
    const init = { method, credentials: "same-origin", headers: { ...CSRF } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    const data = await response.json().catch(() => ({ ok: false, code: "CP-000", message: "bad response" }));
    if (!response.ok || data.ok === false) {
      const error = new Error(`[${data.code || response.status}] ${data.message || "request failed"}`);
      error.envelope = data;
      throw error;
    }
    return data;
  }

  function showError(el, error) {
    if (!el) return;
    el.textContent = error ? error.message : "";
    el.hidden = !error;
  }

  // ---- login -------------------------------------------------------------------
  const loginForm = document.getElementById("login-form");
  if (loginForm) {
    loginForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const token = loginForm.token.value.trim();
      try {
        const data = await api("POST", "/ui/session", { token });
        window.location.assign(data.home);
      } catch (error) {
        showError(document.getElementById("login-error"), error);
      }
    });
  }

  // ---- keyboard lists (queues, search) ------------------------------------------
  const list = document.querySelector("[data-keyboard-list] tbody");
  let rowIndex = -1;
  function selectRow(i) {
    const rows = list ? Array.from(list.querySelectorAll("tr[data-href]")) : [];
    if (!rows.length) return;
    rowIndex = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach((r, j) => r.classList.toggle("selected", j === rowIndex));
    rows[rowIndex].focus();
  }
  if (list) {
    list.addEventListener("click", (event) => {
      const row = event.target.closest("tr[data-href]");
      if (row && event.target.tagName !== "A") window.location.assign(row.dataset.href);
    });
  }

  // ---- review screen --------------------------------------------------------------
  const review = document.querySelector(".review");
  const encounterId = review ? review.dataset.encounter : null;
  const cards = review ? Array.from(review.querySelectorAll(".code-card")) : [];
  let cardIndex = -1;

  function highlight(key, scroll) {
    review.querySelectorAll("mark.on").forEach((m) => m.classList.remove("on"));
    const marks = Array.from(review.querySelectorAll("mark")).filter(
      (m) => m.dataset.codes.split(" ").includes(key));
    marks.forEach((m) => m.classList.add("on"));
    if (scroll && marks.length) marks[0].scrollIntoView({ block: "center", behavior: "smooth" });
  }
  function selectCard(i, scroll) {
    if (!cards.length) return;
    cardIndex = Math.max(0, Math.min(cards.length - 1, i));
    cards.forEach((c, j) => c.classList.toggle("selected", j === cardIndex));
    const card = cards[cardIndex];
    card.focus({ preventScroll: !scroll });
    highlight(card.dataset.key, scroll);
  }

  async function decide(form, action) {
    const errorEl = form.querySelector(".error");
    const reason = form.reason.value;
    if (!reason) {
      showError(errorEl, new Error("Pick a reason first: every decision needs one."));
      form.reason.focus();
      return;
    }
    const body = { system: form.dataset.system, code: form.dataset.code, action, reason,
                   comment: form.comment.value };
    if (action === "modify") {
      body.new_code = form.new_code.value.trim();
      if (!body.new_code) {
        showError(errorEl, new Error("Type the new code to modify."));
        form.new_code.focus();
        return;
      }
    }
    try {
      const data = await api("POST", `/v1/encounters/${encodeURIComponent(encounterId)}/decisions`, body);
      const card = form.closest(".code-card");
      const status = { accept: "accepted", modify: "modified", reject: "rejected" }[action];
      card.dataset.status = status;
      const badge = card.querySelector("[data-role=status]");
      badge.className = `badge status ${status}`;
      badge.textContent = status + (data.decision.new_code ? ` → ${data.decision.new_code}` : "");
      showError(errorEl, null);
      refreshPending();
      loadHistory();
    } catch (error) {
      showError(errorEl, error);
    }
  }

  function refreshPending() {
    const pending = cards.filter((c) => c.dataset.status === "pending").length;
    const button = document.getElementById("attest-button");
    const hint = document.getElementById("pending-hint");
    if (button) button.disabled = pending > 0;
    if (hint) hint.textContent = pending ? `${pending} code(s) still need a decision.` : "";
  }

  async function loadHistory() {
    const target = document.getElementById("history");
    if (!target || !encounterId) return;
    try {
      const data = await api("GET", `/v1/encounters/${encodeURIComponent(encounterId)}/history`);
      const rows = data.audit_events.length
        ? data.audit_events.map((e) => [e.created, e.name, e.actor,
            e.properties && e.properties.code ? `${e.properties.action || ""} ${e.properties.code}` : ""])
        : data.review.map((e) => [e.at, e.event, e.by, e.detail]);
      target.replaceChildren(...rows.map(([at, name, actor, detail]) => {
        const li = document.createElement("li");
        li.dataset.event = name;
        li.textContent = `${String(at).slice(0, 19)} · ${name} · ${actor}${detail ? " · " + detail : ""}`;
        return li;
      }));
    } catch (error) {
      target.replaceChildren(Object.assign(document.createElement("li"), { textContent: error.message }));
    }
  }

  if (review) {
    review.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (button) { decide(button.closest("form.decide"), button.dataset.action); return; }
      const show = event.target.closest("[data-show-evidence]");
      if (show) { selectCard(cards.indexOf(show.closest(".code-card")), true); return; }
      const quote = event.target.closest("[data-jump]");
      if (quote) { selectCard(cards.indexOf(quote.closest(".code-card")), true); return; }
      const mark = event.target.closest("mark");
      if (mark) {
        const key = mark.dataset.codes.split(" ")[0];
        const i = cards.findIndex((c) => c.dataset.key === key);
        if (i >= 0) { selectCard(i, false); cards[i].scrollIntoView({ block: "nearest" }); }
        highlight(key, false);
        return;
      }
      const card = event.target.closest(".code-card");
      if (card && !event.target.closest("form")) selectCard(cards.indexOf(card), false);
    });
    const attestForm = document.getElementById("attest-form");
    if (attestForm) {
      attestForm.addEventListener("submit", async (event) => {
        event.preventDefault();
        try {
          await api("POST", `/v1/encounters/${encodeURIComponent(encounterId)}/attestation`,
                    { statement: attestForm.statement.value });
          const status = document.getElementById("encounter-status");
          status.textContent = "finalized";
          status.className = "badge finalized";
          attestForm.replaceWith(Object.assign(document.createElement("p"),
            { id: "attested", textContent: "Attested and finalized." }));
          review.querySelectorAll("form.decide").forEach((f) => f.remove());
          loadHistory();
        } catch (error) {
          showError(attestForm.querySelector(".error"), error);
        }
      });
    }
    const reload = document.getElementById("reload-history");
    if (reload) reload.addEventListener("click", loadHistory);
    refreshPending();
    loadHistory();
  }

  // ---- CDI queries ----------------------------------------------------------------
  document.querySelectorAll("form.cdi-query").forEach((form) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const data = await api("PATCH", `/v1/cdi/queries/${form.dataset.queryId}`,
                               { text: form.text.value, status: form.status.value });
        const badge = form.querySelector("[data-role=query-status]");
        badge.textContent = data.query.status;
        badge.className = `badge ${data.query.status}`;
        showError(form.querySelector(".error"), null);
      } catch (error) {
        showError(form.querySelector(".error"), error);
      }
    });
  });

  // ---- audit chain ----------------------------------------------------------------
  const verify = document.getElementById("verify-chain");
  if (verify) {
    verify.addEventListener("click", async () => {
      const out = document.getElementById("chain-status");
      try {
        const data = await api("GET", "/v1/audit/verify");
        out.textContent = data.chain_ok ? `chain verifies (${data.report.checked} events)`
          : `BROKEN at seq ${data.report.first_bad_seq}: ${data.report.reason}`;
      } catch (error) { out.textContent = error.message; }
    });
  }

  // ---- keyboard ---------------------------------------------------------------------
  const help = document.getElementById("help");
  document.querySelector(".help-toggle").addEventListener("click", () => { help.hidden = !help.hidden; });
  document.addEventListener("keydown", (event) => {
    const tag = (event.target.tagName || "").toLowerCase();
    if (["input", "textarea", "select"].includes(tag) || event.ctrlKey || event.metaKey || event.altKey) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    if (event.key === "?") { help.hidden = !help.hidden; return; }
    if (list) {
      if (event.key === "j") selectRow(rowIndex + 1);
      else if (event.key === "k") selectRow(rowIndex - 1);
      else if (event.key === "Enter" && rowIndex >= 0) {
        const rows = list.querySelectorAll("tr[data-href]");
        window.location.assign(rows[rowIndex].dataset.href);
      }
      return;
    }
    if (!review) return;
    if (event.key === "j") { selectCard(cardIndex + 1, true); event.preventDefault(); }
    else if (event.key === "k") { selectCard(cardIndex - 1, true); event.preventDefault(); }
    else if (event.key === "e" && cardIndex >= 0) highlight(cards[cardIndex].dataset.key, true);
    else if (["a", "m", "r"].includes(event.key) && cardIndex >= 0) {
      const form = cards[cardIndex].querySelector("form.decide");
      if (!form) return;
      event.preventDefault();
      if (event.key === "m" && !form.new_code.value) { form.new_code.focus(); return; }
      decide(form, { a: "accept", m: "modify", r: "reject" }[event.key]);
    }
  });
})();
