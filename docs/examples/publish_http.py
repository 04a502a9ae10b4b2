"""Gửi một sự kiện `difficulty_raised` tới doingoai qua HTTP (`POST /events`), bằng CloudEvents Python SDK,
rồi đọc lại sự kiện đã lưu (`GET /api/events/{id}`).

    pip install cloudevents httpx
    doingoai credentials issue --province ha-tinh --agency ubnd-huyen-nghi-xuan > cred.json
    python publish_http.py cred.json

`cred.json` là đúng những gì `doingoai credentials issue` in ra: `http` (địa chỉ dịch vụ), `token`,
`province`, `agency`. In ra một dòng JSON: `id`, `sequence`, `duplicate` và sự kiện đọc lại.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from cloudevents.core.bindings.http import to_structured_event
from cloudevents.core.v1.event import CloudEvent


def difficulty(province: str, agency: str) -> CloudEvent:
    """Một khó khăn, vướng mắc đơn vị báo Sở Ngoại vụ; `data` theo /schemas/difficulty_raised.v1.json."""
    attributes = {
        "id": str(uuid.uuid4()),  # (source, id) là khoá chống trùng: gửi lại đúng id này không tạo bản thứ hai
        "source": f"/provinces/{province}/agencies/{agency}",
        "type": "vn.gov.doingoai.difficulty_raised.v1",
        "subject": f"difficulty/{uuid.uuid4()}",  # <loại>/<mã>: hồ sơ mà sự kiện thuộc về
        "time": datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")),
        "datacontenttype": "application/json",
    }
    data = {
        "topic": "Thủ tục cấp phép hội thảo quốc tế",
        "description": "Chưa rõ thẩm quyền cho phép tổ chức hội thảo có đại biểu nước ngoài cấp huyện",
        "severity": "medium",
        "addressed_to": "so-ngoai-vu",
    }
    return CloudEvent(attributes, data)


def main(creds: dict[str, str]) -> None:
    event = difficulty(creds["province"], creds["agency"])
    message = to_structured_event(event)  # content-type: application/cloudevents+json
    auth = {"authorization": f"Bearer {creds['token']}"}
    with httpx.Client(base_url=creds["http"], headers=auth, timeout=30) as client:
        answer = client.post("/events", content=message.body, headers=message.headers)
        if answer.status_code != 202:  # 4xx: {"error": <loại lỗi>, "problems": [{"path", "message"}]}
            sys.exit(f"{answer.status_code} {answer.text}")
        stored = answer.json()  # {"id", "sequence", "duplicate"}
        # Dữ liệu để đọc được dựng sau khi sự kiện đã lưu, thường chưa tới một giây: chờ sự kiện hiện ra.
        for _ in range(100):
            read = client.get(f"/api/events/{event.get_id()}", params={"source": event.get_source()})
            if read.status_code != 404:
                break
            time.sleep(0.2)
        read.raise_for_status()
    print(json.dumps({**stored, "read_back": read.json()}, ensure_ascii=False))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} <credentials.json>")
    main(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8")))
