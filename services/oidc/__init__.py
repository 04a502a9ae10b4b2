"""OpenID Connect sign-in: a province's single sign-on (its identity server) as the alternative to a
password. `config` holds the settings (`DOINGOAI_OIDC_*`), `claims` maps a provider's claims to an
account (pure), `accounts` keeps the accounts linked to the provider; the routes are
`services.http.oidc`."""
