#!/usr/bin/env bash
# Gửi một sự kiện difficulty_raised tới POST /events bằng curl (chế độ structured, CloudEvents JSON).
#   DOINGOAI_URL=http://127.0.0.1:8080 DOINGOAI_TOKEN=dgo_… ./publish_curl.sh ha-tinh ubnd-huyen-nghi-xuan
# In ra câu trả lời: 202 {"id": …, "sequence": …, "duplicate": false}, hoặc lỗi 4xx {"error": …, "problems": […]}.
set -euo pipefail
PROVINCE=$1
AGENCY=$2
ID=$(cat /proc/sys/kernel/random/uuid)   # hoặc uuidgen: mỗi sự kiện một id mới; gửi lại thì giữ nguyên id
curl -sS --fail-with-body -X POST "$DOINGOAI_URL/events" \
  -H "Authorization: Bearer $DOINGOAI_TOKEN" \
  -H "Content-Type: application/cloudevents+json" \
  --data-binary @- <<EOF
{
  "specversion": "1.0",
  "id": "$ID",
  "source": "/provinces/$PROVINCE/agencies/$AGENCY",
  "type": "vn.gov.doingoai.difficulty_raised.v1",
  "subject": "difficulty/$ID",
  "time": "$(date --iso-8601=seconds)",
  "datacontenttype": "application/json",
  "data": {
    "topic": "Thủ tục cấp phép hội thảo quốc tế",
    "description": "Chưa rõ thẩm quyền cho phép tổ chức hội thảo có đại biểu nước ngoài cấp huyện",
    "severity": "medium",
    "addressed_to": "so-ngoai-vu"
  }
}
EOF
echo
