-- 0008: model credentials and other secrets of a policy profile (issue 15). The policy names
-- them (`profiles.<name>.secrets`); their values live only here, encrypted with the master key
-- like the secret integration settings (iv || tag || ciphertext, gateway/src/secrets/cipher.ts,
-- bound to "profile:<profile>/<name>"). One row per profile and name: setting a value again
-- replaces it in place, so rotating a key never adds rows. Forward-only, like 0001–0007.
create table profile_secrets (
  profile text not null,
  name text not null,
  value_encrypted bytea not null,
  updated_by text not null,
  updated_at timestamptz not null default now(),
  primary key (profile, name)
);
