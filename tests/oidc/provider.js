// A real OpenID provider (panva/oidc-provider) for the integration tests of the OpenID Connect
// sign-in: one confidential client, a few accounts whose claims look like those of a province's
// identity server (Keycloak-like groups and attributes), and the provider's development login and
// consent forms, which a test submits over HTTP.
//
//   node provider.js   with PORT, CLIENT_ID, CLIENT_SECRET and REDIRECT_URI in the environment
//
// Prints one line `ready <issuer>` once it listens on 127.0.0.1:PORT.
import { generateKeyPairSync, randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';

const { PORT, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI } = process.env;
if (!PORT || !CLIENT_ID || !CLIENT_SECRET || !REDIRECT_URI) {
  console.error('PORT, CLIENT_ID, CLIENT_SECRET and REDIRECT_URI are required');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${PORT}`;

// The people of the province's identity server: a Keycloak-like shape, with the agency as an
// attribute holding its Vietnamese name and the roles as groups.
const ACCOUNTS = {
  'nguyen.van.an': {
    preferred_username: 'nguyen.van.an',
    name: 'Nguyễn Văn An',
    title: 'Phó Giám đốc Sở Tư pháp',
    province: 'ha-tinh',
    department: 'Sở Tư pháp',
    groups: ['/nhan-vien', '/doingoai/chuyen-vien', '/doingoai/lanh-dao'],
  },
  'le.thi.hoa': {
    preferred_username: 'le.thi.hoa',
    name: 'Lê Thị Hoa',
    province: 'ha-tinh',
    department: 'so-ngoai-vu', // already a slug: no mapping needed
    groups: ['/doingoai/chuyen-vien'],
  },
  'tran.van.khach': {
    preferred_username: 'tran.van.khach',
    name: 'Trần Văn Khách',
    title: 'Nhân viên',
    province: 'ha-tinh',
    department: 'Công ty Du lịch Hồng Lĩnh', // not an agency of the province
    groups: ['/doingoai/chuyen-vien'],
  },
  'pham.van.trung': { // the username of an account the test makes with a password
    preferred_username: 'pham.van.trung',
    name: 'Phạm Văn Trung (một cửa)',
    province: 'ha-tinh',
    department: 'Sở Tư pháp',
    groups: ['/doingoai/lanh-dao'],
  },
};

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'test-rs256', alg: 'RS256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    redirect_uris: [REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  pkce: { required: () => true }, // a client that does not send a code challenge is refused
  scopes: ['openid', 'profile', 'doingoai'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username', 'title'],
    doingoai: ['province', 'department', 'groups'],
  },
  async findAccount(ctx, id) {
    const account = ACCOUNTS[id];
    if (!account) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...account }; } };
  },
  features: { devInteractions: { enabled: true } },
});

provider.listen(Number(PORT), '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
