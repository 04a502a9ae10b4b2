"""Gửi một sự kiện `difficulty_raised` thẳng vào NATS JetStream bằng nats-py, sự kiện dựng bằng CloudEvents
Python SDK (định dạng JSON, chế độ structured, như trên HTTP).

    pip install cloudevents nats-py
    doingoai credentials issue --province ha-tinh --agency ubnd-huyen-nghi-xuan > cred.json
    python publish_nats.py cred.json

`cred.json` là những gì `doingoai credentials issue` in ra: `nats_url`, `nats_user`, `nats_password`,
`nats_inbox_prefix`, `province`, `agency`. In ra một dòng JSON: `id`, `source`, `sequence` (số thứ tự
trong luồng DOINGOAI_EVENTS).
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import nats
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent


def difficulty(province: str, agency: str) -> CloudEvent:
    """Một khó khăn, vướng mắc đơn vị báo Sở Ngoại vụ; `data` theo /schemas/difficulty_raised.v1.json."""
    return CloudEvent(
        {
            "id": str(uuid.uuid4()),
            "source": f"/provinces/{province}/agencies/{agency}",
            "type": "vn.gov.doingoai.difficulty_raised.v1",
            "subject": f"difficulty/{uuid.uuid4()}",
            "time": datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")),
            "datacontenttype": "application/json",
        },
        {
            "topic": "Đoàn vào có thành viên chưa đủ hồ sơ",
            "description": "Cần hướng dẫn thủ tục đón đoàn khách nước ngoài vào làm việc tại huyện",
            "severity": "high",
            "addressed_to": "so-ngoai-vu",
        },
    )


async def main(creds: dict[str, str]) -> None:
    event = difficulty(creds["province"], creds["agency"])
    # Chủ đề: doingoai.events.<tỉnh>.<cơ quan>.<tên sự kiện>; tài khoản NATS chỉ được gửi dưới chủ đề của mình.
    subject = f"doingoai.events.{creds['province']}.{creds['agency']}.difficulty_raised"
    headers = {
        "Nats-Msg-Id": f"{event.get_source()} {event.get_id()}",  # source, một dấu cách, id: chống trùng
        "Content-Type": JSONFormat.CONTENT_TYPE,
    }
    # inbox_prefix: trả lời (cả xác nhận của JetStream) chỉ đến được hộp thư riêng của tài khoản này.
    nc = await nats.connect(creds["nats_url"].split(","), user=creds["nats_user"], password=creds["nats_password"],
                            inbox_prefix=creds["nats_inbox_prefix"])
    try:
        ack = await nc.jetstream().publish(subject, JSONFormat().write(event), headers=headers)
    finally:
        await nc.close()
    print(json.dumps({"id": event.get_id(), "source": event.get_source(), "sequence": ack.seq}))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} <credentials.json>")
    asyncio.run(main(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))))
