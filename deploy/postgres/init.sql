-- Demo database for docker-compose.yml. The postgres image runs this once,
-- as the superuser, in $POSTGRES_DB ("demo"), when its data volume is first
-- initialised. It follows pg2kafka's least-privilege PostgreSQL setup (see
-- README.md, "PostgreSQL setup"): a capture role that may only replicate and
-- read, the watermarks table, and the publication.

-- The capture role's password comes from the container's environment
-- (FLOW_CAPTURE_PASSWORD, set from PG2KAFKA_PGPASSWORD in docker-compose.yml).
\getenv capture_password FLOW_CAPTURE_PASSWORD
\if :{?capture_password}
\else
  \set capture_password flow_capture_secret
\endif

-- Demo tables.
CREATE TABLE public.customers (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL,
    email      text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE public.orders (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES public.customers (id),
    total       numeric(10, 2) NOT NULL,
    status      text NOT NULL DEFAULT 'new',
    created_at  timestamptz NOT NULL DEFAULT now()
);

INSERT INTO public.customers (name, email) VALUES
    ('Ada Lovelace', 'ada@example.com'),
    ('Grace Hopper', 'grace@example.com');
INSERT INTO public.orders (customer_id, total, status) VALUES
    (1, 19.99, 'new'),
    (2, 250.00, 'shipped');

-- The capture role: REPLICATION and SELECT, nothing else.
CREATE USER flow_capture WITH PASSWORD :'capture_password' REPLICATION;
GRANT SELECT ON public.customers, public.orders TO flow_capture;
-- Tables created later by the postgres user are readable too.
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT SELECT ON TABLES TO flow_capture;

-- The watermarks table (source.advanced.watermarksTable).
CREATE TABLE public.flow_watermarks (slot TEXT PRIMARY KEY, watermark TEXT);
GRANT ALL PRIVILEGES ON TABLE public.flow_watermarks TO flow_capture;

-- The publication (source.advanced.publicationName). The capture role does
-- not own the tables, so it cannot add them itself: add new tables with
--   ALTER PUBLICATION flow_publication ADD TABLE public.<table>;
-- publish_via_partition_root (PostgreSQL 13+) publishes the changes of a
-- partitioned table under its root's name.
CREATE PUBLICATION flow_publication;
DO $$
BEGIN
  IF current_setting('server_version_num')::int >= 130000 THEN
    ALTER PUBLICATION flow_publication SET (publish_via_partition_root = true);
  END IF;
END
$$;
ALTER PUBLICATION flow_publication ADD TABLE public.flow_watermarks, public.customers, public.orders;
