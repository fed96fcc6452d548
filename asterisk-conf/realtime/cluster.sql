-- State the nodes of a cluster share (docs/scaling.md, "One cluster"): enrollment tokens and
-- the last fetch of each phone. psql -d asterisk -f cluster.sql, as the role res_pgsql.conf
-- names (or grant it SELECT, INSERT, UPDATE, DELETE). Map the tables in extconfig.conf and
-- name them in phoneprov.conf [general]: tokens_realtime = phoneprov_tokens,
-- audit_realtime = phoneprov_fetches.

-- One row per enrollment token. Only a SHA-1 of the token is kept (hex, the key). A node
-- serves a token's file only if its own `UPDATE ... SET used = 1 WHERE hash = ... AND
-- used = 0` changed the row, so a token works once over all nodes. Tokens expired for a
-- week are deleted when a new one is made.
CREATE TABLE phoneprov_tokens (
    hash    varchar(40) PRIMARY KEY,
    mac     varchar(80) NOT NULL,
    expires bigint NOT NULL,          -- Unix time
    used    integer NOT NULL DEFAULT 0
);

-- The last fetch of each phone, whichever node served it: one row per MAC, written by each
-- node's writer thread at most once per phone per audit_realtime_interval seconds.
CREATE TABLE phoneprov_fetches (
    mac        varchar(80) PRIMARY KEY,
    at         bigint NOT NULL,       -- Unix time of the request
    node       varchar(80) NOT NULL,  -- the node's system name (asterisk.conf systemname), else its host name
    address    varchar(64) NOT NULL,  -- the client's address
    user_agent text NOT NULL DEFAULT '',
    model      text NOT NULL DEFAULT '',   -- "Vendor Model" read from the User-Agent
    firmware   text NOT NULL DEFAULT '',
    uri        text NOT NULL DEFAULT '',   -- the file fetched
    status     integer NOT NULL
);
