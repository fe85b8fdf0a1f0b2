-- tlsoffload fleet registry, version 3.
--
-- The negotiation policy a YAML device has (server.Device MaxVersion,
-- CipherSuites, KeyExchanges), kept in the policy its devices share, as the
-- rest of their policy is. NULL is the default, as an absent YAML field:
-- max_version NULL is TLS 1.2; cipher_suites NULL allows every suite the
-- offloader implements; key_exchanges NULL allows all of them, except RSA
-- for a device with a client certificate. An empty array is refused, so
-- that the default has one spelling. cipher_suites are IANA code points;
-- key_exchanges the configuration names. The rest of the validation (the
-- suites implemented, each usable under the key exchanges and the versions,
-- and the client-certificate rule, which depends on the device) is
-- server.Device.CheckNegotiation's, run by the admin before writing.
--
-- registry_meta holds facts about the database itself; the first is
-- 'kek_check': a fixed label sealed under the key-encryption key, so that a
-- replica or an admin command given another KEK is refused at start rather
-- than failing on each device. Written by the admin commands (migrate,
-- rekey, and any command on a database that lacks it), never by replicas.
-- Existing rows are untouched: every new column is NULL.

ALTER TABLE policies
    ADD COLUMN max_version   integer CHECK (max_version IN (769, 770, 771)),
    ADD COLUMN cipher_suites integer[] CHECK (cardinality(cipher_suites) BETWEEN 1 AND 64
        AND array_position(cipher_suites, NULL) IS NULL
        AND 0 <= ALL (cipher_suites) AND 65535 >= ALL (cipher_suites)),
    ADD COLUMN key_exchanges text[] CHECK (cardinality(key_exchanges) BETWEEN 1 AND 3
        AND key_exchanges <@ ARRAY['ecdhe_rsa', 'ecdhe_ecdsa', 'rsa']),
    ADD CONSTRAINT policies_version_range CHECK (max_version IS NULL OR min_version = 0 OR max_version >= min_version);

CREATE TABLE registry_meta (
    key        text PRIMARY KEY,
    value      bytea NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
