"use strict";
// Bảng điều phối: reads the JSON API, draws tables and SVG charts, refreshes when events arrive.
const $ = (id) => document.getElementById(id);
const KINDS = { activity: "Hoạt động", delegation_in: "Đoàn vào", delegation_out: "Đoàn ra",
  conference: "Hội nghị, hội thảo", agreement: "Thỏa thuận", aid: "Viện trợ" };
const COLORS = { activity: "#8b1a1a", delegation_in: "#1f6feb", delegation_out: "#2da44e",
  conference: "#bf8700", agreement: "#8250df", aid: "#cf222e" };
const STATUS = { assigned: "Đã giao", in_progress: "Đang thực hiện", completed: "Hoàn thành", overdue: "Quá hạn",
  on_time: "Đúng hạn", late: "Trễ hạn", missing: "Chưa gửi", pending: "Chưa đến hạn", open: "Chưa xử lý",
  acknowledged: "Đã tiếp nhận", closed: "Đã đóng", held: "Đã tổ chức", planned: "Kế hoạch", cancelled: "Đã hủy",
  received: "Đã đón", sent: "Đã cử", signed: "Đã ký", committed: "Đã cam kết", submitted: "Đã gửi",
  returned: "Trả lại", accepted: "Đã tiếp nhận", no_duty: "Không có nghĩa vụ báo cáo" };
const DUTY = { periodic: "Định kỳ", request: "Theo yêu cầu", none: "Không có nghĩa vụ" };
const TRIGGERS = { report_missing: "Chưa gửi báo cáo", task_overdue: "Nhiệm vụ quá hạn",
  difficulty_unacknowledged: "Khó khăn chưa được tiếp nhận", difficulty_unhandled: "Khó khăn chưa được xử lý",
  difficulty_beyond_authority: "Vượt thẩm quyền", information_unacknowledged: "Thông tin chưa được xác nhận" };

const VN_TIME = new Intl.DateTimeFormat("vi-VN", { timeZone: "Asia/Ho_Chi_Minh", year: "numeric", month: "2-digit",
  day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const COLLATOR = new Intl.Collator("vi");
let NAMES = { agencies: {}, plans: {}, countries: {}, partner_kinds: {} };

function vnDate(iso) {
  // a plain date (2021-03-22) as dd/mm/yyyy: a day, not a moment, so no time zone applies
  if (!iso) return "";
  const d = String(iso).slice(0, 10).split("-");
  return d.length === 3 ? `${d[2]}/${d[1]}/${d[0]}` : String(iso);
}
function vnParts(iso) {
  const when = new Date(iso);
  if (!iso || Number.isNaN(when.getTime())) return null;
  return Object.fromEntries(VN_TIME.formatToParts(when).map((p) => [p.type, p.value]));
}
function vnDay(iso) {
  // a moment (2021-12-06T23:44:00Z) as the day it was in Việt Nam: 07/12/2021
  const p = vnParts(iso);
  return p ? `${p.day}/${p.month}/${p.year}` : String(iso ?? "");
}
function vnTime(iso) {
  // a moment as Việt Nam's wall clock: 07/12/2021 06:44
  const p = vnParts(iso);
  return p ? `${p.day}/${p.month}/${p.year} ${p.hour}:${p.minute}` : String(iso ?? "");
}
function agencyName(slug) { return (NAMES.agencies[slug] || {}).name || slug || ""; }
function agencyShort(slug) {
  // a column heading: the name, or the short name the reference data gives for a long one (Ủy ban MTTQ tỉnh)
  const name = agencyName(slug);
  return name.length > 24 ? (NAMES.agencies[slug] || {}).short_name || name : name;
}
function countryName(code) { return NAMES.countries[code] || code || ""; }
function byName(a, b) { return COLLATOR.compare(a, b); }
function periodOf(year, month, day) {
  // the period whose data window (Decree 09/2019) holds the day: 15/12 to 14/6 -> 6 months, else the year
  if (month === 12 && day >= 15) return `${year + 1}-H1`;
  return month < 6 || (month === 6 && day <= 14) ? `${year}-H1` : `${year}`;
}
function periodLabel(period) {
  return period.endsWith("-H1") ? `6 tháng đầu năm ${period.slice(0, 4)}` : `năm ${period.slice(0, 4)}`;
}
function esc(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
function params() { return { province: $("province").value, period: $("period").value }; }
function token() { return ($("token").value || localStorage.getItem("doingoai-token") || "").trim(); }
function authorized() {  // a token, else the signed-in session (session.js): its cookie goes by itself
  const t = token(), s = window.doingoaiSession;
  return t ? { authorization: `Bearer ${t}` } : s ? { "x-csrf-token": s.csrf_token } : {};
}
async function fetchAs(path, query = {}) {
  // every read needs a credential: the agency's (or auditor's) token, kept in this browser
  const url = new URL(path, location.origin);
  Object.entries(query).forEach(([k, v]) => v !== "" && v != null && url.searchParams.set(k, v));
  const r = await fetch(url, { headers: authorized() });
  if (r.status === 401 || r.status === 403) {
    $("access").textContent = r.status === 401 ? "Nhập mã truy cập của cơ quan để xem dữ liệu."
      : "Mã truy cập này không được xem dữ liệu của tỉnh đã chọn.";
  }
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  $("access").textContent = "";
  return r;
}
async function api(path, query = {}) { return (await fetchAs(path, query)).json(); }
function table(el, headers, rows, rowClass = () => "") {
  el.innerHTML = `<thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>` +
    rows.map((r, i) => `<tr class="${rowClass(i)}">${r.map((c) => `<td>${c}</td>`).join("")}</tr>`).join("") +
    "</tbody>";
  if (!rows.length) el.innerHTML += `<tbody><tr><td colspan="${headers.length}">Không có dữ liệu</td></tr></tbody>`;
}

function barChart(el, labels, series, opts = {}) {
  // stacked vertical bars: series = [{name, color, values[]}]
  const w = 520, h = 240, pad = 34, n = Math.max(labels.length, 1);
  const totals = labels.map((_, i) => series.reduce((s, x) => s + x.values[i], 0));
  const step = Math.max(1, Math.ceil(Math.max(1, ...totals) / 4));
  const max = step * 4;
  const slot = (w - pad * 2) / n;
  const bw = Math.min(slot, 70);
  let svg = `<svg viewBox="0 0 ${w} ${h}" role="img" aria-label="${esc(opts.title || "")}" width="100%">`;
  for (let t = 0; t <= 4; t++) {
    const y = h - pad - ((h - pad * 2) * t) / 4;
    svg += `<line x1="${pad}" x2="${w - 8}" y1="${y}" y2="${y}" stroke="#e3e6ea"/>` +
      `<text x="${pad - 6}" y="${y + 4}" font-size="10" text-anchor="end">${step * t}</text>`;
  }
  labels.forEach((label, i) => {
    let y = h - pad;
    series.forEach((s) => {
      const v = s.values[i];
      if (!v) return;
      const bh = ((h - pad * 2) * v) / max;
      y -= bh;
      svg += `<rect class="bar" data-series="${esc(s.name)}" data-value="${v}" x="${pad + i * slot + (slot - bw) / 2 + 3}" y="${y}"` +
        ` width="${Math.max(bw - 6, 2)}" height="${bh}" fill="${s.color}"><title>${esc(s.name)}: ${v}</title></rect>`;
    });
    svg += `<text x="${pad + i * slot + slot / 2}" y="${h - pad + 14}" font-size="10" text-anchor="middle">${esc(label)}</text>`;
  });
  svg += "</svg>";
  el.innerHTML = svg + `<div class="legend">${series.map((s) => `<span><i style="background:${s.color}"></i>${esc(s.name)}</span>`).join("")}</div>`;
}

function months(from, to) {
  const out = [];
  let [y, m] = from.split("-").map(Number);
  const [ty, tm] = to.split("-").map(Number);
  while (y < ty || (y === ty && m <= tm)) { out.push(`${y}-${String(m).padStart(2, "0")}`); m++; if (m > 12) { m = 1; y++; } }
  return out;
}

async function overview() {
  const p = params();
  const board = await api("/api/dashboard", p);
  const h = board.headline;
  const aid = Object.entries(h.aid_committed).map(([c, v]) => `${v.toLocaleString("vi-VN")} ${c}`).join(", ") || "0";
  const r = board.reports;
  const detail = [[r.late, "gửi chậm"], [r.missing, "chưa gửi"], [r.pending, "chưa đến hạn"]]
    .filter(([n]) => n).map(([n, l]) => `${n} ${l}`).join(", ");
  const cards = [["activities_held", "Hoạt động đã tổ chức", h.activities_held], ["delegations_in", "Đoàn vào", h.delegations_in],
    ["delegations_out", "Đoàn ra", h.delegations_out], ["conferences", "Hội nghị, hội thảo quốc tế", h.conferences],
    ["agreements", "Thỏa thuận quốc tế", h.agreements], ["aid", "Viện trợ PCPNN cam kết", aid],
    ["reports", `cơ quan đã gửi báo cáo ${periodLabel(r.period)}${detail ? ` (${detail})` : ""}`,
      `${r.submitted || 0} trên ${r.expected || 0}`]];
  $("headline").innerHTML = cards.map(([k, l, v]) => `<div class="card" data-key="${k}"><div class="value">${esc(v)}</div><div class="label">${esc(l)}</div></div>`).join("");
  const acts = (await api("/api/activities", { province: p.province, from: board.window.from, to: board.window.to })).items;
  const ms = months(board.window.from.slice(0, 7), board.window.to.slice(0, 7));
  const kinds = Object.keys(KINDS);
  barChart($("chart-months"), ms.map((m) => `${m.slice(5)}/${m.slice(2, 4)}`),
    kinds.map((k) => ({ name: KINDS[k], color: COLORS[k], values: ms.map((m) => acts.filter((a) => a.kind === k && (a.start_date || "").startsWith(m)).length) })),
    { title: "Hoạt động theo tháng" });
  const countries = Object.entries(board.delegations_by_country);
  barChart($("chart-countries"), countries.map(([c]) => (board.country_names || {})[c] || countryName(c)),
    [{ name: "Đoàn ra, đoàn vào", color: "#1f6feb", values: countries.map(([, n]) => n) }], { title: "Đoàn theo quốc gia" });
  table($("activities"), ["Loại", "Nội dung", "Đối tác", "Từ ngày", "Đến ngày", "Cơ quan", "Trạng thái"],
    acts.map((a) => [esc(KINDS[a.kind] || a.kind), esc(a.title),
      esc([a.partner_name, a.partner_country_name || countryName(a.partner_country)].filter(Boolean).join(", ")),
      vnDate(a.start_date), vnDate(a.end_date), esc(a.lead_agency_name || a.agency_name || agencyName(a.lead_agency || a.agency)),
      esc(STATUS[a.status] || a.status)]));
  $("docx").onclick = (e) => { e.preventDefault(); download(p); };
}

async function tasks() {
  const rows = (await api("/api/tasks", { province: params().province })).items;
  const leads = [...new Set(rows.flatMap((t) => t.lead_agencies))].sort((a, b) => byName(agencyName(a), agencyName(b)));
  table($("tasks"), ["Kế hoạch", "Số", "Nhiệm vụ", ...leads.map(agencyShort), "Thời gian", "Hạn", "Trạng thái"],
    rows.map((t) => [`<span title="${esc(t.plan_name)}">${esc(t.plan_label || t.plan_number || t.plan_id)}</span>`,
      esc(t.task_number), esc(t.title),
      ...leads.map((a) => (t.lead_agencies.includes(a) ? "● chủ trì" : t.coordinating_agencies.includes(a) ? "○ phối hợp" : "")),
      esc(t.timeframe), vnDate(t.due_date), `<span class="status">${esc(STATUS[t.status] || t.status)}</span>`]),
    (i) => (rows[i].status === "overdue" ? "overdue" : ""));
}

async function compliance() {
  const p = params();
  const period = p.period.endsWith("-H2") ? p.period.slice(0, 4) : p.period;
  const found = await api("/api/reports/compliance", { province: p.province, period });
  const rows = found.items.sort((a, b) => byName(a.agency_name, b.agency_name));
  $("compliance-note").textContent = found.note || "";
  table($("compliance"), ["Cơ quan", "Loại", "Căn cứ", "Hạn gửi", "Ngày gửi", "Tình trạng", "Số ngày trễ", "Ghi chú"],
    rows.map((r) => [esc(r.agency_name), esc(DUTY[r.duty] || r.duty), esc(r.basis || ""),
      vnDate(r.deadline) + (r.deadline_basis === "default" ? " (mặc định của tỉnh)" : ""), vnDate(r.submitted_on),
      `<span class="${r.status}">${esc(STATUS[r.status])}</span>`, r.days_late ?? "", esc(r.note || "")]));
}

async function escalations() {
  const rows = (await api("/api/escalations", { province: params().province, status: $("esc-status").value })).items;
  table($("escalations"), ["Thời điểm", "Cấp", "Gửi đến", "Lý do", "Nội dung", "Hạn của nội dung", "Hạn tiếp nhận",
    "Trạng thái", ""],
    rows.map((r) => [`<time datetime="${esc(r.raised_at)}">${vnTime(r.raised_at)}</time>`, r.level,
      esc(r.target_role || r.target_agency_name || agencyName(r.target_agency)), esc(TRIGGERS[r.trigger] || r.trigger),
      esc(r.message), vnDay(r.due_at), vnTime(r.ack_by), `<span class="esc-status">${esc(STATUS[r.status])}</span>`,
      r.status === "open" ? `<button class="ack" data-id="${esc(r.escalation_id)}">Tiếp nhận</button>` : ""]));
  document.querySelectorAll("button.ack").forEach((b) => b.addEventListener("click", () => acknowledge(b.dataset.id)));
}

async function acknowledge(id) {
  if (!token() && !window.doingoaiSession) { $("esc-message").textContent = "Nhập mã truy cập của cơ quan để tiếp nhận cảnh báo."; return; }
  localStorage.setItem("doingoai-token", token());
  const r = await fetch(`/api/escalations/${encodeURIComponent(id)}/acknowledge`, { method: "POST",
    headers: { ...authorized(), "content-type": "application/json" }, body: JSON.stringify({}) });
  const body = await r.json().catch(() => ({}));
  $("esc-message").textContent = r.ok ? "Đã gửi xác nhận tiếp nhận." : `Không tiếp nhận được: ${body.message || r.status}`;
  if (r.ok) setTimeout(render, 700);  // the polling catches later changes too
}

async function download(p) {
  // the report is read with the same credential: fetched, then saved from the browser's memory
  const r = await fetchAs("/api/reports/consolidated.docx", { province: p.province, period: p.period });
  const name = (/filename="([^"]+)"/.exec(r.headers.get("content-disposition") || "") || [])[1] || "bao-cao.docx";
  const a = document.createElement("a");
  a.href = URL.createObjectURL(await r.blob());
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

async function partners() {
  const rows = (await api("/api/partners", { province: params().province })).items;
  table($("partners"), ["Đối tác", "Tên gốc", "Quốc gia", "Loại", "Quan hệ", "Số hoạt động"],
    rows.map((r) => [`<a href="#doi-tac" data-partner="${esc(r.slug)}">${esc(r.name_vi)}</a>`, esc(r.name_original),
      esc(r.country_name || countryName(r.country)), esc(r.kind_name || NAMES.partner_kinds[r.kind] || r.kind),
      esc(r.relationship), r.activities]));
  document.querySelectorAll("a[data-partner]").forEach((a) => a.addEventListener("click", () => partner(a.dataset.partner)));
}

async function partner(slug) {
  const p = await api(`/api/partners/${encodeURIComponent(slug)}`);
  $("partner").innerHTML = `<h3>${esc(p.name_vi)}</h3><table id="partner-history"></table>`;
  table($("partner-history"), ["Ngày", "Loại", "Nội dung", "Cơ quan"],
    p.history.map((h) => [vnDate(h.start_date), esc(KINDS[h.kind] || h.kind), esc(h.title),
      esc(h.lead_agency_name || h.agency_name || agencyName(h.lead_agency || h.agency))]));
}

async function audit() {
  const data = await api("/api/audit", { province: params().province, limit: 200, order: "desc" }).catch(() => ({ items: [] }));
  const rows = data.items || [];
  const cols = ["sequence", "recorded_at", "agency", "type", "subject", "hash"].filter((c) => !rows.length || c in rows[0]);
  table($("audit"), cols.map((c) => ({ sequence: "Số thứ tự", recorded_at: "Ghi nhận lúc", agency: "Cơ quan", type: "Loại sự kiện",
    subject: "Đối tượng", hash: "Mã băm" })[c] || c),
    rows.map((r) => cols.map((c) => (c === "recorded_at" ? vnTime(r[c]) : c === "hash" ? `<code>${esc(String(r[c]).slice(0, 16))}…</code>`
      : c === "agency" ? esc(agencyName(r[c])) : esc(r[c])))));
}

const TABS = { "tong-quan": overview, "nhiem-vu": tasks, "bao-cao": compliance, "canh-bao": escalations, "doi-tac": partners, "kiem-toan": audit };
Object.assign(TABS, window.doingoaiTabs || {});  // tabs of their own scripts, loaded before this one (forms.js)
function firstTab() { return !token() && "viec-can-lam" in TABS ? "viec-can-lam" : "tong-quan"; }  // a person: their work
function currentTab() { const asked = location.hash.slice(1); return asked.split("/")[0] in TABS ? asked : firstTab(); }
async function render() {
  const tab = currentTab();
  document.querySelectorAll(".tab").forEach((s) => s.classList.toggle("active", s.id === tab));
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.tab === tab));
  const url = new URL(location.href);
  url.searchParams.set("province", $("province").value);
  url.searchParams.set("period", $("period").value);
  history.replaceState(null, "", url);
  try { await TABS[tab](); document.body.dataset.loaded = tab; } catch (e) { console.error(e); }
}

let seen = null;
async function poll() {
  try {
    const h = await (await fetch("/healthz", { headers: authorized() })).json();
    const mark = JSON.stringify(h.projections);
    $("live").classList.toggle("stale", h.status !== "ok");
    if (seen !== null && mark !== seen) await render();
    seen = mark;
  } catch { $("live").classList.add("stale"); }
}

async function init() {
  const q = new URLSearchParams(location.search);
  $("token").value = localStorage.getItem("doingoai-token") || "";
  $("token").addEventListener("change", () => { localStorage.setItem("doingoai-token", token()); location.reload(); });
  const provinces = await api("/api/provinces").then((p) => p.items).catch(() => []);
  $("province").innerHTML = provinces.map((p) => `<option value="${esc(p.slug)}">${esc(p.name_vi)}</option>`).join("");
  if (q.get("province")) $("province").value = q.get("province");
  NAMES = { ...NAMES, ...(await api("/api/names", { province: $("province").value }).catch(() => ({}))) };
  // open on the latest period that has data for the province (the current one when it has none)
  const chosen = provinces.find((p) => p.slug === $("province").value) || {};
  const now = vnParts(new Date().toISOString());
  const latest = chosen.latest_period || periodOf(+now.year, +now.month, +now.day);
  const newest = Math.max(+now.year, +String(latest).slice(0, 4)), oldest = Math.min(2017, +String(latest).slice(0, 4));
  const periods = [];
  for (let y = newest; y >= oldest; y--) periods.push([`${y}-H1`, `6 tháng đầu năm ${y}`], [`${y}`, `Năm ${y}`]);
  $("period").innerHTML = periods.map(([v, l]) => `<option value="${v}">${l}</option>`).join("");
  $("period").value = q.get("period") || latest;
  ["province", "period", "esc-status"].forEach((id) => $(id).addEventListener("change", render));
  window.addEventListener("hashchange", render);
  await poll();  // remember where the projections are before the first render
  await render();
  setInterval(poll, 2000);
}
document.addEventListener("DOMContentLoaded", init);
