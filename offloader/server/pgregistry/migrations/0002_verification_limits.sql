-- tlsoffload fleet registry, version 2: the verification and resource
-- fields a device entry gained (server.Device Profile, Pins, CRLs, Limits),
-- kept in the policy its devices share, as the rest of their policy is.
-- CRLs are stored once per distinct set, by the SHA-256 of its DER form
-- (the CRLs' DER one after another), as trust-root bundles are. Zero limits
-- take the replica's defaults (device_limits), as in a YAML entry.

CREATE TABLE crl_sets (
    sha256     bytea PRIMARY KEY CHECK (length(sha256) = 32),
    der        bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE policies
    ADD COLUMN profile       text NOT NULL DEFAULT 'webpki' CHECK (profile IN ('webpki', 'rfc5280')),
    ADD COLUMN pins          bytea[] NOT NULL DEFAULT '{}',
    ADD COLUMN crls          bytea REFERENCES crl_sets (sha256),
    ADD COLUMN max_channels  integer NOT NULL DEFAULT 0 CHECK (max_channels >= 0),
    ADD COLUMN max_in_flight integer NOT NULL DEFAULT 0 CHECK (max_in_flight >= 0),
    ADD COLUMN rate          double precision NOT NULL DEFAULT 0 CHECK (rate >= 0),
    ADD COLUMN burst         integer NOT NULL DEFAULT 0 CHECK (burst >= 0),
    ADD COLUMN frame_bytes   bigint NOT NULL DEFAULT 0 CHECK (frame_bytes >= 0);
