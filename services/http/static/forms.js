"use strict";
// Ghi nhận: forms drawn from the event types' JSON Schemas (GET /api/forms: only those the person's agency
// may publish), posted as CloudEvents through POST /events; the answer's problems are shown at their fields.
// It uses app.js's helpers ($, api, esc, authorized) when the tab is drawn.
(() => {
  const DATE = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/;
  const MESSAGES = [
    [/^Field required/, "Chưa nhập: mục này bắt buộc"],
    [/valid date/, "Ngày không hợp lệ: nhập theo dạng dd/mm/yyyy"],
    [/^String should have at least 1 character|^List should have at least 1 item/, "Chưa nhập"],
    [/^String should have at most (\d+)/, "Dài quá $1 ký tự"],
    [/^String should match pattern/, "Không đúng định dạng"],
    [/^Input should be a valid (integer|number)/, "Phải là số"],
    [/^Input should be greater than or equal to (\S+)/, "Phải từ $1 trở lên"],
    [/^Input should be less than or equal to (\S+)/, "Không được quá $1"],
    [/^Input should be greater than (\S+)/, "Phải lớn hơn $1"],
    [/^Input should be '/, "Chọn một giá trị trong danh sách"],
    [/ is before /, "Ngày này sớm hơn ngày bắt đầu tương ứng"],
    [/ exceeds /, "Vượt quá tổng số"],
    [/duplicates/, "Có mục bị trùng"],
    [/period like 2021-H1/, "Báo cáo 6 tháng cần kỳ dạng 2021-H1"],
    [/period like 2021$/, "Báo cáo năm cần kỳ dạng 2021"],
    [/cannot both lead and coordinate/, "Một cơ quan không thể vừa chủ trì vừa phối hợp"],
    [/upload|stored file|uploaded/, "Tệp đính kèm chưa được tải lên hoặc không khớp"],
  ];
  const UPLOAD_ERRORS = { too_large: "Tệp quá lớn", unsupported_media_type: "Chỉ nhận tệp PDF hoặc Word (.docx)",
    bad_request: "Tệp không đọc được", csrf: "Phiên làm việc đã hết, hãy đăng nhập lại" };
  let FORMS = null, PARTNERS = null, current = null;

  function vi(message) {  // the API's message in Vietnamese, where it is a known one
    for (const [re, text] of MESSAGES) {
      const m = re.exec(message);
      if (m) return text.replace("$1", m[1] || "");
    }
    return message;
  }
  function uuid() {  // crypto.randomUUID needs a secure context; an office may open the page over plain http
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  function toIso(text) {  // dd/mm/yyyy -> yyyy-mm-dd; anything else is sent as typed, and the API says why not
    const m = DATE.exec(text.trim());
    return m ? `${m[3]}-${m[2].padStart(2, "0")}-${m[1].padStart(2, "0")}` : text.trim();
  }
  function fromIso(iso) { const d = String(iso || "").split("-"); return d.length === 3 ? `${d[2]}/${d[1]}/${d[0]}` : ""; }
  function today() {
    const p = new Intl.DateTimeFormat("en-GB", { timeZone: "Asia/Ho_Chi_Minh", day: "2-digit", month: "2-digit", year: "numeric" });
    return p.format(new Date());
  }

  // --- reading the schema
  function deref(schema, defs) {
    if (schema && schema.$ref) return { ...defs[schema.$ref.split("/").pop()], ...schema, $ref: undefined };
    return schema || {};
  }
  function effective(prop, defs) {
    // a property as one kind: the non-null branch of an optional one, the first of a number-or-string
    let s = deref(prop, defs);
    if (s.anyOf) {
      const branch = s.anyOf.find((b) => b.type !== "null") || {};
      s = { ...deref(branch, defs), title: s.title, default: s.default, examples: s.examples };
    }
    return s;
  }
  function choices(s) {
    if (s["x-reference"] === "agency") {
      return Object.entries(NAMES.agencies || {}).map(([v, a]) => [v, a.name]).sort((a, b) => COLLATOR.compare(a[1], b[1]));
    }
    if (s["x-reference"] === "country") {
      return Object.entries(NAMES.countries || {}).sort((a, b) => COLLATOR.compare(a[1], b[1]));
    }
    if (s["x-reference"] === "partner") return (PARTNERS || []).map((p) => [p.slug, p.name_vi]);
    if (s.enum) return s.enum.map((v) => [v, (s["x-labels-vi"] || {})[v] || v]);
    return null;
  }

  // --- drawing a form: every input carries data-path (data.a.b.0.c), so the API's problems find it
  function field(name, prop, required, path, defs, form) {
    const s = effective(prop, defs);
    const title = prop.title || s.title || name;
    const wrap = document.createElement("div");
    wrap.className = "field";
    wrap.dataset.path = path;
    const label = `<span class="label">${esc(title)}${required ? ' <b class="req">*</b>' : ""}</span>`;
    const example = (prop.examples || s.examples || [])[0];
    const hint = typeof example === "string" && s.format !== "date" ? ` placeholder="Ví dụ: ${esc(example)}"` : "";
    const value = s.default ?? "";
    if (s.type === "object") {
      wrap.innerHTML = `<fieldset data-kind="object"><legend>${label}</legend></fieldset>`;
      const set = wrap.firstChild;
      Object.entries(s.properties || {}).forEach(([k, p]) => set.append(field(k, p, (s.required || []).includes(k), `${path}.${k}`, defs, form)));
      wrap.dataset.optional = required ? "" : "1";
      return wrap;
    }
    if (s.type === "array") {
      const item = effective(s.items || {}, defs);
      if (name === "attachments" && item.properties && item.properties.sha256) {
        wrap.dataset.kind = "files";
        wrap.innerHTML = `<label>${label}<input type="file" multiple accept=".pdf,.docx,application/pdf,application/vnd.openxmlformats-officedocument.wordprocessingml.document"></label>`;
        return wrap;
      }
      const options = choices(item);
      if (options) {
        wrap.dataset.kind = "multi";
        wrap.innerHTML = `<label>${label}<select multiple size="5">${options.map(([v, l]) => `<option value="${esc(v)}">${esc(l)}</option>`).join("")}</select></label>`;
        return wrap;
      }
      if (item.type === "object") {
        wrap.dataset.kind = "list";
        wrap.innerHTML = `<fieldset><legend>${label}</legend><div class="items"></div><button type="button" class="add">+ Thêm</button></fieldset>`;
        const items = wrap.querySelector(".items");
        wrap.querySelector(".add").addEventListener("click", () => {
          const n = items.children.length;
          const one = field(`${n + 1}`, { ...s.items, title: `${title} ${n + 1}` }, true, `${path}.${n}`, defs, form);
          one.classList.add("item");
          items.append(one);
        });
        return wrap;
      }
      wrap.dataset.kind = "lines";
      wrap.innerHTML = `<label>${label}<textarea rows="3" placeholder="Mỗi dòng một mục"></textarea></label>`;
      return wrap;
    }
    const options = choices(s);
    if (options) {
      wrap.dataset.kind = "one";
      const blank = required && value !== "" ? "" : '<option value="">— chọn —</option>';
      wrap.innerHTML = `<label>${label}<select>${blank}${options.map(([v, l]) => `<option value="${esc(v)}"${v === value ? " selected" : ""}>${esc(l)}</option>`).join("")}</select></label>`;
      if (name === form.itself) { wrap.querySelector("select").value = form.me.agency; wrap.querySelector("select").disabled = true; }
      return wrap;
    }
    if (s.type === "boolean") {
      wrap.dataset.kind = "bool";
      wrap.innerHTML = `<label class="check"><input type="checkbox"${value === true ? " checked" : ""}> ${esc(title)}</label>`;
      return wrap;
    }
    if (s.format === "date") {
      wrap.dataset.kind = "date";
      const day = value ? fromIso(value) : required && /_on$/.test(name) ? today() : "";
      wrap.innerHTML = `<label>${label}<input type="text" inputmode="numeric" placeholder="dd/mm/yyyy" value="${esc(day)}"></label>`;
      return wrap;
    }
    if (s.type === "integer" || s.type === "number") {
      wrap.dataset.kind = "number";
      wrap.innerHTML = `<label>${label}<input type="text" inputmode="decimal" value="${esc(value)}"></label>`;
      return wrap;
    }
    wrap.dataset.kind = "text";
    wrap.innerHTML = (s.maxLength || 0) > 500
      ? `<label>${label}<textarea rows="4"${hint}>${esc(value)}</textarea></label>`
      : `<label>${label}<input type="text"${hint} value="${esc(value)}"></label>`;
    return wrap;
  }

  // --- reading a form back as `data`: empty optional fields are left out
  function valueOf(wrap) {
    const kind = wrap.dataset.kind, input = wrap.querySelector("input, select, textarea");
    if (kind === "bool") return input.checked;
    if (kind === "multi") return [...input.selectedOptions].map((o) => o.value);
    if (kind === "lines") return input.value.split("\n").map((l) => l.trim()).filter(Boolean);
    if (kind === "list") return [...wrap.querySelector(".items").children].map(valueOf).filter((v) => v !== undefined);
    if (kind === "files") return undefined;  // uploaded first, see submit
    if (!kind) {  // an object
      const out = {};
      wrap.querySelectorAll(":scope > fieldset > .field").forEach((f) => {
        const v = valueOf(f);
        if (v !== undefined) out[f.dataset.path.split(".").pop()] = v;
      });
      const filled = Object.values(out).some((v) => v !== false && !(Array.isArray(v) && !v.length));
      return filled || !wrap.dataset.optional ? out : undefined;
    }
    const text = input.value.trim();
    if (text === "") return undefined;
    if (kind === "date") return toIso(text);
    if (kind === "number") { const n = Number(text.replace(/\s/g, "").replace(",", ".")); return Number.isFinite(n) ? n : text; }
    return text;
  }

  function showProblems(form, problems) {
    const box = form.querySelector(".form-message");
    const general = [];
    problems.forEach(({ path, message }) => {
      let el = null, at = path || "";
      while (at && !(el = form.querySelector(`.field[data-path="${CSS.escape(at)}"]`))) at = at.includes(".") ? at.slice(0, at.lastIndexOf(".")) : "";
      const text = `${vi(message)}`;
      if (el && at.startsWith("data")) {
        el.classList.add("invalid");
        const note = document.createElement("p");
        note.className = "field-error";
        note.textContent = text;
        note.title = message;
        el.append(note);
      } else general.push(`${path ? `${path}: ` : ""}${text}${text !== message ? ` (${message})` : ""}`);
    });
    box.className = "form-message error";
    box.textContent = `Chưa ghi nhận được. Kiểm tra các mục được đánh dấu.${general.length ? ` ${general.join("; ")}` : ""}`;
  }
  function clearProblems(form) {
    form.querySelectorAll(".invalid").forEach((e) => e.classList.remove("invalid"));
    form.querySelectorAll("p.field-error").forEach((e) => e.remove());
  }

  async function upload(wrap) {
    const refs = [];
    for (const file of wrap.querySelector("input[type=file]").files) {
      const body = new FormData();
      body.append("file", file, file.name);
      const r = await fetch("/api/attachments", { method: "POST", headers: authorized(), body });
      const answer = await r.json().catch(() => ({}));
      if (!r.ok) {
        const limit = answer.max_bytes ? ` (tối đa ${Math.round(answer.max_bytes / 1048576)} MB)` : "";
        throw { problems: [{ path: wrap.dataset.path, message: `${file.name}: ${UPLOAD_ERRORS[answer.error] || answer.error || r.status}${limit}` }] };
      }
      refs.push(answer);
    }
    return refs;
  }

  async function submit(form, spec) {
    clearProblems(form);
    const box = form.querySelector(".form-message");
    box.className = "form-message";
    box.textContent = "Đang gửi…";
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const data = {};
      for (const wrap of form.querySelectorAll(".fields > .field")) {
        const name = wrap.dataset.path.slice(5);
        const v = wrap.dataset.kind === "files" ? await upload(wrap) : valueOf(wrap);
        if (v !== undefined && !(wrap.dataset.kind === "files" && !v.length)) data[name] = v;
      }
      const picked = form.querySelector("select.subject");
      const subject = picked && picked.value ? picked.value : `${spec.aggregate}/${uuid()}`;
      const event = { specversion: "1.0", id: uuid(), source: FORMS.source, type: spec.type, subject,
        time: new Date().toISOString(), datacontenttype: "application/json", data };
      const r = await fetch("/events", { method: "POST", body: JSON.stringify(event),
        headers: { ...authorized(), "content-type": "application/cloudevents+json" } });
      const answer = await r.json().catch(() => ({}));
      if (!r.ok) throw answer.problems ? answer : { problems: [{ path: "", message: answer.message || answer.error || String(r.status) }] };
      $("form-host").dataset.recorded = event.id;
      box.className = "form-message ok";
      box.textContent = `Đã ghi nhận: ${spec.title_vi} (số thứ tự ${answer.sequence}).`;
      form.querySelectorAll("input, select, textarea, button").forEach((i) => { i.disabled = true; });
      button.hidden = true;
      const again = document.createElement("button");
      again.type = "button";
      again.className = "again";
      again.textContent = "Ghi nhận việc khác";
      again.addEventListener("click", () => draw(spec));
      form.append(again);
      return;
    } catch (e) {
      showProblems(form, (e && e.problems) || [{ path: "", message: String(e) }]);
    }
    button.disabled = false;
  }

  async function draw(spec) {
    const host = $("form-host");
    const defs = spec.schema.$defs || {};
    const form = document.createElement("form");
    form.id = `form-${spec.name}`;
    form.className = "event-form";
    form.noValidate = true;
    form.innerHTML = `<h3>${esc(spec.title_vi)}</h3><div class="about"></div><div class="fields"></div>
      <p class="form-message" role="status"></p><button type="submit">Ghi nhận</button>`;
    const ctx = { itself: spec.itself, me: FORMS };
    Object.entries(spec.schema.properties || {}).forEach(([k, p]) =>
      form.querySelector(".fields").append(field(k, p, (spec.schema.required || []).includes(k), `data.${k}`, defs, ctx)));
    form.addEventListener("submit", (e) => { e.preventDefault(); submit(form, spec); });
    host.replaceChildren(form);
    const about = await api(`/api/forms/${encodeURIComponent(spec.name)}/subjects`);
    if (about.items.length || !about.new) {
      const opts = (about.new ? ['<option value="">— Mới —</option>'] : []).concat(about.items.map((i) =>
        `<option value="${esc(i.subject)}" data-owner="${esc(i.owner)}">${esc(i.label)} — ${esc(i.owner_name)}</option>`));
      form.querySelector(".about").innerHTML = opts.length
        ? `<label><span class="label">Về việc <b class="req">*</b></span><select class="subject">${opts.join("")}</select></label>`
        : '<p class="note">Chưa có việc nào để ghi nhận bước này.</p>';
      const select = form.querySelector("select.subject");
      const owner = () => {
        const f = spec.owner_field && form.querySelector(`.field[data-path="data.${spec.owner_field}"] select`);
        if (f && select.selectedOptions[0]) f.value = select.selectedOptions[0].dataset.owner || "";
      };
      if (select) { select.addEventListener("change", owner); owner(); }
      form.querySelector("button[type=submit]").disabled = !opts.length;
    }
  }

  async function render() {
    if (!FORMS) {
      FORMS = await api("/api/forms");
      PARTNERS = (await api("/api/partners", { province: FORMS.province }).catch(() => ({ items: [] }))).items;
      if (FORMS.province !== $("province").value) {
        NAMES = { ...NAMES, ...(await api("/api/names", { province: FORMS.province }).catch(() => ({}))) };
      }
    }
    const pick = $("form-type");
    if (!pick.options.length) {
      const groups = [...new Set(FORMS.forms.map((f) => f.group))];
      pick.innerHTML = '<option value="">— Chọn việc cần ghi nhận —</option>' + groups.map((g) => `<optgroup label="${esc(g)}">${
        FORMS.forms.filter((f) => f.group === g).map((f) => `<option value="${esc(f.name)}">${esc(f.title_vi)}</option>`).join("")}</optgroup>`).join("");
      pick.addEventListener("change", () => { current = FORMS.forms.find((f) => f.name === pick.value); if (current) draw(current); else $("form-host").replaceChildren(); });
      $("forms-note").textContent = FORMS.forms.length ? "" : "Tài khoản này không ghi nhận sự kiện (chỉ xem).";
    }
  }

  window.doingoaiTabs = { ...(window.doingoaiTabs || {}), "ghi-nhan": render };
})();
