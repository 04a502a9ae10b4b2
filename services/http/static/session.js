"use strict";
// The dashboard's sign-in: a browser that keeps no agency token reads as the signed-in person (the
// session cookie goes with every request) and writes with the session's CSRF token, which app.js
// sends from window.doingoaiSession; without a session the visitor is sent to the sign-in page.
window.doingoaiSession = null;
(async () => {
  if (localStorage.getItem("doingoai-token")) return;  // an agency system or an auditor reads with its token
  const r = await fetch("/api/me", { headers: { accept: "application/json" } });
  if (r.status === 401) {
    location.replace(`/login?next=${encodeURIComponent(location.pathname + location.search + location.hash)}`);
    return;
  }
  if (!r.ok) return;
  const me = await r.json();
  window.doingoaiSession = me;
  const token = document.getElementById("token");
  if (token && token.closest("label")) token.closest("label").hidden = true;
  const account = document.createElement("p");
  account.id = "account";
  const who = document.createElement("span");
  who.textContent = `${me.name}${me.title ? ` — ${me.title}` : ""}`;
  who.title = `${me.username} · ${me.agency} · ${me.province}`;
  const out = document.createElement("a");
  out.href = "/login";
  out.id = "sign-out";
  out.textContent = "Đăng xuất";
  out.addEventListener("click", async (e) => {
    e.preventDefault();
    await fetch("/logout", { method: "POST", headers: { "x-csrf-token": me.csrf_token } }).catch(() => null);
    location.replace("/login");
  });
  account.append(who, out);
  document.querySelector("header").prepend(account);
})();
