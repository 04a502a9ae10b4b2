// Ký một sự kiện bằng khoá riêng của cơ quan (phần mở rộng verifiability của CloudEvents: chữ ký DSSE
// trong thuộc tính `dssematerial`) rồi gửi qua HTTP; chỉ dùng thư viện sẵn có của Node.js (18 trở lên).
// Sign an event with the agency's private key (Ed25519 or ECDSA P-256 PEM) and post it: Node.js built-ins only.
//
//   doingoai keys add --province ha-tinh --agency ubnd-huyen-nghi-xuan --public-key khoa.pub.pem
//   node sign_event.mjs cred.json khoa.pem        # in một dòng JSON: id, sequence, key_id, signature
//
// `signEvent()` dùng lại được với bất kỳ sự kiện nào: gửi đúng chuỗi nó trả về, không tuần tự hoá lại.
import { createHash, createPrivateKey, createPublicKey, randomUUID, sign } from "node:crypto";
import { readFileSync } from "node:fs";

const PAYLOAD_TYPE = "https://cloudevents.io/verifiability/dsse/v0.1";
const CORE = ["id", "source", "specversion", "type", "datacontenttype", "dataschema", "subject"];

const digest = (data) => createHash("sha256").update(data).digest();
const b64 = (data) => Buffer.from(data).toString("base64");

// Mã khoá (keyid): SHA-256 của khoá công khai dạng DER (SubjectPublicKeyInfo), hệ 16, như `doingoai keys add` in ra.
export function keyId(privateKey) {
  return createHash("sha256").update(createPublicKey(privateKey).export({ type: "spki", format: "der" })).digest("hex");
}

// `time` theo giờ UTC, tới giây, đuôi Z: 2026-05-13T10:49:12.5+01:00 -> 2026-05-13T09:49:12Z.
const utcSeconds = (time) => new Date(time).toISOString().replace(/\.\d+Z$/, "Z");

export function signEvent(event, privateKey, signedExtensions = []) {
  const dataText = Buffer.from(JSON.stringify(event.data), "utf8"); // `data` băm đúng như được viết trong thân
  const parts = CORE.map((n) => digest(event[n] ? Buffer.from(event[n], "utf8") : Buffer.alloc(0)));
  parts.push(digest(event.time ? utcSeconds(event.time) : ""), digest(dataText));
  const material = { core: b64(digest(Buffer.concat(parts))) };
  if (signedExtensions.length) {
    const values = signedExtensions.map((n) => digest(event[n] === undefined || event[n] === "" ? "" : String(event[n])));
    Object.assign(material, { ext: b64(digest(Buffer.concat(values))), signedextattrs: signedExtensions });
  }
  const payload = Buffer.from(JSON.stringify(material), "utf8");
  const pae = Buffer.concat([
    Buffer.from(`DSSEv1 ${Buffer.byteLength(PAYLOAD_TYPE)} ${PAYLOAD_TYPE} ${payload.length} `, "utf8"), payload,
  ]);
  const sig = privateKey.asymmetricKeyType === "ed25519"
    ? sign(null, pae, privateKey)
    : sign("sha256", pae, { key: privateKey, dsaEncoding: "ieee-p1363" }); // ECDSA P-256: r||s
  const envelope = { payloadType: PAYLOAD_TYPE, payload: b64(payload), signatures: [{ keyid: keyId(privateKey), sig: b64(sig) }] };
  return JSON.stringify({ ...event, dssematerial: b64(JSON.stringify(envelope)) });
}

function difficulty(province, agency) {
  return {
    specversion: "1.0",
    id: randomUUID(),
    source: `/provinces/${province}/agencies/${agency}`,
    type: "vn.gov.doingoai.difficulty_raised.v1",
    subject: `difficulty/${randomUUID()}`,
    time: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    datacontenttype: "application/json",
    data: { topic: "Tập huấn công tác thông tin đối ngoại", severity: "low",
      description: "Đề nghị Sở Ngoại vụ cử báo cáo viên", addressed_to: "so-ngoai-vu" },
  };
}

async function main(credsPath, keyPath) {
  const creds = JSON.parse(readFileSync(credsPath, "utf8"));
  const privateKey = createPrivateKey(readFileSync(keyPath));
  const event = difficulty(creds.province, creds.agency);
  const headers = { authorization: `Bearer ${creds.token}` };
  const answer = await fetch(`${creds.http}/events`, {
    method: "POST", body: signEvent(event, privateKey),
    headers: { ...headers, "content-type": "application/cloudevents+json" },
  });
  if (answer.status !== 202) throw new Error(`${answer.status} ${await answer.text()}`); // 400 bad_signature: xem lý do
  const stored = await answer.json();
  const url = `${creds.http}/api/events/${event.id}?source=${encodeURIComponent(event.source)}`;
  let read;
  for (let i = 0; i < 100; i++) { // chờ sự kiện hiện ra trong dữ liệu đọc
    read = await fetch(url, { headers });
    if (read.status !== 404) break;
    await new Promise((done) => setTimeout(done, 200));
  }
  if (!read.ok) throw new Error(`${read.status} ${await read.text()}`);
  console.log(JSON.stringify({ ...stored, key_id: keyId(privateKey), signature: (await read.json()).signature }));
}

if (process.argv.length === 4) {
  main(process.argv[2], process.argv[3]).catch((error) => { console.error(error.message); process.exit(1); });
}
