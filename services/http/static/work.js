"use strict";
// Việc cần làm: what waits on the reader's agency (GET /api/my-work), oldest deadline first. Loaded after
// app.js, whose helpers it uses (api, table, esc, vnParts, authorized, render) and whose tabs it joins.
const WORK_KINDS = { escalation: "Cảnh báo", information: "Thông tin", report: "Báo cáo", task: "Nhiệm vụ",
  difficulty: "Khó khăn, vướng mắc" };

function deadlineText(iso) {
  // a deadline day ends at 23:59:59 in Việt Nam: shown as the day; another moment with its time too
  const p = vnParts(iso);
  if (!p) return "Không có hạn";
  const day = `${p.day}/${p.month}/${p.year}`;
  return p.hour === "23" && p.minute === "59" ? day : `${day} ${p.hour}:${p.minute}`;
}

async function acknowledgeFromWork(id) {
  const r = await fetch(`/api/escalations/${encodeURIComponent(id)}/acknowledge`, { method: "POST",
    headers: { ...authorized(), "content-type": "application/json" }, body: JSON.stringify({}) });
  const body = await r.json().catch(() => ({}));
  $("work-message").textContent = r.ok ? "Đã gửi xác nhận tiếp nhận cảnh báo." : `Không tiếp nhận được: ${body.message || r.status}`;
  if (r.ok) setTimeout(render, 700);
}

async function myWork() {
  const found = await api("/api/my-work", { province: params().province });
  const who = found.name ? `${found.name} (${found.role_name || found.role}) — ` : "";
  $("work-who").textContent = `${who}${found.agency_name}: ${found.count} việc đang chờ`;
  const counts = {};
  found.items.forEach((i) => { counts[i.kind] = (counts[i.kind] || 0) + 1; });
  $("work-counts").innerHTML = Object.entries(WORK_KINDS).map(([k, l]) =>
    `<div class="card" data-kind="${k}"><div class="value">${counts[k] || 0}</div><div class="label">${esc(l)}</div></div>`).join("");
  const now = Date.now();
  table($("work"), ["Hạn", "Loại", "Nội dung", "Tình trạng", ""],
    found.items.map((i) => [
      i.deadline ? `<time datetime="${esc(i.deadline)}">${esc(deadlineText(i.deadline))}</time>` : "Không có hạn",
      esc(i.kind_name), i.link ? `<a href="${esc(i.link)}">${esc(i.title)}</a>` : esc(i.title),
      `<span class="state">${esc(i.state_name)}</span>${i.leaders_only ? " (lãnh đạo)" : ""}`,
      i.kind === "escalation" ? `<button class="work-ack" data-id="${esc(i.escalation_id)}">Tiếp nhận</button>` : ""]),
    (n) => (found.items[n].deadline && Date.parse(found.items[n].deadline) < now ? "overdue" : ""));
  document.querySelectorAll("button.work-ack").forEach((b) => b.addEventListener("click", () => acknowledgeFromWork(b.dataset.id)));
}

TABS["viec-can-lam"] = myWork;
