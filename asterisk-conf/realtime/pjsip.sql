-- res_pjsip and res_pjsip_phoneprov_provider on PostgreSQL through sorcery realtime
-- (sorcery.conf, extconfig.conf). The ps_* tables are the columns of Asterisk's own schema
-- (contrib/ast-db-manage, which creates them with every option as a column) that phones and
-- provisioning need; where Asterisk's schema is in place already, only ps_phoneprov is new.
-- Enumerations are plain text here.

CREATE TABLE ps_endpoints (
    id        varchar(255) NOT NULL PRIMARY KEY,
    transport varchar(40),   -- required for provisioning: a transport of pjsip.conf
    aors      varchar(2048),
    auth      varchar(255),  -- the first one gives USERNAME and SECRET
    context   varchar(40),
    disallow  varchar(200),
    allow     varchar(200),
    callerid  varchar(40)    -- "Name" <number>: DISPLAY_NAME and CALLERID
);

CREATE TABLE ps_auths (
    id        varchar(255) NOT NULL PRIMARY KEY,
    auth_type varchar(40),   -- userpass
    password  varchar(80),
    realm     varchar(255),
    username  varchar(40)
);

CREATE TABLE ps_aors (
    id                varchar(255) NOT NULL PRIMARY KEY,
    max_contacts      integer,
    remove_existing   varchar(3),
    qualify_frequency integer
);

-- The provider's `type=phoneprov` objects: every column but id becomes a variable of the
-- phone, by its exact name (hence the quoted upper-case names: MAC and PROFILE are required,
-- the others are the standard variables or any of your own). NULL columns are left out.
-- Values go through the realtime driver, which splits them at `;` (write it `^3B`).
CREATE TABLE ps_phoneprov (
    id         varchar(255) NOT NULL PRIMARY KEY,
    endpoint   varchar(255),   -- gives USERNAME, SECRET, CALLERID, DISPLAY_NAME, SERVER_PORT
    "MAC"      varchar(64) NOT NULL,
    "PROFILE"  varchar(64) NOT NULL,
    "LINE"     varchar(8),
    "LINEKEYS" varchar(8),
    "LABEL"    varchar(80),
    "TIMEZONE" varchar(64)
);
CREATE INDEX ps_phoneprov_mac ON ps_phoneprov ("MAC");
