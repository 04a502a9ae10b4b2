"use strict";
// Đăng nhập: the form posts itself to POST /login (no script needed); this shows why a sign-in was
// refused, keeps where to go afterwards, and lets an agency's token be kept in the browser instead.
const MESSAGES = {
  unauthorized: "Tên đăng nhập hoặc mật khẩu không đúng.",
  too_many_requests: "Nhập sai quá nhiều lần. Vui lòng thử lại sau ít phút.",
  disabled: "Tài khoản đã bị khóa. Liên hệ quản trị viên của tỉnh.",
  csrf: "Yêu cầu đăng nhập không hợp lệ. Hãy tải lại trang và thử lại.",
  bad_request: "Nhập tên đăng nhập và mật khẩu.",
  ended: "Phiên làm việc đã kết thúc. Vui lòng đăng nhập lại.",
  // sign-in through the single sign-on (GET /login/oidc/callback)
  oidc_state: "Yêu cầu đăng nhập một cửa không hợp lệ hoặc đã hết hạn. Hãy bắt đầu đăng nhập lại.",
  oidc_failed: "Đăng nhập một cửa không thành công. Hãy thử lại.",
  oidc_unavailable: "Không kết nối được với hệ thống đăng nhập một cửa. Vui lòng thử lại sau hoặc dùng mật khẩu.",
  oidc_province: "Tài khoản một cửa không thuộc tỉnh nào mà hệ thống phục vụ. Liên hệ quản trị viên của tỉnh.",
  oidc_agency: "Tài khoản một cửa không thuộc cơ quan nào của tỉnh trong hệ thống. Liên hệ quản trị viên của tỉnh.",
  oidc_role: "Tài khoản một cửa chưa được cấp vai trò trong hệ thống. Liên hệ quản trị viên của tỉnh.",
  oidc_username: "Tài khoản một cửa không có tên đăng nhập dùng được. Liên hệ quản trị viên của tỉnh.",
  oidc_unmapped: "Tài khoản một cửa không dùng được trong hệ thống. Liên hệ quản trị viên của tỉnh.",
  username_taken: "Tên đăng nhập của tài khoản một cửa đã thuộc một tài khoản khác. Liên hệ quản trị viên của tỉnh.",
};
function local(path) { return path && path.startsWith("/") && !path.startsWith("//") && !path.startsWith("/\\") ? path : "/"; }

// The single sign-on button, shown only when the service has an OpenID provider (GET /api/login-options).
async function showSingleSignOn(next) {
  try {
    const r = await fetch("/api/login-options", { headers: { accept: "application/json" } });
    const oidc = r.ok ? (await r.json()).oidc : null;
    if (!oidc) return;
    const link = document.getElementById("sso-link");
    link.textContent = oidc.label;
    link.href = oidc.url + (next !== "/" ? "?next=" + encodeURIComponent(next) : "");
    link.addEventListener("click", () => localStorage.removeItem("doingoai-token"));
    document.getElementById("sso").hidden = false;
  } catch (e) { /* no button: the password form still works */ }
}

document.addEventListener("DOMContentLoaded", () => {
  const q = new URLSearchParams(location.search);
  const reason = q.get("loi");
  if (reason) document.getElementById("message").textContent = MESSAGES[reason] || MESSAGES.unauthorized;
  const next = local(q.get("next"));
  document.getElementById("next").value = next;
  showSingleSignOn(next);
  const username = document.getElementById("username");
  if (reason && sessionStorage.getItem("doingoai-username")) {  // a refused sign-in: the name stays typed
    username.value = sessionStorage.getItem("doingoai-username");
    document.getElementById("password").focus();
  }
  document.getElementById("sign-in").addEventListener("submit", () => {
    sessionStorage.setItem("doingoai-username", username.value);
    localStorage.removeItem("doingoai-token");  // a person signing in reads as themselves, not with a token
  });
  document.getElementById("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const token = document.getElementById("token").value.trim();
    if (!token) return;
    localStorage.setItem("doingoai-token", token);
    location.assign(next);
  });
});
