-- tlsoffload fleet registry, version 1.
-- Devices reference a policy; policies reference a trust-root bundle, stored
-- once by its SHA-256. Secrets (PSKs, client-certificate keys) are sealed
-- with AES-256-GCM under a key-encryption key the replicas hold, with the
-- device id as associated data: a dump of this database reveals none.
-- Every change bumps a row's version from registry_version and notifies
-- channel tlsoffload_registry ('d:' || device id, 'p:' || policy name).

CREATE SEQUENCE registry_version;

CREATE TABLE trust_bundles (
    sha256     bytea PRIMARY KEY CHECK (length(sha256) = 32),
    pem        text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE policies (
    name          text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 128),
    allowed_names text[] NOT NULL DEFAULT '{}',
    min_version   integer NOT NULL DEFAULT 0,
    roots         bytea REFERENCES trust_bundles (sha256),
    leaf_pins     bytea[] NOT NULL DEFAULT '{}',
    version       bigint NOT NULL DEFAULT nextval('registry_version'),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE devices (
    id                text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
    policy            text NOT NULL REFERENCES policies (name),
    psk_sealed        bytea NOT NULL,
    client_cert       bytea[],
    client_key_sealed bytea,
    revoked_at        timestamptz,
    version           bigint NOT NULL DEFAULT nextval('registry_version'),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX devices_policy ON devices (policy);

CREATE FUNCTION registry_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := nextval('registry_version');
    NEW.updated_at := now();
    RETURN NEW;
END $$;

CREATE FUNCTION registry_notify_device() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('tlsoffload_registry', 'd:' || OLD.id);
    ELSE
        PERFORM pg_notify('tlsoffload_registry', 'd:' || NEW.id);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION registry_notify_policy() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tlsoffload_registry', 'p:' || OLD.name);
    RETURN NULL;
END $$;

CREATE TRIGGER devices_bump BEFORE UPDATE ON devices
    FOR EACH ROW EXECUTE FUNCTION registry_bump();
CREATE TRIGGER policies_bump BEFORE UPDATE ON policies
    FOR EACH ROW EXECUTE FUNCTION registry_bump();
CREATE TRIGGER devices_notify AFTER INSERT OR UPDATE OR DELETE ON devices
    FOR EACH ROW EXECUTE FUNCTION registry_notify_device();
CREATE TRIGGER policies_notify AFTER UPDATE OR DELETE ON policies
    FOR EACH ROW EXECUTE FUNCTION registry_notify_policy();
