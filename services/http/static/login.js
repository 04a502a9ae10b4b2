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
};
function local(path) { return path && path.startsWith("/") && !path.startsWith("//") && !path.startsWith("/\\") ? path : "/"; }

document.addEventListener("DOMContentLoaded", () => {
  const q = new URLSearchParams(location.search);
  const reason = q.get("loi");
  if (reason) document.getElementById("message").textContent = MESSAGES[reason] || MESSAGES.unauthorized;
  const next = local(q.get("next"));
  document.getElementById("next").value = next;
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
