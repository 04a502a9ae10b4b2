"""The web pages, in Vietnamese."""

from __future__ import annotations


def home_page() -> str:
    return """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>Đối ngoại nhân dân — bảng điều phối</title></head>
<body>
<h1>Hệ thống trao đổi thông tin đối ngoại nhân dân</h1>
<p>Sở Ngoại vụ — giám sát, tổng hợp, điều phối thông tin giữa các cơ quan.</p>
<ul>
<li><a href="/api/activities">Hoạt động, đoàn vào</a></li>
<li><a href="/api/rejected">Sự kiện bị từ chối</a></li>
<li><a href="/schemas">Danh mục loại sự kiện</a></li>
<li><a href="/docs">Tài liệu API</a></li>
</ul>
</body></html>"""
